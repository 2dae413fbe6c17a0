package loadbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// startTimeout bounds how long a gateway may take to listen.
	startTimeout = 15 * time.Second
	// stopGrace is how long a gateway may drain after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// tailLines of a child's log are kept to explain its failures.
	tailLines = 40
)

// child is a gateway process: relais or the baseline.
type child struct {
	name           string
	pid            int
	gateway, admin string // bound host:port of its two listeners
	cancel         context.CancelFunc
	done           chan struct{} // closed once the process has exited
	err            error         // its exit, valid after done
	tail           *tail
}

// startedLine is the log line both gateways print once listening: relais's
// "relais started" and the baseline's "baseline started", with the bound
// addresses (they listen on port 0).
type startedLine struct {
	Msg     string `json:"msg"`
	Gateway string `json:"gateway"`
	Admin   string `json:"admin"`
}

// startChild runs binary with args on cpu (any CPU when cpu < 0) with
// GOMAXPROCS=1 and waits until it reports its listeners. The child is
// stopped with SIGTERM, then SIGKILL, when ctx ends or stop is called, and
// gets SIGKILL if the harness dies first.
func startChild(ctx context.Context, name, binary string, args []string, cpu int) (*child, error) {
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, binary, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	// Its own process group: a Ctrl-C in the terminal reaches the harness
	// only, which stops its children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := startOn(cmd, cpu); err != nil {
		cancel()
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, pid: cmd.Process.Pid, cancel: cancel, done: make(chan struct{}), tail: &tail{}}
	started := make(chan startedLine, 1)
	go func() {
		c.readLog(stderr, started)
		c.err = cmd.Wait()
		close(c.done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case s := <-started:
		c.gateway, c.admin = s.Gateway, s.Admin
		return c, nil
	case <-c.done:
		cancel()
		return nil, fmt.Errorf("%s exited before listening: %w; its last lines:\n%s", name, c.exit(), c.tail)
	case <-timer.C:
		c.stop()
		return nil, fmt.Errorf("%s did not listen within %s; its last lines:\n%s", name, startTimeout, c.tail)
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// readLog reads the child's log until it closes: it finds the started line,
// keeps the last lines for error messages, and drops the rest (relais writes
// one access-log line per request: a file of them would fill the disk).
func (c *child) readLog(r io.Reader, started chan<- startedLine) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for s.Scan() {
		line := s.Bytes()
		c.tail.add(line)
		if found {
			continue
		}
		var sl startedLine
		if json.Unmarshal(line, &sl) == nil && strings.HasSuffix(sl.Msg, " started") && sl.Gateway != "" {
			found = true
			started <- sl
		}
	}
	// A line longer than the buffer stops the scanner; keep the pipe drained
	// so the child never blocks on its log.
	_, _ = io.Copy(io.Discard, r)
}

// alive reports an error if the child has exited.
func (c *child) alive() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited during the measurement: %w; its last lines:\n%s", c.name, c.exit(), c.tail)
	default:
		return nil
	}
}

// exit is how the child ended, once done is closed: a gateway that ends
// by itself has failed, even with status 0.
func (c *child) exit() error {
	if c.err == nil {
		return errors.New("exit status 0")
	}
	return c.err
}

// stop sends SIGTERM and waits for the exit; after stopGrace, SIGKILL.
func (c *child) stop() {
	c.cancel()
	<-c.done
}

// tail keeps the last lines of a log in a ring whose buffers are reused:
// it sees every access-log line, on the harness's CPU.
type tail struct {
	mu    sync.Mutex
	lines [tailLines][]byte
	next  int
	full  bool
}

func (t *tail) add(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines[t.next] = append(t.lines[t.next][:0], line...)
	t.next = (t.next + 1) % tailLines
	t.full = t.full || t.next == 0
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	first := 0
	if t.full {
		first = t.next
	}
	for i := range tailLines {
		j := (first + i) % tailLines
		if !t.full && j >= t.next {
			break
		}
		b.Write(t.lines[j])
		b.WriteByte('\n')
	}
	return b.String()
}
