package gateway

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/route"
)

func TestPeek(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    peeked
		wantErr string
	}{
		{"plain", `{"model":"chat","messages":[]}`, peeked{model: "chat"}, ""},
		{"stream", `{"model":"chat","stream":true}`, peeked{model: "chat", stream: true}, ""},
		{"stream with usage", `{"model":"chat","stream":true,"stream_options":{"include_usage":true}}`, peeked{model: "chat", stream: true, includeUsage: true}, ""},
		{"empty", ``, peeked{}, "request body is empty"},
		{"not json", `model=chat`, peeked{}, "not valid JSON"},
		{"array", `[1,2]`, peeked{}, "not valid JSON"},
		{"truncated", `{"model":"chat"`, peeked{}, "unexpected end of input"},
		{"no model", `{"messages":[]}`, peeked{}, "you must provide a model parameter"},
		{"model number", `{"model":4}`, peeked{}, "model must be a non-empty string"},
		{"stream string", `{"model":"chat","stream":"yes"}`, peeked{}, "stream must be a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := peek([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Message, tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if err.Status != 400 {
					t.Errorf("status %d, want 400", err.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.model != tt.want.model || got.stream != tt.want.stream || got.includeUsage != tt.want.includeUsage {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	body := []byte(`{"model":"chat","stream":true,"messages":[{"role":"user","content":"model"}]}`)
	out, err := rewrite(body, "gpt-4o-mini", peeked{model: "chat", stream: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	if m := gjson.GetBytes(out, "model").Str; m != "gpt-4o-mini" {
		t.Errorf("model = %q", m)
	}
	if !gjson.GetBytes(out, "stream_options.include_usage").Bool() {
		t.Error("stream_options.include_usage not set for a stream")
	}
	if c := gjson.GetBytes(out, "messages.0.content").Str; c != "model" {
		t.Errorf("content changed: %q", c)
	}
	if !bytes.Contains(body, []byte(`"model":"chat"`)) {
		t.Error("the client's body was modified in place")
	}
}

func TestNeeds(t *testing.T) {
	t.Parallel()
	n := needs([]byte(`{"model":"m","tools":[{"type":"function"}],"response_format":{"type":"json_schema"},
		"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:"}}]}]}`))
	if n.Caps != route.Tools|route.Vision|route.JSONSchema {
		t.Errorf("caps = %b", n.Caps)
	}
	n = needs([]byte(`{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]}]}`))
	if n.Caps != route.Vision {
		t.Errorf("an Anthropic image block: caps = %b", n.Caps)
	}
	n = needs([]byte(`{"model":"m","messages":[{"role":"user","content":"say \"image_url\" or \"image\" please"}]}`))
	if n.Caps != 0 {
		t.Errorf("text mentioning image_url read as vision: caps = %b", n.Caps)
	}
}

func TestReadEvent(t *testing.T) {
	t.Parallel()
	in := ": keepalive\n\nevent: x\ndata: {\"a\":1}\n\ndata: line1\ndata: line2\r\n\r\ndata: " + strings.Repeat("x", 40000) + "\n\ndata: [DONE]"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	var got []string
	var buf []byte
	for {
		d, err := readEvent(br, buf)
		buf = d
		if err != nil {
			break
		}
		got = append(got, string(d))
	}
	want := []string{`{"a":1}`, "line1\nline2", strings.Repeat("x", 40000), "[DONE]"}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %.40q, want %.40q", i, got[i], want[i])
		}
	}
}

func FuzzPeek(f *testing.F) {
	f.Add([]byte(`{"model":"chat","stream":true,"stream_options":{"include_usage":true}}`))
	f.Add([]byte(`{"model":"chat","messages":[{"role":"user","content":[{"type":"image_url"}]}],"tools":[{}]}`))
	f.Add([]byte(`{"model":`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := peek(body)
		if err != nil {
			return
		}
		_ = needs(body)
		if _, err := rewrite(body, "target-model", p, true); err != nil {
			t.Fatalf("valid body %q failed to rewrite: %v", body, err)
		}
	})
}

func FuzzReadEvent(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"))
	f.Add([]byte(":x\r\ndata:\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		var buf []byte
		for range len(in) + 2 {
			d, err := readEvent(br, buf)
			buf = d
			if err != nil {
				return
			}
		}
		t.Fatal("readEvent did not reach the end of its input")
	})
}

// FuzzReadNamedEvent: the named-event reader ends on any input, and an
// event's name never leaks into the next event.
func FuzzReadNamedEvent(f *testing.F) {
	f.Add([]byte("event: message_start\ndata: {\"a\":1}\n\nevent: ping\n\ndata: x\n\n"))
	f.Add([]byte("event:e\r\ndata:\r\n\r\n:c\nevent: x"))
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		var buf, name []byte
		for range len(in) + 2 {
			d, n, err := readNamedEvent(br, buf, name)
			buf, name = d, n
			if err != nil {
				return
			}
			if bytes.ContainsAny(name, "\r\n") {
				t.Fatalf("name %q", name)
			}
		}
		t.Fatal("readNamedEvent did not reach the end of its input")
	})
}

func TestReadNamedEvent(t *testing.T) {
	t.Parallel()
	in := "event: message_start\ndata: {\"a\":1}\n\nevent: ping\n\ndata: {\"b\":2}\ndata: {}\n\n"
	br := bufio.NewReader(strings.NewReader(in))
	var got []string
	for {
		d, n, err := readNamedEvent(br, nil, nil)
		if err != nil {
			break
		}
		got = append(got, string(n)+"|"+string(d))
	}
	want := []string{`message_start|{"a":1}`, "|{\"b\":2}\n{}"}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestRewriteCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, model string
		wantUsage         bool
	}{
		{"plain", `{"model":"chat","messages":[]}`, "gpt-4o-mini", false},
		{"leading space", "  \n{\"messages\":[],\"model\" : \"chat\"}", "m", false},
		{"stream adds usage", `{"model":"chat","stream":true}`, "m", true},
		{"stream_options without usage", `{"model":"chat","stream":true,"stream_options":{}}`, "m", true},
		{"usage false", `{"model":"chat","stream":true,"stream_options":{"include_usage":false}}`, "m", true},
		{"usage asked", `{"model":"chat","stream":true,"stream_options":{"include_usage":true}}`, "m", true},
		{"model needing escapes", `{"model":"chat"}`, "llama \"3\" ü", false},
		{"escaped alias", `{"model":"ch\u0061t","stream":false}`, "m", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, aerr := peek([]byte(tt.body))
			if aerr != nil {
				t.Fatal(aerr)
			}
			out, err := rewrite([]byte(tt.body), tt.model, p, true)
			if err != nil {
				t.Fatal(err)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			if got := gjson.GetBytes(out, "model").Str; got != tt.model {
				t.Errorf("model = %q, want %q (body %s)", got, tt.model, out)
			}
			if got := gjson.GetBytes(out, "stream_options.include_usage").Bool(); got != tt.wantUsage {
				t.Errorf("include_usage = %v, want %v (body %s)", got, tt.wantUsage, out)
			}
		})
	}
}

func TestContFrames(t *testing.T) {
	t.Parallel()
	anth := "event: message_start\ndata: {}\n\nevent: content_block_start\ndata: {\"content_block\":{\"type\":\"text\"}}\n\n" +
		"event: content_block_delta\ndata: {\"delta\":{\"text\":\"x\"}}\n\nevent: ping\ndata: {}\n\nevent: message_stop\ndata: {}"
	if got := string(contFrames(provider.Anthropic, []byte(anth))); got != "event: content_block_delta\ndata: {\"delta\":{\"text\":\"x\"}}\n\nevent: message_stop\ndata: {}" {
		t.Errorf("anthropic: %q", got)
	}
	oai := "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"
	if got := string(contFrames(provider.OpenAI, []byte(oai))); got != "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n" {
		t.Errorf("openai: %q", got)
	}
	for _, in := range []string{"", "\n", "x"} {
		_ = contFrames(provider.OpenAI, []byte(in))
	}
}
