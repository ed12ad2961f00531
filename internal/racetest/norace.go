//go:build !race

// Package racetest tells tests whether the race detector is on: a test
// that bounds the memory a path allocates cannot hold under it, whose
// sync.Pool drops pooled buffers at random and whose instrumentation
// allocates, so such a test skips its bound there rather than fail.
package racetest

// Enabled reports whether the race detector is on.
const Enabled = false
