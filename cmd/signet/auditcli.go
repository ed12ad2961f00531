package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
)

// auditVerify runs `signet admin audit verify [--data DIR] [--audit-key
// FILE]`: it checks the hash chain of the audit log in the data folder's
// state database, opened read-only (a running server may use it), and that
// the log ends at the head sealed with the audit key (outside the database):
// edited, deleted, reordered and added records, a cut or wiped log and an
// older copy of the database put back are all reported. It exits 0 when the
// log is intact and 1 naming the first bad record.
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("admin audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "signet-data", "data `folder` of the server whose audit log to check")
	keyFile := fs.String("audit-key", "", "`file` of the key that seals the audit head (the server's server.auditKey; default DATA.audit-key beside the data folder)")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "signet admin audit verify: unexpected argument %q\n", fs.Arg(0))
		return exitError{2}
	}
	store, err := sqlite.OpenReadOnly(ctx, filepath.Join(*dataDir, stateFile))
	if err != nil {
		fmt.Fprintf(stderr, "signet admin audit verify: %v\n", err)
		return exitError{1}
	}
	defer store.Close()
	seal, err := state.OpenSeal(auditKeyFile(*keyFile, *dataDir), false)
	if err != nil {
		fmt.Fprintf(stderr, "signet admin audit verify: %v: without the key the end of the log cannot be checked (set --audit-key)\n", err)
		return exitError{1}
	}
	n, err := state.NewSealed(store, seal).VerifyCount(ctx)
	var ce *state.ChainError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "audit log broken: %v\n", err)
		return exitError{1}
	case err != nil:
		fmt.Fprintf(stderr, "signet admin audit verify: %v\n", err)
		return exitError{1}
	}
	fmt.Fprintf(stdout, "audit log intact: %d records\n", n)
	return nil
}
