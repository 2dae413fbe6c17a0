package loadbench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// cpuPair picks, from the CPUs this process may run on, one for the gateway
// and another for the harness. It reports false with fewer than two.
func cpuPair() (gateway, harness int, ok bool) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, 0, false
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64 && len(cpus) < 2; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	if len(cpus) < 2 {
		return 0, 0, false
	}
	return cpus[0], cpus[1], true
}

// pinProcess moves every thread of this process to cpu and returns a
// function that puts them back. sched_setaffinity acts on one thread, and a
// new thread inherits the affinity of the thread that creates it, so once
// every existing thread is pinned, the threads the Go runtime starts later
// are too. The loop catches threads started while it runs.
func pinProcess(cpu int) (restore func(), err error) {
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("read CPU affinity: %w", err)
	}
	set.Set(cpu)
	if err := setAllThreads(&set); err != nil {
		return nil, err
	}
	return func() { _ = setAllThreads(&old) }, nil
}

func setAllThreads(set *unix.CPUSet) error {
	done := map[int]bool{}
	for range 5 {
		tids, err := threads()
		if err != nil {
			return err
		}
		more := false
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			more = true
			done[tid] = true
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("set CPU affinity of thread %d: %w", tid, err)
			}
		}
		if !more {
			return nil
		}
	}
	return nil
}

func threads() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list threads: %w", err)
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// startOn starts cmd on cpu (any CPU when cpu < 0). A child inherits the
// affinity of the thread that forks it, so forking from a thread briefly
// pinned to cpu starts the child there before its first instruction: no
// window where its runtime threads start elsewhere, and no need for taskset.
// While the goroutine is locked to its thread, the Go runtime starts new
// threads from its template thread, so none inherits the temporary mask.
func startOn(cmd *exec.Cmd, cpu int) error {
	if cpu < 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("read CPU affinity: %w", err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("set CPU affinity: %w", err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil {
		// This thread would go on running harness work on the gateway's
		// CPU and skew every figure: fail the run instead.
		return errors.Join(err, fmt.Errorf("restore CPU affinity: %w", rerr))
	}
	return err
}
