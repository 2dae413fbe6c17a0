package loadbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profile saves relais's pprof profile at /debug/pprof/<query> as file in
// o.ProfileDir. It does nothing for other paths or without a ProfileDir.
func (r *runner) profile(ctx context.Context, ep *endpoint, query, file string) error {
	if r.o.ProfileDir == "" || ep.path != PathRelais || ep.child == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ep.child.admin+"/debug/pprof/"+query, nil)
	if err != nil {
		return err
	}
	resp, err := r.probe.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", query, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: HTTP %d", query, resp.StatusCode)
	}
	if err := os.MkdirAll(r.o.ProfileDir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(r.o.ProfileDir, file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpuProfile records relais's CPU while a max-throughput measurement runs
// (after its warm-up); a failure only costs the profile.
func (r *runner) cpuProfile(ctx context.Context, ep *endpoint) {
	select {
	case <-time.After(r.o.Warmup):
	case <-ctx.Done():
		return
	}
	secs := max(int((r.o.Duration-time.Second)/time.Second), 1)
	if err := r.profile(ctx, ep, fmt.Sprintf("profile?seconds=%d", secs), "relais-max-cpu.pprof"); err != nil {
		r.logf("cpu profile: %v", err)
	}
}
