package loadbench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: sysconf(CLK_TCK),
// fixed at 100 on Linux whatever the kernel's own tick.
const userHZ = 100

// cpuSource says where cpuTime reads from: the scheduler's nanosecond
// counters when the kernel has them, else the 10 ms ticks of /proc/<pid>/stat.
func cpuSource() string {
	if _, err := os.Stat("/proc/self/schedstat"); err == nil {
		return "schedstat (ns, summed over the process's threads)"
	}
	return "/proc/<pid>/stat utime+stime (10 ms ticks)"
}

// cpuTime is the CPU time, user and system, that process pid has used.
func cpuTime(pid int) (time.Duration, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/schedstat", pid)); err != nil {
		return statTicks(pid)
	}
	return schedstat(pid)
}

// schedstat sums the first field of every thread's schedstat (time on CPU,
// in ns). /proc/<pid>/schedstat alone would count the main thread only.
func schedstat(pid int) (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("cpu time of %d: %w", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // the thread ended since ReadDir
		}
		if err != nil {
			return 0, fmt.Errorf("cpu time of %d: %w", pid, err)
		}
		first, _, _ := bytes.Cut(b, []byte(" "))
		ns, err := strconv.ParseInt(string(first), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time of %d: schedstat %q: %w", pid, b, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

func statTicks(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time of %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu time of %d: unexpected stat %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu time of %d: unexpected stat %q", pid, b)
	}
	// utime and stime are fields 14 and 15 of stat; f starts at field 3.
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time of %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// status returns one field of /proc/<pid>/status, such as "VmHWM" or
// "Cpus_allowed_list", without its unit.
func status(pid int, field string) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB"), nil
		}
	}
	return "", fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// memory returns a size field of /proc/<pid>/status (VmRSS, VmHWM) in bytes.
func memory(pid int, field string) (int64, error) {
	v, err := status(pid, field)
	if err != nil {
		return 0, err
	}
	kb, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
	}
	return kb << 10, nil
}

// resetPeak sets the process's peak RSS (VmHWM) back to its current RSS, so
// the next reading is the peak of one measurement.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// openFilesLimit is the soft and hard RLIMIT_NOFILE of a process, as
// /proc/<pid>/limits prints them.
func openFilesLimit(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(v); len(f) >= 2 {
				return f[0] + " soft / " + f[1] + " hard"
			}
		}
	}
	return "unknown"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
