package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Aliases let a short file expand into a huge tree (the "billion laughs").
// A decode may visit aliasFactor times the nodes the file holds, plus
// aliasSlack: enough for anchors reused across many routes, far below what
// an attack needs, and no limit at all on a large file without aliases.
const (
	aliasFactor = 10
	aliasSlack  = 10_000
)

// decoder turns a yaml.Node tree into Go values as yaml.v3 would, but
// strictly. yaml.v3's Node.Decode ignores KnownFields, so an unknown key would
// be dropped silently; walking the tree against the yaml struct tags ourselves
// makes every unknown key and type error a Problem with its path and line, and
// keeps going after the first one. Leaves (scalars, and types with their own
// UnmarshalYAML such as Duration) are still decoded by yaml.v3.
type decoder struct {
	kinds  map[string]func() ProviderSpec
	r      *report
	budget int // visits left before the alias limit
}

func newDecoder(kinds map[string]func() ProviderSpec, r *report, root *yaml.Node) *decoder {
	return &decoder{kinds: kinds, r: r, budget: aliasFactor*countNodes(root) + aliasSlack}
}

// countNodes counts the nodes of the tree as written: aliases not followed.
func countNodes(n *yaml.Node) int {
	total := 1
	for _, c := range n.Content {
		total += countNodes(c)
	}
	return total
}

var (
	providerType  = reflect.TypeFor[Provider]()
	nodeType      = reflect.TypeFor[yaml.Node]()
	durationType  = reflect.TypeFor[Duration]()
	byteSizeType  = reflect.TypeFor[ByteSize]()
	secretType    = reflect.TypeFor[Secret]()
	unmarshaler   = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshal = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decode sets v from n; path is n's YAML path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	line := n.Line
	n, ok := d.visit(n)
	if !ok {
		return
	}
	if _, ok := d.r.lines[path]; !ok {
		d.r.lines[path] = line
	}
	if isNull(n) {
		// A null (a bare "key:") leaves the field as it is: its default.
		return
	}
	t := v.Type()
	switch {
	case t == providerType:
		d.provider(n, v, path)
	case isLeaf(t):
		d.leaf(n, v, path)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case t.Kind() == reflect.Struct:
		if d.want(n, yaml.MappingNode, t, path) {
			d.fields(d.pairs(n, path), v, path, nil)
		}
	case t.Kind() == reflect.Slice:
		d.slice(n, v, path)
	case t.Kind() == reflect.Map:
		d.mapping(n, v, path)
	}
}

// visit follows aliases and counts the visit against the budget.
func (d *decoder) visit(n *yaml.Node) (*yaml.Node, bool) {
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.r.add("", n.Line, "the document expands too many aliases")
		}
		return nil, false
	}
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n, n != nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag
}

// isLeaf reports whether t is decoded by yaml.v3 as a whole rather than
// walked: scalars, and types that decode themselves.
func isLeaf(t reflect.Type) bool {
	if t == nodeType {
		return true
	}
	if p := reflect.PointerTo(t); p.Implements(unmarshaler) || p.Implements(textUnmarshal) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Pointer:
		return false
	}
	return true
}

func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	err := n.Decode(v.Addr().Interface())
	if err == nil {
		return
	}
	t := v.Type()
	var te *yaml.TypeError
	switch {
	case d.r.fromEnv[n]:
		d.fail(n, path, "want "+describeType(t)+"; the value, from the environment, is not shown")
	case errors.As(err, &te):
		d.fail(n, path, "want "+describeType(t)+", got "+describeNode(n, t))
	default:
		// A type's own UnmarshalYAML wrote the message, e.g. Duration's
		// `invalid duration "soon" (want …)`.
		d.fail(n, path, err.Error())
	}
}

func (d *decoder) fail(n *yaml.Node, path, msg string) { d.r.add(path, n.Line, msg) }

