// Package config owns relais's YAML schema: the Go structs, ${ENV} expansion,
// strict decoding, defaults in one place and Validate with YAML-path errors.
//
// It does not know how a provider works: each provider kind hands Load a
// constructor of the struct that holds its own options (the kinds map, built
// by internal/provider/registry), and the rest of a providers[i] mapping is
// decoded strictly into it.
//
// Loading is one pipeline (see Parse): YAML is parsed into a node tree,
// ${ENV} references are expanded in scalar values, the tree is decoded
// strictly onto a defaulted Config, and Validate runs. Every problem of every
// stage is collected, with its YAML path and line, into one *Error, so a user
// fixes a file in one pass instead of one error per restart.
package config
