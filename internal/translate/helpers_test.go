package translate

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>.golden, or rewrites it under
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// inputs returns the sample files of a testdata folder.
func inputs(t *testing.T, dir, ext string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in testdata/%s: %v", dir, err)
	}
	return files
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// caseName is a sample file's name without folder and extension.
func caseName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// pretty indents JSON for golden files; it fails the test on invalid JSON.
func pretty(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, b)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// resultText renders a translation result for a golden file.
func resultText(t *testing.T, b []byte, err error) []byte {
	t.Helper()
	if err != nil {
		if e, ok := err.(*Error); ok {
			return fmt.Appendf(nil, "*Error %d: %s\n", e.Status, e.Message)
		}
		return fmt.Appendf(nil, "error: %v\n", err)
	}
	return pretty(t, b)
}

// parseSSE splits an SSE body into events as the gateway's reader does:
// `event:` names the event, `data:` lines join with "\n", a blank line
// dispatches, comments are skipped.
func parseSSE(body []byte) []Event {
	var evs []Event
	var cur Event
	var data [][]byte
	hasData := false
	for _, line := range bytes.Split(body, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(line) == 0:
			if hasData {
				cur.Data = bytes.Join(data, []byte("\n"))
				evs = append(evs, cur)
			}
			cur, data, hasData = Event{}, nil, false
		case line[0] == ':':
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				cur.Name = string(value)
			case "data":
				data = append(data, value)
				hasData = true
			}
		}
	}
	if hasData {
		cur.Data = bytes.Join(data, []byte("\n"))
		evs = append(evs, cur)
	}
	return evs
}

// checkFrames fails unless out is whole SSE frames whose data is JSON (or
// [DONE]) and, for Anthropic, whose event name matches the data's type.
func checkFrames(t testing.TB, out []byte, anthropic bool) {
	t.Helper()
	if len(out) == 0 {
		return
	}
	if !bytes.HasSuffix(out, []byte("\n\n")) {
		t.Fatalf("output does not end a frame: %q", out)
	}
	for _, ev := range parseSSE(out) {
		if string(ev.Data) == "[DONE]" && !anthropic {
			continue
		}
		if !json.Valid(ev.Data) {
			t.Fatalf("frame data is not JSON: %q", ev.Data)
		}
		if anthropic {
			var v struct{ Type string }
			_ = json.Unmarshal(ev.Data, &v)
			if ev.Name == "" || ev.Name != v.Type {
				t.Fatalf("event name %q does not match type %q", ev.Name, v.Type)
			}
		}
	}
}
