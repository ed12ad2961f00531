package main

import (
	"context"
	"fmt"
	"io"
)

// admin runs `signet admin COMMAND …`.
func admin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) >= 2 && args[0] == "audit" && args[1] == "verify" {
		return auditVerify(ctx, args[2:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: signet admin audit verify [flags]")
	return exitError{2}
}
