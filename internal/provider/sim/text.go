package sim

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// words is the vocabulary of the simulated text: plausible enough to read in
// a demo, obviously not a model's answer.
var words = [...]string{
	"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
	"sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore",
	"magna", "aliqua", "enim", "ad", "minim", "veniam", "quis", "nostrud",
	"exercitation", "ullamco", "laboris", "nisi", "aliquip", "ex", "ea", "commodo",
	"consequat", "duis", "aute", "irure", "in", "reprehenderit", "voluptate",
	"velit", "esse", "cillum", "fugiat", "nulla", "pariatur", "excepteur", "sint",
	"occaecat", "cupidatat", "non", "proident", "sunt", "culpa", "qui", "officia",
	"deserunt", "mollit", "anim", "id", "est", "laborum",
}

// rng returns a generator determined by the seed and the input alone.
func rng(seed int64, input string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(input))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

// completion returns the simulated answer to prompt as tokens: two to four
// sentences, one word per token, each token but the first with its leading
// space so that the tokens concatenate into the text.
func completion(seed int64, prompt string) []string {
	r := rng(seed, prompt)
	var toks []string
	for range 2 + r.IntN(3) {
		n := 5 + r.IntN(8)
		for i := range n {
			w := words[r.IntN(len(words))]
			if i == 0 {
				first, size := utf8.DecodeRuneInString(w)
				w = string(unicode.ToUpper(first)) + w[size:]
			}
			if i == n-1 {
				w += "."
			}
			if len(toks) > 0 {
				w = " " + w
			}
			toks = append(toks, w)
		}
	}
	return toks
}

// embedding returns a unit vector of dim components determined by the seed
// and the input.
func embedding(seed int64, input string, dim int) []float32 {
	r := rng(seed, input)
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

// base64Vector encodes v the way OpenAI does for encoding_format "base64":
// little-endian float32s.
func base64Vector(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// countTokens estimates tokens the usual way: about four bytes each.
func countTokens(s string) int {
	if s == "" {
		return 0
	}
	return (len(s) + 3) / 4
}

// joinTokens concatenates tokens into the text they form.
func joinTokens(toks []string) string { return strings.Join(toks, "") }
