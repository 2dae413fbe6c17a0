package config

import (
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"
)

// expandEnv replaces environment references in every scalar value below n,
// in place. The rules:
//
//   - ${NAME} is the value of NAME; ${NAME:-default} is default when NAME is
//     unset or empty; $$ is a literal $. Any other $ is kept as written, so a
//     password such as "pa$word" needs no escaping.
//   - Expansion runs on the parsed tree, after YAML syntax and before
//     decoding, not on the raw text: a value cannot inject YAML structure
//     (a "#", ": " or newline in a variable stays part of the value), lines
//     stay true, comments are not expanded, and mapping keys never are.
//   - The expanded text is typed as if it had been written there: rpm: ${RPM}
//     with RPM=60 is the integer 60. A quoted "${RPM}" stays a string, as in
//     YAML. An empty result is null, so the field keeps its default; a
//     non-empty one is never null (a secret "~" stays "~").
//   - A variable that is unset, with no default, is a problem at the path
//     where it is used, whatever the field. Writing ${NAME} says the value
//     must come from the environment; an unset one is almost always a missing
//     secret (admin.token, api_key, key) or a broken value
//     ("http://${HOST}:8000"), and expanding it silently to "" would give an
//     unauthenticated admin API or upstream 401s at run time instead of a
//     clear error at load. ${NAME:-} opts into "empty when unset". The
//     problem is reported instead of, not beside, the "is required" that the
//     empty value would cause (see report.explained).
//   - Inside a flow collection ({…} or […]) quote the reference:
//     {token: "${TOKEN}"}, as "{" and "}" are YAML syntax there.
//   - Messages name the variable, never its value.
//
// Scalars reached through an alias are expanded once, at their anchor, so $$
// is never unescaped twice.
func expandEnv(n *yaml.Node, path string, lookup func(string) (string, bool), r *report) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = index(path, i)
			}
			expandEnv(c, p, lookup, r)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := path
			if k.ShortTag() != mergeTag {
				p = join(path, k.Value)
			}
			expandEnv(v, p, lookup, r)
		}
	case yaml.ScalarNode:
		expandScalar(n, path, lookup, r)
	}
}

const (
	mergeTag = "!!merge"
	nullTag  = "!!null"
	strTag   = "!!str"
)

func expandScalar(n *yaml.Node, path string, lookup func(string) (string, bool), r *report) {
	if !strings.Contains(n.Value, "$") {
		return
	}
	out, unset, err := expand(n.Value, lookup)
	if err != nil {
		r.add(path, n.Line, err.Error())
		out = ""
	}
	for _, name := range unset {
		r.add(path, n.Line, "environment variable "+name+" is not set")
	}
	if out == n.Value {
		return
	}
	r.fromEnv[n] = true
	n.Value = out
	retag(n)
}

// retag types the expanded value of a plain scalar as if it had been typed
// in the file; quoted, block and explicitly tagged scalars keep their tag.
func retag(n *yaml.Node) {
	const typed = yaml.TaggedStyle | yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
	if n.Style&typed != 0 {
		return
	}
	if n.Value == "" {
		n.Tag = nullTag
		return
	}
	n.Tag = ""
	if n.ShortTag() == nullTag {
		n.Tag = strTag
	}
}

var (
	errUnterminated = errors.New(`unterminated "${" (write "$$" for a literal "$")`)
	errBadReference = errors.New(`invalid variable reference: want ${NAME} or ${NAME:-default}, where NAME is letters, digits and "_" (write "$$" for a literal "$")`)
)

// expand applies the rules of expandEnv to one value. It returns the names of
// the unset variables that expanded to "".
func expand(s string, lookup func(string) (string, bool)) (string, []string, error) {
	var b strings.Builder
	var unset []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", nil, errUnterminated
			}
			name, def, hasDef := strings.Cut(s[i+2:i+2+end], ":-")
			if !validName(name) {
				return "", nil, errBadReference
			}
			switch v, ok := lookup(name); {
			case ok && (v != "" || !hasDef):
				b.WriteString(v)
			case hasDef:
				b.WriteString(def)
			default:
				unset = append(unset, name)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), unset, nil
}

func validName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
