package loadbench

import (
	"fmt"
	"runtime"
	"time"
)

// Setup is how and where the benchmark ran.
type Setup struct {
	Started    time.Time `json:"started"`
	Elapsed    float64   `json:"elapsed_s"`
	Relais     string    `json:"relais"`
	Go         string    `json:"go"`
	CPUModel   string    `json:"cpu_model"`
	CPUs       int       `json:"cpus"`
	Kernel     string    `json:"kernel"`
	Pinned     bool      `json:"pinned"`
	GatewayCPU int       `json:"gateway_cpu"` // -1 when not pinned
	HarnessCPU int       `json:"harness_cpu"` // -1 when not pinned
	// GatewayCPUsAllowed is read back from a gateway child's
	// /proc/<pid>/status: proof of where it ran.
	GatewayCPUsAllowed string `json:"gateway_cpus_allowed"`
	GatewayGOMAXPROCS  int    `json:"gateway_gomaxprocs"`
	HarnessGOMAXPROCS  int    `json:"harness_gomaxprocs"`
	HarnessGC          string `json:"harness_gc"`
	HarnessOpenFiles   string `json:"harness_open_files"`
	GatewayOpenFiles   string `json:"gateway_open_files"`
	CPUTime            string `json:"cpu_time_source"`

	Rounds    int      `json:"rounds"`
	Warmup    float64  `json:"warmup_s"`
	Duration  float64  `json:"duration_s"`
	Rates     []int    `json:"rates"`
	Scenarios []string `json:"scenarios"`
	Notes     []string `json:"notes,omitempty"`
}

func newSetup(o Options) Setup {
	return Setup{
		Started:           time.Now(),
		Relais:            o.Version,
		Go:                runtime.Version(),
		CPUModel:          cpuModel(),
		CPUs:              runtime.NumCPU(),
		Kernel:            kernel(),
		GatewayCPU:        -1,
		HarnessCPU:        -1,
		GatewayGOMAXPROCS: 1,
		HarnessGOMAXPROCS: runtime.GOMAXPROCS(0),
		HarnessGC:         fmt.Sprintf("GOGC=%d, soft memory limit %d MiB", harnessGOGC, harnessMemLimit>>20),
		HarnessOpenFiles:  selfOpenFiles(),
		CPUTime:           cpuSource(),
		Rounds:            o.Rounds,
		Warmup:            o.Warmup.Seconds(),
		Duration:          o.Duration.Seconds(),
		Rates:             o.Rates,
		Scenarios:         o.Scenarios,
	}
}

// describeChild records, from the first gateway started, where it runs and
// how many files it may open.
func (r *runner) describeChild(c *child) {
	if r.setup.GatewayCPUsAllowed != "" {
		return
	}
	if cpus, err := status(c.pid, "Cpus_allowed_list"); err == nil {
		r.setup.GatewayCPUsAllowed = cpus
	}
	r.setup.GatewayOpenFiles = openFilesLimit(c.pid)
}
