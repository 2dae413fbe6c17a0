package sim

import (
	"testing"

	"go.uber.org/goleak"
)

// Every handler, stream and server must be gone when the tests end: the sim
// runs inside relais for the whole life of the process.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
