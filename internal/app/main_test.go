package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every relais, fake provider, SDK client and stream of these tests must be
// gone when they end: relais stops its parts in order, and a goroutine left
// behind here is one that would outlive a reload or a shutdown in production.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
