// Command relais is an AI gateway that keeps AI features up when providers
// fail. This file only parses flags and hands over to internal/app.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

// exitError carries an exit code without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	root := &cobra.Command{
		Use:           "relais",
		Short:         "An AI gateway that fails over across providers and tells people when AI breaks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), demoCmd(), checkCmd(), reloadCmd(), versionCmd())
	root.AddCommand(benchCmd())
	if err := root.ExecuteContext(context.Background()); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "relais:", err)
		os.Exit(1)
	}
}
