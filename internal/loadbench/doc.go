// Package loadbench is relais's load benchmark: it measures what relais adds
// to a request, side by side with the bare upstream ("direct") and a minimal
// httputil.ReverseProxy ("baseline"), on loopback.
//
// It owns the fake OpenAI upstream, the baseline proxy (run by the hidden
// `relais bench serve-baseline` command), the load (vegeta as a library for
// fixed and maximum rates, its own client for streams), the readings of the
// gateway process from /proc, and the report with the targets of issue 3.
//
// The gateway under test always runs as a child process started from the
// relais binary, pinned to one CPU with GOMAXPROCS=1; the harness (load and
// upstream) runs in the calling process, pinned to another CPU. It does not
// own the gateway itself, nor any optimisation of it: it only measures.
package loadbench
