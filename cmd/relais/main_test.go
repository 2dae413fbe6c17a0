package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is relais built once for the tests that run it as a user would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relais-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "relais")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("build relais: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "relais.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckExitCodes(t *testing.T) {
	t.Parallel()
	good := writeConfig(t, `
listen: 127.0.0.1:8080
providers:
  - { name: local, type: sim }
routes:
  - { model: chat, targets: [ { provider: local, model: m } ] }
`)
	bad := writeConfig(t, `
listen: 127.0.0.1:8080
providers:
  - { name: local, type: sim, latncy: 1s }
routes:
  - { model: chat, targets: [ { provider: lokal, model: m } ] }
`)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"valid", []string{"check", "--config", good}, 0, []string{"ok (1 providers, 1 routes, 0 keys)"}},
		{"invalid", []string{"check", "--config", bad}, 1, []string{
			`providers[0].latncy: unknown field (did you mean "latency"?) (line 4)`,
			`routes[0].targets[0].provider: unknown provider "lokal" (did you mean "local"?) (line 6)`,
		}},
		{"shipped example", []string{"check", "--config", "../../examples/relais.yaml"}, 0, []string{"ok (5 providers, 2 routes, 2 keys)"}},
		{"missing file", []string{"check", "--config", filepath.Join(t.TempDir(), "nope.yaml")}, 1, []string{"nope.yaml"}},
		{"version", []string{"version"}, 0, []string{"relais "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(binary, tt.args...).CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tt.code, out)
			}
			for _, want := range tt.contains {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestDemoConfigChecks: the demo's config, printed as an example for users, passes check.
func TestDemoConfigChecks(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "demo", "--print-config").Output()
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, string(out))
	if out, err := exec.Command(binary, "check", "--config", path).CombinedOutput(); err != nil {
		t.Fatalf("relais check on the demo config: %v\n%s", err, out)
	}
}

// server is a running `relais serve` and the addresses it logged.
type server struct {
	cmd          *exec.Cmd
	gateway, adm string
	logs         chan string
}

func startServe(t *testing.T, configPath string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", configPath)
	cmd.Dir = t.TempDir() // the default data_dir, ./data, lands there
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &server{cmd: cmd, logs: make(chan string, 1024)}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg     string `json:"msg"`
				Gateway string `json:"gateway"`
				Admin   string `json:"admin"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "relais started" {
				s.gateway, s.adm = line.Gateway, line.Admin
				close(started)
			}
			select {
			case s.logs <- sc.Text():
			default:
			}
		}
		close(s.logs)
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("relais did not log that it started")
	}
	return s
}

const slowStreamConfig = `
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
shutdown_timeout: 20s
providers:
  - { name: slow, type: sim, ttft: 50ms, tokens_per_second: 10 }
routes:
  - { model: chat, targets: [ { provider: slow, model: sim-chat } ] }
`

// TestSIGTERMDrainsStreams: a stream in flight when SIGTERM arrives runs to
// its end, new connections are refused, and the process exits 0.
func TestSIGTERMDrainsStreams(t *testing.T) {
	t.Parallel()
	s := startServe(t, writeConfig(t, slowStreamConfig))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := `{"model":"chat","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"Tell me a long story"}]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.gateway+"/v1/chat/completions", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("first event: %v", err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("stream broken by SIGTERM: %v", err)
	}
	if !strings.Contains(string(rest), "data: [DONE]") || strings.Contains(string(rest), `"error"`) {
		t.Fatalf("stream did not finish cleanly after SIGTERM:\n%s", rest)
	}
	if n := strings.Count(string(rest), `"content":`); n < 10 {
		t.Errorf("only %d content events after SIGTERM; the stream was cut short", n)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("relais exited with %v after draining, want exit 0", err)
	}
}

// TestSIGHUPReloads: a valid edit is picked up on SIGHUP; an invalid one is
// refused and the running config keeps serving.
func TestSIGHUPReloads(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, slowStreamConfig)
	s := startServe(t, path)
	status := func(model string) int {
		t.Helper()
		resp, err := http.Post("http://"+s.gateway+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("chat2"); got != http.StatusNotFound {
		t.Fatalf("chat2 before reload: %d, want 404", got)
	}
	reload := func(cfg string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	reload(slowStreamConfig + "  - { model: chat2, targets: [ { provider: slow, model: sim-chat } ] }\n")
	waitFor(t, func() bool { return status("chat2") == http.StatusOK })

	reload(slowStreamConfig + "  - { model: chat3, targets: [ { provider: nowhere, model: x } ] }\n")
	waitLog(t, s, "config reload refused")
	if got := status("chat2"); got != http.StatusOK {
		t.Fatalf("after a refused reload chat2 answers %d, want the running config to stay", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitLog(t *testing.T, s *server, substr string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-s.logs:
			if !ok {
				t.Fatalf("relais exited before logging %q", substr)
			}
			if strings.Contains(line, substr) {
				return
			}
		case <-timeout:
			t.Fatalf("no log line with %q within 10s", substr)
		}
	}
}

// TestReloadCommand: `relais reload` validates the file, then asks the
// running server (found from admin.listen) to reload it.
func TestReloadCommand(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := ln.Addr().String()
	ln.Close()
	base := strings.Replace(slowStreamConfig, "admin: { listen: 127.0.0.1:0 }", "admin: { listen: "+adminAddr+", token: s3cret }", 1)
	path := writeConfig(t, base)
	s := startServe(t, path)

	if err := os.WriteFile(path, []byte(base+"  - { model: chat2, targets: [ { provider: slow, model: sim-chat } ] }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(binary, "reload", "--config", path).CombinedOutput(); err != nil || !strings.Contains(string(out), "reloaded") {
		t.Fatalf("relais reload: %v\n%s", err, out)
	}
	resp, err := http.Post("http://"+s.gateway+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"chat2","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chat2 after relais reload: %d", resp.StatusCode)
	}

	if err := os.WriteFile(path, []byte(base+"  - { model: chat3, targets: [ { provider: nowhere, model: x } ] }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "reload", "--config", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown provider "nowhere"`) {
		t.Fatalf("reload of an invalid config: %v\n%s", err, out)
	}
}
