// Package demo owns what `relais demo` adds to a normal server: the script
// of failures that repeats on a compressed timeline, the built-in config
// whose sim providers play that script, the narrator that tells the log what
// is happening, and the light synthetic traffic that makes it visible.
//
// The script (Timeline) is the single source of the story: the sim schedules
// in the config derive from it, and later features (incidents, the status
// page, alerts) read it to know what the demo should show. The package does
// not start the server; cmd/relais and internal/app wire these parts in.
package demo
