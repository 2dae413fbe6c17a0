package translate

import "encoding/json"

// The request and non-stream answer shapes this package writes, in the field
// order of each API's reference. Values copied from the input as they are
// (schemas, tool inputs) are json.RawMessage.

// Anthropic Messages.

type aRequest struct {
	Model         string       `json:"model"`
	System        string       `json:"system,omitempty"`
	Messages      []aMessage   `json:"messages"`
	MaxTokens     int64        `json:"max_tokens"`
	Metadata      *aMetadata   `json:"metadata,omitempty"`
	StopSequences []string     `json:"stop_sequences,omitempty"`
	Stream        bool         `json:"stream,omitempty"`
	Temperature   *float64     `json:"temperature,omitempty"`
	TopP          *float64     `json:"top_p,omitempty"`
	Tools         []aTool      `json:"tools,omitempty"`
	ToolChoice    *aToolChoice `json:"tool_choice,omitempty"`
}

type aMetadata struct {
	UserID string `json:"user_id"`
}

// aMessage.Content is a string or a []any of the block types below.
type aMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

type aText struct {
	Type string `json:"type"` // "text"
	Text string `json:"text"`
}

type aImage struct {
	Type   string  `json:"type"` // "image" or "document"
	Source aSource `json:"source"`
	Title  string  `json:"title,omitempty"` // documents only
}

type aSource struct {
	Type      string `json:"type"` // "base64", "url" or "text"
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type aToolUse struct {
	Type  string          `json:"type"` // "tool_use"
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type aToolResult struct {
	Type      string `json:"type"` // "tool_result"
	ToolUseID string `json:"tool_use_id"`
	Content   any    `json:"content,omitempty"` // string or []any of aText/aImage
}

type aTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type aToolChoice struct {
	Type                   string `json:"type"` // auto, any, tool, none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type aResponse struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"` // "message"
	Role         string  `json:"role"`
	Model        string  `json:"model"`
	Content      []any   `json:"content"`
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        aUsage  `json:"usage"`
}

type aUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// OpenAI Chat Completions.

type oRequest struct {
	Model             string          `json:"model"`
	Messages          []oMessage      `json:"messages"`
	MaxTokens         *int64          `json:"max_tokens,omitempty"`
	Temperature       *float64        `json:"temperature,omitempty"`
	TopP              *float64        `json:"top_p,omitempty"`
	Stop              []string        `json:"stop,omitempty"`
	Stream            bool            `json:"stream,omitempty"`
	StreamOptions     *oStreamOptions `json:"stream_options,omitempty"`
	Tools             []oTool         `json:"tools,omitempty"`
	ToolChoice        any             `json:"tool_choice,omitempty"` // string or oNamedToolChoice
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	User              string          `json:"user,omitempty"`
}

type oStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// oMessage.Content is a string, a []any of the part types below, or nil
// (null: an assistant message with only tool calls).
type oMessage struct {
	Role       string      `json:"role"`
	Content    any         `json:"content"`
	ToolCalls  []oToolCall `json:"tool_calls,omitempty"`
	ToolCallID string      `json:"tool_call_id,omitempty"`
}

type oText struct {
	Type string `json:"type"` // "text"
	Text string `json:"text"`
}

type oImage struct {
	Type     string    `json:"type"` // "image_url"
	ImageURL oImageURL `json:"image_url"`
}

type oImageURL struct {
	URL string `json:"url"`
}

type oFile struct {
	Type string    `json:"type"` // "file"
	File oFileData `json:"file"`
}

type oFileData struct {
	FileData string `json:"file_data"`
	Filename string `json:"filename,omitempty"`
}

type oToolCall struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"` // "function"
	Function oFunction `json:"function"`
}

type oFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type oTool struct {
	Type     string      `json:"type"` // "function"
	Function oFuncSchema `json:"function"`
}

type oFuncSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type oNamedToolChoice struct {
	Type     string `json:"type"` // "function"
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

type oResponse struct {
	ID      string    `json:"id"`
	Object  string    `json:"object"` // "chat.completion"
	Created int64     `json:"created"`
	Model   string    `json:"model"`
	Choices []oChoice `json:"choices"`
	Usage   oUsage    `json:"usage"`
}

type oChoice struct {
	Index        int           `json:"index"`
	Message      oReplyMessage `json:"message"`
	Logprobs     *struct{}     `json:"logprobs"`
	FinishReason string        `json:"finish_reason"`
}

type oReplyMessage struct {
	Role      string      `json:"role"`
	Content   *string     `json:"content"`
	Refusal   *string     `json:"refusal"`
	ToolCalls []oToolCall `json:"tool_calls,omitempty"`
}

type oUsage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	PromptTokensDetails oPromptTokensDetails `json:"prompt_tokens_details"`
}

type oPromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}
