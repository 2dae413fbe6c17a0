package rollup_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Run's goroutine and its ticker must be gone when it returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
