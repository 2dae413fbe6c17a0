package limit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/limit"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newKeys(t testing.TB, keys ...config.Key) *limit.Keys {
	t.Helper()
	k, err := limit.NewKeys(keys, clock.NewFake(time.Unix(0, 0)))
	if err != nil {
		t.Fatalf("NewKeys: %v", err)
	}
	return k
}

func request(header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	// The digest of "attacker" with its last byte changed: the index finds
	// this entry for "attacker", and only the full comparison refuses it.
	near := sha256.Sum256([]byte("attacker"))
	near[len(near)-1] ^= 1
	keys := newKeys(t,
		config.Key{Name: "app", Key: "sk-app"},
		config.Key{Name: "batch", KeySHA256: sha256Hex("sk-batch")},
		config.Key{Name: "upper", KeySHA256: strings.ToUpper(sha256Hex("sk-upper"))},
		config.Key{Name: "near", KeySHA256: hex.EncodeToString(near[:])},
	)
	if keys.Open() {
		t.Fatal("Open() = true with keys configured")
	}
	tests := []struct {
		name     string
		header   []string
		wantName string // empty: refused
	}{
		{name: "bearer", header: []string{"Authorization", "Bearer sk-app"}, wantName: "app"},
		{name: "bearer scheme case-insensitive", header: []string{"Authorization", "bearer sk-app"}, wantName: "app"},
		{name: "bearer surrounding spaces", header: []string{"Authorization", "Bearer  sk-app "}, wantName: "app"},
		{name: "x-api-key", header: []string{"x-api-key", "sk-app"}, wantName: "app"},
		{name: "key_sha256", header: []string{"Authorization", "Bearer sk-batch"}, wantName: "batch"},
		{name: "key_sha256 upper-case hex", header: []string{"x-api-key", "sk-upper"}, wantName: "upper"},
		{name: "other scheme falls back to x-api-key", header: []string{"Authorization", "Basic dXNlcjpwYXNz", "x-api-key", "sk-batch"}, wantName: "batch"},
		{name: "bearer wins over x-api-key", header: []string{"Authorization", "Bearer sk-app", "x-api-key", "sk-batch"}, wantName: "app"},
		{name: "wrong key", header: []string{"Authorization", "Bearer sk-nope"}},
		{name: "key differing in case", header: []string{"Authorization", "Bearer SK-APP"}},
		{name: "digest prefix match only", header: []string{"Authorization", "Bearer attacker"}},
		{name: "the configured digest is not a key", header: []string{"x-api-key", sha256Hex("sk-batch")}},
		{name: "empty bearer", header: []string{"Authorization", "Bearer "}},
		{name: "no key", header: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ok := keys.Authenticate(request(tt.header...))
			switch {
			case tt.wantName == "" && (ok || c != nil):
				t.Errorf("Authenticate = (%v, %v), want refused", c, ok)
			case tt.wantName != "" && (!ok || c == nil || c.Name != tt.wantName):
				t.Errorf("Authenticate = (%v, %v), want client %q", c, ok, tt.wantName)
			}
		})
	}
}

func TestOpenGateway(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	if !keys.Open() {
		t.Fatal("Open() = false with no keys")
	}
	c, ok := keys.Authenticate(request())
	if !ok || c.Name != limit.AnonymousName {
		t.Fatalf("Authenticate = (%v, %v), want the anonymous client", c, ok)
	}
	if !c.Allows("any-route") {
		t.Error("anonymous client refused a route")
	}
	now := time.Unix(0, 0)
	for range 1000 {
		if d := c.Admit(now); !d.Allowed {
			t.Fatalf("anonymous client refused: %+v", d)
		}
	}
}

func TestNewKeysErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []config.Key
		want []string
	}{
		{
			name: "key and key_sha256",
			keys: []config.Key{{Name: "a", Key: "k", KeySHA256: sha256Hex("k")}},
			want: []string{"keys[0]: set key or key_sha256, not both"},
		},
		{
			name: "neither",
			keys: []config.Key{{Name: "a"}},
			want: []string{"keys[0]: key or key_sha256 is required"},
		},
		{
			name: "bad hex and short hex",
			keys: []config.Key{{Name: "a", KeySHA256: "zz"}, {Name: "b", KeySHA256: "abcd"}},
			want: []string{"keys[0]: key_sha256: want 64 hex digits", "keys[1]: key_sha256: want 64 hex digits"},
		},
		{
			name: "negative limits",
			keys: []config.Key{{Name: "a", Key: "k", RPM: -1}},
			want: []string{"keys[0]: rpm and tpm must be 0"},
		},
		{
			name: "same key twice, as key and as digest",
			keys: []config.Key{{Name: "a", Key: "k"}, {Name: "b", KeySHA256: sha256Hex("k")}},
			want: []string{`keys[1]: same key as keys[0] ("a")`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := limit.NewKeys(tt.keys, clock.NewFake(time.Unix(0, 0)))
			if err == nil {
				t.Fatalf("NewKeys = %v, want an error", k)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewKeysDoesNotKeepTheKey(t *testing.T) {
	t.Parallel()
	keys := newKeys(t, config.Key{Name: "app", Key: "sk-very-secret"})
	c, _ := keys.Authenticate(request("x-api-key", "sk-very-secret"))
	for _, v := range []any{keys, c} {
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, "sk-very-secret") {
				t.Errorf("Sprintf(%q) shows the key: %s", verb, s)
			}
		}
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	keys := newKeys(t,
		config.Key{Name: "all", Key: "k-all"},
		config.Key{Name: "some", Key: "k-some", Routes: []string{"chat", "embed"}},
	)
	all, _ := keys.Authenticate(request("x-api-key", "k-all"))
	some, _ := keys.Authenticate(request("x-api-key", "k-some"))
	tests := []struct {
		client *limit.Client
		route  string
		want   bool
	}{
		{all, "chat", true},
		{all, "anything", true},
		{some, "chat", true},
		{some, "embed", true},
		{some, "reasoning", false},
		{some, "Chat", false},
	}
	for _, tt := range tests {
		t.Run(tt.client.Name+"/"+tt.route, func(t *testing.T) {
			t.Parallel()
			if got := tt.client.Allows(tt.route); got != tt.want {
				t.Errorf("Allows(%q) = %v, want %v", tt.route, got, tt.want)
			}
		})
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	cfg := make([]config.Key, 100)
	for i := range cfg {
		cfg[i] = config.Key{Name: fmt.Sprintf("key-%d", i), Key: config.Secret(fmt.Sprintf("sk-relais-%040d", i))}
	}
	keys := newKeys(b, cfg...)
	for _, bc := range []struct {
		name   string
		header []string
	}{
		{name: "bearer", header: []string{"Authorization", "Bearer sk-relais-" + fmt.Sprintf("%040d", 42)}},
		{name: "x-api-key", header: []string{"x-api-key", "sk-relais-" + fmt.Sprintf("%040d", 42)}},
		{name: "unknown", header: []string{"Authorization", "Bearer sk-relais-unknown-key-of-the-same-length-x"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := request(bc.header...)
			b.ReportAllocs()
			for b.Loop() {
				keys.Authenticate(r)
			}
		})
	}
}

func TestKeysInheritKeepsBudgetAcrossReload(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	cfg := []config.Key{{Name: "app", Key: "sk-app", RPM: 2}, {Name: "other", Key: "sk-other", RPM: 2}}
	prev, err := limit.NewKeys(cfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := prev.Authenticate(request("Authorization", "Bearer sk-app"))
	c.Admit(clk.Now())
	c.Admit(clk.Now())

	clk.Advance(time.Second)
	cfg[1].RPM = 5 // a changed limit starts afresh
	next, err := limit.NewKeys(cfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	next.Inherit(prev)
	c, _ = next.Authenticate(request("Authorization", "Bearer sk-app"))
	if d := c.Admit(clk.Now()); d.Allowed {
		t.Fatal("a reload reset the key's spent budget")
	}
	o, _ := next.Authenticate(request("Authorization", "Bearer sk-other"))
	if d := o.Admit(clk.Now()); !d.Allowed || d.Requests.Limit != 5 {
		t.Fatalf("other key: %+v, want allowed with the new limit 5", d)
	}
}
