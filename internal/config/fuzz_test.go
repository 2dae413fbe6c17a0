package config

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every failure is an
// *Error with at least one problem, and that a config Parse accepts is one
// Validate accepts.
func FuzzParse(f *testing.F) {
	f.Add(readFull(f))
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "keys: [{name: a, key: '${K:-x}', rpm: lots}]\nbreaker: {open_for: soon}\n"))
	f.Add([]byte("providers:\n  - &p {name: a, type: sim}\n  - <<: *p\n    name: b\n"))
	f.Add([]byte("a: &a [*a]\n"))
	e := env{"K": "sk-fuzz", "ADMIN_TOKEN": "t", "TEAM_A_KEY": "k", "OPENAI_API_KEY": "o"}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data, testKinds, e.lookup)
		if err != nil {
			var cfgErr *Error
			if !errors.As(err, &cfgErr) || len(cfgErr.Problems) == 0 {
				t.Fatalf("error %v (%T) is not an *Error with problems", err, err)
			}
			_ = err.Error()
			return
		}
		if c == nil {
			t.Fatal("nil config and nil error")
		}
		if ps := c.Validate(); len(ps) > 0 {
			t.Fatalf("parse accepted a config Validate rejects: %v", ps)
		}
	})
}