// want reports whether n is of kind k, and a problem if it is not.
func (d *decoder) want(n *yaml.Node, k yaml.Kind, t reflect.Type, path string) bool {
	if n.Kind == k {
		return true
	}
	d.fail(n, path, "want "+describeType(t)+", got "+describeNode(n, t))
	return false
}

func (d *decoder) slice(n *yaml.Node, v reflect.Value, path string) {
	if !d.want(n, yaml.SequenceNode, v.Type(), path) {
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		e := s.Index(i)
		// Element defaults, like the Config's, go in before decoding so that
		// a value the file sets, even 0, wins.
		if dft, ok := e.Addr().Interface().(interface{ applyDefaults() }); ok {
			dft.applyDefaults()
		}
		d.decode(item, e, index(path, i))
	}
	v.Set(s)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if !d.want(n, yaml.MappingNode, t, path) {
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	for _, kv := range d.pairs(n, path) {
		p := join(path, kv.key.Value)
		d.r.lines[p] = kv.key.Line
		k := reflect.New(t.Key()).Elem()
		d.leaf(kv.key, k, p)
		e := reflect.New(t.Elem()).Elem()
		d.decode(kv.value, e, p)
		v.SetMapIndex(k, e)
	}
}

// fields decodes mapping pairs into the struct v. Keys that name no field
// are problems, with a suggestion among the fields and the extra names.
func (d *decoder) fields(pairs []pair, v reflect.Value, path string, extra []string) {
	fs := fieldsOf(v.Type())
	for _, kv := range pairs {
		name := kv.key.Value
		f, ok := fs.find(name)
		if !ok {
			d.unknownField(kv.key, path, slices.Concat(fs.names(), extra))
			continue
		}
		p := join(path, name)
		d.r.lines[p] = kv.key.Line
		d.decode(kv.value, v.FieldByIndex(f.index), p)
	}
}

func (d *decoder) unknownField(key *yaml.Node, parent string, known []string) {
	path := join(parent, key.Value)
	if s := suggest(key.Value, known); s != "" {
		d.fail(key, path, fmt.Sprintf("unknown field (did you mean %q?)", s))
		// The field the user meant is now unset; its "is required" would
		// only repeat this.
		d.r.explained[join(parent, s)] = true
		return
	}
	d.fail(key, path, "unknown field (known fields: "+strings.Join(known, ", ")+")")
}

// provider decodes one providers[i] entry: the common keys into Provider, the
// rest strictly into the options struct of the kind named by type.
func (d *decoder) provider(n *yaml.Node, v reflect.Value, path string) {
	if !d.want(n, yaml.MappingNode, providerType, path) {
		return
	}
	common := fieldsOf(providerType)
	var own, rest []pair
	for _, kv := range d.pairs(n, path) {
		if _, ok := common.find(kv.key.Value); ok {
			own = append(own, kv)
		} else {
			rest = append(rest, kv)
		}
	}
	d.fields(own, v, path, nil)
	p := v.Addr().Interface().(*Provider)
	if p.Type == "" {
		// With no type there is no schema for the rest; still catch the
		// likely cause, a misspelt common key such as "typ".
		for _, kv := range rest {
			if suggest(kv.key.Value, common.names()) != "" {
				d.unknownField(kv.key, path, common.names())
			}
		}
	}
	spec := d.newSpec(p, path)
	if spec == nil {
		// Without a kind there is no schema to check the rest against.
		return
	}
	d.fields(rest, reflect.ValueOf(spec).Elem(), path, common.names())
	p.Spec = spec
}

// newSpec returns a new options struct for p.Type, or nil and a problem.
func (d *decoder) newSpec(p *Provider, path string) ProviderSpec {
	typePath := join(path, "type")
	if d.r.explained[typePath] {
		return nil
	}
	line := d.r.lineOf(typePath)
	known := d.kindNames()
	newSpec, ok := d.kinds[p.Type]
	switch {
	case p.Type == "":
		d.r.add(typePath, line, "is required (one of: "+strings.Join(known, ", ")+")")
		return nil
	case !ok:
		hint := didYouMean(p.Type, known)
		switch {
		case len(known) == 0:
			hint = " (no provider types are registered)"
		case hint == "":
			hint = " (known types: " + strings.Join(known, ", ") + ")"
		}
		d.r.add(typePath, line, fmt.Sprintf("unknown provider type %q%s", p.Type, hint))
		return nil
	}
	spec := newSpec()
	if rv := reflect.ValueOf(spec); !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		// A registry bug, not the user's; still no panic on load.
		d.r.add(typePath, line, fmt.Sprintf("provider type %q has no options struct (want a pointer to a struct, got %T)", p.Type, spec))
		return nil
	}
	return spec
}

