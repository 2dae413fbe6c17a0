package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// JSONSchema returns a JSON Schema (draft 2020-12) of relais.yaml for
// editors: completion, and squiggles under unknown keys and wrong types. It
// is built by reflection from the same yaml tags the decoder walks, with the
// defaults of Defaults and, per provider type, the options struct of the
// kind, so it cannot drift from what Parse accepts. It checks shape only:
// cross-references (targets to providers) remain Validate's.
func JSONSchema(kinds map[string]func() ProviderSpec) ([]byte, error) {
	var defaults Config
	Defaults(&defaults)
	s := schemaOf(reflect.ValueOf(defaults))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = "relais configuration"
	props := s["properties"].(object)
	providers, err := providersSchema(kinds)
	if err != nil {
		return nil, err
	}
	props["providers"] = object{"type": "array", "items": providers}
	return json.MarshalIndent(s, "", "  ")
}

type object = map[string]any

// envRef matches a value that is a ${VAR} reference: Parse expands it before
// typing, so a number or duration field may hold one.
var envRef = object{"type": "string", "pattern": `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`}

// enums and required list what the struct types cannot say.
var (
	enums = map[reflect.Type]map[string][]string{
		reflect.TypeFor[Route]():  {"strategy": strategies},
		reflect.TypeFor[Target](): {"capabilities": capabilities},
		reflect.TypeFor[Log]():    {"level": logLevels, "format": logFormats},
	}
	required = map[reflect.Type][]string{
		reflect.TypeFor[Key]():    {"name"},
		reflect.TypeFor[Route]():  {"model", "targets"},
		reflect.TypeFor[Target](): {"provider", "model"},
		reflect.TypeFor[Price]():  {"model"},
	}
)

// schemaOf describes the type of v; v's non-zero fields become defaults.
func schemaOf(v reflect.Value) object {
	t := v.Type()
	switch t {
	case durationType:
		// A bare 0 is a YAML integer, which Duration accepts.
		return object{"anyOf": []object{
			{"type": "string", "pattern": `^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`, "examples": []string{"250ms", "30s", "2m"}},
			{"const": 0},
			envRef,
		}}
	case byteSizeType:
		return withEnv(object{"type": []string{"string", "integer"}, "pattern": `^[0-9]+(\.[0-9]+)? *(B|KB|MB|GB|KiB|MiB|GiB)?$`, "minimum": 0, "examples": []string{"10MiB", "512KiB"}})
	case secretType:
		return object{"type": "string"}
	case nodeType:
		return object{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(reflect.Zero(t.Elem()))
	case reflect.Struct:
		return structSchema(v)
	case reflect.Slice, reflect.Array:
		return object{"type": "array", "items": schemaOf(newElem(t.Elem()))}
	case reflect.Map:
		return object{"type": "object", "additionalProperties": schemaOf(reflect.Zero(t.Elem()))}
	case reflect.String:
		return object{"type": "string"}
	case reflect.Bool:
		return withEnv(object{"type": "boolean"})
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return withEnv(object{"type": "integer"})
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return withEnv(object{"type": "integer", "minimum": 0})
	case reflect.Float32, reflect.Float64:
		return withEnv(object{"type": "number"})
	}
	return object{}
}

// newElem is a new list element as Parse makes it: with its defaults.
func newElem(t reflect.Type) reflect.Value {
	e := reflect.New(t)
	if dft, ok := e.Interface().(interface{ applyDefaults() }); ok {
		dft.applyDefaults()
	}
	return e.Elem()
}

func withEnv(s object) object { return object{"anyOf": []object{s, envRef}} }

func structSchema(v reflect.Value) object {
	t := v.Type()
	props := object{}
	for _, f := range fieldsOf(t) {
		fv := v.FieldByIndex(f.index)
		p := schemaOf(fv)
		if vals, ok := enums[t][f.name]; ok {
			p = enumSchema(fv.Kind() == reflect.Slice, vals)
		}
		if !fv.IsZero() {
			p["default"] = defaultValue(fv)
		}
		props[f.name] = p
	}
	s := object{"type": "object", "properties": props, "additionalProperties": false}
	if req, ok := required[t]; ok {
		s["required"] = req
	}
	return s
}

func enumSchema(list bool, vals []string) object {
	e := object{"type": "string", "enum": vals}
	if list {
		return object{"type": "array", "items": e}
	}
	return e
}

// defaultValue is a default as a user would write it.
func defaultValue(v reflect.Value) any {
	if d, ok := v.Interface().(Duration); ok {
		return d.String()
	}
	return v.Interface()
}

// providersSchema describes a providers[i] entry: the common keys, and per
// type the kind's options, closed to other keys.
func providersSchema(kinds map[string]func() ProviderSpec) (object, error) {
	types := make([]string, 0, len(kinds))
	for k := range kinds {
		types = append(types, k)
	}
	slices.Sort(types)
	common := structSchema(reflect.ValueOf(Provider{}))["properties"].(object)
	var cases []object
	for _, k := range types {
		rv := reflect.ValueOf(kinds[k]())
		if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
			return nil, fmt.Errorf("provider type %q: options are not a pointer to a struct", k)
		}
		props := structSchema(rv.Elem())["properties"].(object)
		for name, p := range common {
			props[name] = p
		}
		props["type"] = object{"const": k}
		cases = append(cases, object{
			"if":   object{"properties": object{"type": object{"const": k}}, "required": []string{"type"}},
			"then": object{"properties": props, "additionalProperties": false},
		})
	}
	common["type"] = object{"type": "string", "enum": types}
	return object{"type": "object", "required": []string{"name", "type"}, "properties": common, "allOf": cases}, nil
}
