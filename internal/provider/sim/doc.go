// Package sim is the simulated AI provider (`type: sim`) that tests and
// `relais demo` use in place of a real service.
//
// It is honest on purpose: New starts a real HTTP server on a loopback port,
// in the OpenAI dialect (Chat Completions, embeddings, models) or the
// Anthropic one (Messages, models), and reaches it through the openai or
// anthropic provider kind, so requests cross the same transport, status
// codes, headers, error bodies and SSE framing as with a real provider.
// Answers are deterministic (text and embeddings derive from the input and
// the seed; a request that forces a tool gets a call to it with arguments
// {}), timing follows latency, ttft and tokens_per_second, and a schedule of
// faults (down, rate_limit, slow, cut_stream, hang, empty, inband_error)
// repeats on a cycle measured with an injected clock.
//
// It does not decide anything about retries or failover, and it does not
// validate model names: it answers any model the request names.
package sim