func (d *decoder) kindNames() []string {
	names := make([]string, 0, len(d.kinds))
	for k := range d.kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

type pair struct{ key, value *yaml.Node }

// pairs returns the effective key/value pairs of a mapping: merge keys (<<)
// resolved, keys the mapping sets itself winning over merged ones, and
// duplicate keys reported (yaml.v3 reports them only when decoding, which the
// walk bypasses).
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var own, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		k, ok := d.visit(k)
		if !ok {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "mapping keys must be strings, got "+describeNode(k, nil))
			continue
		}
		if k.ShortTag() == mergeTag {
			merged = append(merged, d.mergeSource(v, path)...)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.fail(k, join(path, k.Value), "duplicate key (first at line "+strconv.Itoa(line)+")")
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, pair{k, v})
	}
	for _, kv := range merged {
		if _, dup := seen[kv.key.Value]; !dup {
			seen[kv.key.Value] = kv.key.Line
			own = append(own, kv)
		}
	}
	return own
}

// mergeSource returns the pairs a "<<" value brings: a mapping, or a list of
// mappings where the earlier ones win.
func (d *decoder) mergeSource(v *yaml.Node, path string) []pair {
	v, ok := d.visit(v)
	if !ok {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v, path)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range v.Content {
			item, ok := d.visit(item)
			if !ok {
				continue
			}
			if item.Kind != yaml.MappingNode {
				d.fail(item, path, "a merge (<<) takes a mapping or a list of mappings")
				continue
			}
			out = append(out, d.pairs(item, path)...)
		}
		return out
	}
	d.fail(v, path, "a merge (<<) takes a mapping or a list of mappings")
	return nil
}

type field struct {
	name  string
	index []int
}

type fieldList []field

// fieldsOf lists the YAML fields of struct t as yaml.v3 names them: the tag
// name, else the lowercased Go name; "-" and unexported fields skipped;
// ",inline" structs flattened, embedded unexported ones included. An inline
// map (yaml.v3's catch-all for unknown keys) is skipped: it would defeat
// strict decoding.
func fieldsOf(t reflect.Type) fieldList {
	var fs fieldList
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			if f.Type.Kind() == reflect.Struct && (f.IsExported() || f.Anonymous) {
				for _, in := range fieldsOf(f.Type) {
					fs = append(fs, field{in.name, slices.Concat([]int{i}, in.index)})
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs = append(fs, field{name, []int{i}})
	}
	return fs
}

func (fs fieldList) find(name string) (field, bool) {
	for _, f := range fs {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

func (fs fieldList) names() []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// describeType names what a field of type t takes, for "want …" messages.
func describeType(t reflect.Type) string {
	switch t {
	case durationType:
		return `a duration such as "30s"`
	case byteSizeType:
		return `a size such as "10MiB"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

// describeNode says what the file holds, for "got …" messages. A scalar
// aimed at a Secret is never quoted.
func describeNode(n *yaml.Node, t reflect.Type) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if t == secretType {
		return "a scalar"
	}
	const maxLen = 40
	s := n.Value
	if utf8.RuneCountInString(s) > maxLen {
		s = string([]rune(s)[:maxLen]) + "…"
	}
	return strconv.Quote(s)
}
