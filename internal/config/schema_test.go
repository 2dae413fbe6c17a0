package config

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestJSONSchema(t *testing.T) {
	t.Parallel()
	data, err := JSONSchema(testKinds)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	tests := []struct {
		path []string
		want any
	}{
		{[]string{"additionalProperties"}, false},
		{[]string{"properties", "listen", "default"}, ":8080"},
		{[]string{"properties", "timeouts", "properties", "request", "default"}, "2m0s"},
		{[]string{"properties", "breaker", "properties", "failure_ratio", "default"}, 0.5},
		{[]string{"properties", "limits", "properties", "queue", "default"}, 256.0},
		{[]string{"properties", "log", "properties", "level", "enum"}, []any{"debug", "info", "warn", "error"}},
		{[]string{"properties", "routes", "items", "properties", "strategy", "default"}, "priority"},
		{[]string{"properties", "routes", "items", "properties", "targets", "items", "properties", "weight", "default"}, 1.0},
		{[]string{"properties", "routes", "items", "properties", "targets", "items", "properties", "capabilities", "items", "enum"}, []any{"tools", "vision", "json_schema", "prefill"}},
		{[]string{"properties", "routes", "items", "required"}, []any{"model", "targets"}},
		{[]string{"properties", "providers", "items", "properties", "type", "enum"}, []any{"openai", "sim"}},
		{[]string{"properties", "providers", "items", "required"}, []any{"name", "type"}},
	}
	for _, tt := range tests {
		if got := dig(s, tt.path...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v = %#v, want %#v", tt.path, got, tt.want)
		}
	}

	// Each provider type closes its entry to the common keys plus its own.
	cases, _ := dig(s, "properties", "providers", "items", "allOf").([]any)
	if len(cases) != 2 {
		t.Fatalf("providers allOf has %d cases, want 2", len(cases))
	}
	then, _ := dig(cases[1], "then").(map[string]any)
	props, _ := then["properties"].(map[string]any)
	if then["additionalProperties"] != false || props["latency"] == nil || props["name"] == nil || props["base_url"] != nil {
		t.Errorf("sim case = %v, want latency and name, no base_url, closed", then)
	}

	if _, err := JSONSchema(richKinds); err == nil {
		t.Error("JSONSchema with a non-pointer options struct: want an error")
	}
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}
