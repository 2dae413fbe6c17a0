package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a config that cannot be used. It carries every problem found, so
// that a user can fix them all in one pass.
type Error struct {
	Problems []Problem
}

// Error prints every problem, one per line, sorted by line then path.
func (e *Error) Error() string {
	ps := slices.Clone(e.Problems)
	sortProblems(ps)
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads and parses the config file at path; see Parse.
func Load(path string, kinds map[string]func() ProviderSpec) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, kinds)
}

// Parse turns a relais.yaml into a Config with defaults applied, or returns an
// *Error listing every problem. kinds maps a provider `type:` to a constructor
// of the struct its options decode into.
//
// ${NAME} references are expanded from the process environment; see expandEnv
// for the exact rules.
func Parse(data []byte, kinds map[string]func() ProviderSpec) (*Config, error) {
	return parse(data, kinds, os.LookupEnv)
}

// parse is Parse with the environment passed in, so tests can run in
// parallel without touching the process environment.
func parse(data []byte, kinds map[string]func() ProviderSpec, lookup func(string) (string, bool)) (*Config, error) {
	root, syntax := parseYAML(data)
	if syntax != nil {
		return nil, &Error{Problems: []Problem{*syntax}}
	}
	r := newReport()
	c := new(Config)
	// Defaults go in before decoding rather than after, so that a value the
	// file sets, even 0 (queue: 0, weight: 0), is kept instead of replaced.
	Defaults(c)
	if root != nil {
		expandEnv(root, "", lookup, r)
		newDecoder(kinds, r, root).decode(root, reflect.ValueOf(c).Elem(), "")
	}
	// A problem at the root (not a mapping, or too many aliases) means the
	// file was not read; checking the defaults left would only add noise.
	if r.explained[""] {
		return nil, &Error{Problems: r.problems}
	}
	for _, p := range c.Validate() {
		// A path already explained by a decode or environment problem (a type
		// error, a misspelt key, an unset variable) would only repeat it as
		// "is required".
		if r.explained[p.Path] {
			continue
		}
		if p.Line == 0 {
			p.Line = r.lineOf(p.Path)
		}
		r.problems = append(r.problems, p)
	}
	if len(r.problems) > 0 {
		sortProblems(r.problems)
		return nil, &Error{Problems: r.problems}
	}
	return c, nil
}

// report collects what the stages of one parse find.
type report struct {
	problems []Problem
	// explained holds the paths where a problem was already reported, so
	// Validate's problems at the same path are dropped as noise.
	explained map[string]bool
	// fromEnv marks scalars whose value came from the environment: their
	// value is never echoed in a message, as it may be a credential.
	fromEnv map[*yaml.Node]bool
	// lines maps YAML paths to lines, to place Validate's problems.
	lines map[string]int
}

func newReport() *report {
	return &report{explained: map[string]bool{}, fromEnv: map[*yaml.Node]bool{}, lines: map[string]int{}}
}

func (r *report) add(path string, line int, msg string) {
	r.problems = append(r.problems, Problem{Path: path, Line: line, Message: msg})
	r.explained[path] = true
}

// lineOf returns the line of path, or of its nearest ancestor in the file: a
// missing required key is best shown at the entry that lacks it.
func (r *report) lineOf(path string) int {
	for path != "" {
		if l, ok := r.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML returns the root node of the single document in data, nil for an
// empty document, or the syntax problem.
func parseYAML(data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, syntaxProblem(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxProblem(err)
		}
		return nil, &Problem{Line: next.Line, Message: "the file holds more than one YAML document (remove the \"---\" separator)"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func syntaxProblem(err error) *Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Problem{Line: line, Message: "invalid YAML: " + m[2]}
	}
	return &Problem{Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), strings.Compare(a.Path, b.Path))
	})
}

// join builds the YAML path of a mapping key below parent. Keys that could be
// misread in a dotted path (dots, spaces, brackets) are quoted.
func join(parent, key string) string {
	if !plainKey(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }
