// Package translate converts between OpenAI's Chat Completions dialect and
// Anthropic's Messages dialect: requests, non-stream answers, server-sent
// event streams and error bodies, in both directions.
//
// It owns the mapping of every field and the choices made where the two APIs
// do not line up (see each function's comment). It does no I/O and keeps no
// state outside the values it returns: the gateway reads bodies and events,
// calls this package, and writes what it gets back. Functions never panic on
// any input, which the fuzz tests check.
//
// What it does not own: which target a request goes to, retries and
// failover, SSE parsing of the upstream body (the gateway hands Stream one
// Event at a time), and requests whose client and target speak the same
// dialect (those go through untouched; Passthrough only classifies their
// events).
//
// Token counts use OpenAI's convention in Usage: Input counts every prompt
// token, cached or not, and CachedInput is the part of Input read from a
// prompt cache. An Anthropic input_tokens excludes cache reads and cache
// writes, so Input = input_tokens + cache_read_input_tokens +
// cache_creation_input_tokens.
package translate
