package loadbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// relaisBinary is relais built once: the gateways under test run from it.
var relaisBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relais-loadbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	relaisBinary = filepath.Join(dir, "relais")
	if out, err := exec.CommandContext(context.Background(), "go", "build", "-o", relaisBinary, "../../cmd/relais").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build relais: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
