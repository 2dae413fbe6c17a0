// Package route turns the model name a client sends into the ordered list of
// targets (provider + model) that may serve it: route strategies (priority,
// weighted, least latency), capability filtering, operator drains and one
// circuit breaker per target. It does not send anything: the gateway's attempt
// loop walks the order it returns.
package route
