// Package registry maps a provider's config `type:` to its kind: the struct
// that holds its options and the constructor. Adding a kind is one line here.
package registry

import (
	"fmt"
	"sort"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/provider/anthropic"
	"github.com/relais/relais/internal/provider/azure"
	"github.com/relais/relais/internal/provider/openai"
	"github.com/relais/relais/internal/provider/sim"
)

// Kind is one provider type.
type Kind struct {
	NewSpec func() config.ProviderSpec
	New     func(opts provider.Options, spec config.ProviderSpec) (provider.Provider, error)
}

var kinds = map[string]Kind{
	"anthropic": {
		NewSpec: func() config.ProviderSpec { return new(anthropic.Spec) },
		New: func(o provider.Options, s config.ProviderSpec) (provider.Provider, error) {
			return anthropic.New(o, s.(*anthropic.Spec))
		},
	},
	"azure_openai": {
		NewSpec: func() config.ProviderSpec { return new(azure.Spec) },
		New: func(o provider.Options, s config.ProviderSpec) (provider.Provider, error) {
			return azure.New(o, s.(*azure.Spec))
		},
	},
	"openai": {
		NewSpec: func() config.ProviderSpec { return new(openai.Spec) },
		New: func(o provider.Options, s config.ProviderSpec) (provider.Provider, error) {
			return openai.New(o, s.(*openai.Spec))
		},
	},
	"sim": {
		NewSpec: func() config.ProviderSpec { return new(sim.Spec) },
		New: func(o provider.Options, s config.ProviderSpec) (provider.Provider, error) {
			return sim.New(o, s.(*sim.Spec))
		},
	},
}

// Specs returns, per type, a constructor of the struct its options decode into,
// for config.Load.
func Specs() map[string]func() config.ProviderSpec {
	m := make(map[string]func() config.ProviderSpec, len(kinds))
	for t, k := range kinds {
		m[t] = k.NewSpec
	}
	return m
}

// Types lists the known types, sorted.
func Types() []string {
	ts := make([]string, 0, len(kinds))
	for t := range kinds {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// New builds the provider a config entry describes.
func New(p config.Provider, connect config.Duration) (provider.Provider, error) {
	k, ok := kinds[p.Type]
	if !ok {
		return nil, fmt.Errorf("provider %s: unknown type %q", p.Name, p.Type)
	}
	pr, err := k.New(provider.Options{Name: p.Name, ConnectTimeout: connect.D()}, p.Spec)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	return pr, nil
}
