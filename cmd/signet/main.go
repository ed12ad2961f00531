// Command signet is Signet's one binary: the signing server, its clients and
// its administration tools.
//
//	signet serve [--config FILE]... [--listen ADDR] [--data DIR]
//	signet client sign|batch …
//	signet config check FILE...
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/signet-project/signet/internal/verify"
)

const usage = `Signet — an AdES document signing server.

Usage:
  signet serve [--config FILE]... [--listen ADDR] [--data DIR]
        Start the server. Without --config it serves the embedded demo
        configuration, creating demo keys and certificates in --data.
  signet client sign  [flags] FILE|FOLDER...   Sign documents one request each.
  signet client batch [flags] FILE|FOLDER...   Sign documents in batch requests.
  signet client bench [flags]                  Load-test a worker: items/s, latency, errors.
  signet config check FILE...                  Report every configuration error.
  signet verify [-trust FILE] [-content FILE] [-online] FILE
        Validate a signed PDF or a CMS/CAdES signature offline and print the
        JSON report (exit 0 TOTAL-PASSED, 1 TOTAL-FAILED, 3 INDETERMINATE).
  signet admin COMMAND …                       Administer a server (run "signet admin" for commands).

Run "signet COMMAND -h" for a command's flags.
`

// exitError carries a process exit code.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "signet:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "client":
		return client(ctx, args[1:], stdout, stderr)
	case "admin":
		return admin(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, usage)
			return exitError{2}
		}
		return configCheck(args[2:], stdout, stderr)
	case "verify":
		if code := verify.Run(ctx, args[1:], stdout, stderr); code != 0 {
			return exitError{code}
		}
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "signet: unknown command %q\n\n%s", args[0], usage)
	return exitError{2}
}
