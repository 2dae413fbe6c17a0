// Package limit owns admission control and client keys on the gateway's hot
// path: the in-flight limit with its bounded queue (Admission), the client
// keys (Keys, kept as SHA-256 digests only) and each key's requests-per-minute
// and tokens-per-minute limits with the OpenAI x-ratelimit-* header values
// (Client, Decision).
//
// It does not write HTTP responses or errors (the gateway does, in the
// client's API format), does not know routes beyond their names, and keeps
// its state in memory only: limits are per process and start afresh when a
// new Keys is built on reload.
package limit
