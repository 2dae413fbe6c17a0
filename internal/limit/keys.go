package limit

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
)

// AnonymousName is the Client name on an open gateway (no keys configured).
const AnonymousName = "anonymous"

// Keys authenticates client keys. It holds only their SHA-256 digests.
type Keys struct {
	// byPrefix indexes clients by the first 8 bytes of their digest. The map
	// only finds the candidate; the full digest is then compared in constant
	// time, so no map-internal comparison of secret-derived bytes decides a match.
	byPrefix  map[uint64]*Client
	anonymous *Client // non-nil when no keys are configured
}

// NewKeys builds the keys from config. Each entry gives either Key or the hex
// KeySHA256; the key itself is hashed here and not kept. clk fixes the epoch
// the rate limits count from. Every problem is reported, with its YAML path.
func NewKeys(keys []config.Key, clk clock.Clock) (*Keys, error) {
	epoch := clk.Now()
	if len(keys) == 0 {
		return &Keys{anonymous: newClient(AnonymousName, [sha256.Size]byte{}, 0, 0, nil, epoch)}, nil
	}
	k := &Keys{byPrefix: make(map[uint64]*Client, len(keys))}
	owner := make(map[uint64]int, len(keys)) // prefix → index, for error messages
	var errs []error
	for i, kc := range keys {
		path := fmt.Sprintf("keys[%d]", i)
		digest, err := digestOf(kc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if kc.RPM < 0 || kc.TPM < 0 {
			errs = append(errs, fmt.Errorf("%s: rpm and tpm must be 0 (unlimited) or more", path))
			continue
		}
		p := prefix(&digest)
		if j, dup := owner[p]; dup {
			// Distinct digests sharing 8 bytes cannot happen by chance; they
			// would take a crafted key_sha256, and the index needs them unique.
			errs = append(errs, fmt.Errorf("%s: same key as keys[%d] (%q)", path, j, keys[j].Name))
			continue
		}
		owner[p] = i
		k.byPrefix[p] = newClient(kc.Name, digest, kc.RPM, kc.TPM, kc.Routes, epoch)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return k, nil
}

func digestOf(kc config.Key) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	switch {
	case kc.Key != "" && kc.KeySHA256 != "":
		return d, errors.New("set key or key_sha256, not both")
	case kc.Key != "":
		return sha256.Sum256([]byte(kc.Key.Value())), nil
	case kc.KeySHA256 != "":
		b, err := hex.DecodeString(kc.KeySHA256)
		if err != nil || len(b) != sha256.Size {
			return d, errors.New("key_sha256: want 64 hex digits (the SHA-256 of the key)")
		}
		copy(d[:], b)
		return d, nil
	default:
		return d, errors.New("key or key_sha256 is required")
	}
}

func prefix(d *[sha256.Size]byte) uint64 { return binary.LittleEndian.Uint64(d[:8]) }

// Open reports whether no keys are configured: every request is then the
// anonymous client, with no limits.
func (k *Keys) Open() bool { return k.anonymous != nil }

// Authenticate finds the client of the key in "Authorization: Bearer <key>"
// (OpenAI clients) or else "x-api-key: <key>" (Anthropic clients). It reports
// false for a missing or unknown key.
func (k *Keys) Authenticate(r *http.Request) (*Client, bool) {
	if k.anonymous != nil {
		return k.anonymous, true
	}
	key := presentedKey(r.Header)
	if key == "" {
		return nil, false
	}
	// []byte(key) would allocate for keys over 32 bytes; a stack buffer
	// covers any realistic key (append moves longer ones to the heap).
	var buf [256]byte
	digest := sha256.Sum256(append(buf[:0], key...))
	c := k.byPrefix[prefix(&digest)]
	if c == nil || subtle.ConstantTimeCompare(digest[:], c.digest[:]) != 1 {
		return nil, false
	}
	return c, true
}

func presentedKey(h http.Header) string {
	const bearer = "Bearer "
	// The scheme is case-insensitive (RFC 9110); another scheme, say Basic
	// from a proxy, falls through to x-api-key.
	if auth := h.Get("Authorization"); len(auth) > len(bearer) && strings.EqualFold(auth[:len(bearer)], bearer) {
		return strings.TrimSpace(auth[len(bearer):])
	}
	return strings.TrimSpace(h.Get("X-Api-Key"))
}

// Inherit carries the limit state of prev's clients over to the clients of k
// with the same name, key and limits, so a config reload neither resets a
// key's budget nor punishes it twice. Call it before k serves requests.
func (k *Keys) Inherit(prev *Keys) {
	if prev == nil {
		return
	}
	old := make(map[string]*Client, len(prev.byPrefix)+1)
	for _, c := range prev.all() {
		old[c.Name] = c
	}
	for _, c := range k.all() {
		p, ok := old[c.Name]
		if !ok || p.digest != c.digest {
			continue
		}
		c.epoch = p.epoch
		if p.rpm.limit == c.rpm.limit {
			c.rpm.tat.Store(p.rpm.tat.Load())
		}
		if p.tpm.limit == c.tpm.limit {
			c.tpm.tat.Store(p.tpm.tat.Load())
		}
	}
}

func (k *Keys) all() []*Client {
	if k.anonymous != nil {
		return []*Client{k.anonymous}
	}
	out := make([]*Client, 0, len(k.byPrefix))
	for _, c := range k.byPrefix {
		out = append(out, c)
	}
	return out
}
