package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/relais/relais/internal/loadbench"
)

func TestBenchFlags(t *testing.T) {
	t.Parallel()
	quick := loadbench.QuickOptions()
	quick.Rounds = 2
	quick.Pin = false
	full := loadbench.DefaultOptions()
	full.Rates = []int{200, 400}
	full.Scenarios = []string{"fixed", "soak"}
	full.SoakDuration = time.Minute
	full.ScaleStreams = 100
	tests := []struct {
		name string
		args []string
		want loadbench.Options
	}{
		{"defaults", nil, loadbench.DefaultOptions()},
		{"quick keeps the flags given", []string{"--quick", "--rounds", "2", "--pin=false"}, quick},
		{"overrides", []string{"--rates", "200,400", "--scenarios", "fixed,soak", "--soak-duration", "1m", "--streams", "100"}, full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &benchFlags{}
			cmd := &cobra.Command{}
			f.register(cmd)
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			if got := f.options(cmd); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
