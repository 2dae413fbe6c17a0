package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider/registry"
)

func reloadCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Ask a running relais to re-read its config (validated first; refused configs leave the running one in place)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path, registry.Specs())
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: invalid config, not reloading\n%v\n", path, err)
				return exitError{code: 1}
			}
			return postReload(cmd.Context(), adminURL(cfg.Admin), cfg.Admin.Token.Value(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "relais.yaml", "config file of the running server")
	return cmd
}

// adminURL is where the CLI reaches the admin API.
func adminURL(a config.Admin) string {
	if a.URL != "" {
		return strings.TrimRight(a.URL, "/")
	}
	host, port, err := net.SplitHostPort(a.Listen)
	if err != nil {
		return "http://" + a.Listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func postReload(ctx context.Context, base, token string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/api/reload", http.NoBody)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reach the admin API at %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("reload refused: %s", e.Error.Message)
		}
		return fmt.Errorf("reload refused: HTTP %d", resp.StatusCode)
	}
	fmt.Fprintln(out, "reloaded")
	return nil
}
