package store

import (
	"testing"

	"go.uber.org/goleak"
)

// Every pool, connection and retention loop must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
