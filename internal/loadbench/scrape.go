package loadbench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// scrape reads one unlabelled series from the Prometheus text at
// http://admin/metrics.
func (r *runner) scrape(ctx context.Context, admin, name string) (float64, error) {
	vs, err := r.scrapeAll(ctx, admin, name)
	return vs[0], err
}

// scrapeAll reads unlabelled series from one scrape of
// http://admin/metrics, in the order named.
func (r *runner) scrapeAll(ctx context.Context, admin string, names ...string) ([]float64, error) {
	vs := make([]float64, len(names))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return vs, err
	}
	resp, err := r.probe.Do(req)
	if err != nil {
		return vs, fmt.Errorf("scrape %s: %w", admin, err)
	}
	defer resp.Body.Close()
	found := 0
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		name, v, ok := strings.Cut(s.Text(), " ")
		if i := slices.Index(names, name); ok && i >= 0 {
			if vs[i], err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				return vs, fmt.Errorf("scrape %s: %w", name, err)
			}
			found++
		}
	}
	if err := s.Err(); err != nil {
		return vs, fmt.Errorf("scrape %s: %w", admin, err)
	}
	if found < len(names) {
		return vs, fmt.Errorf("scrape: not all of %s in http://%s/metrics", strings.Join(names, ", "), admin)
	}
	return vs, nil
}
