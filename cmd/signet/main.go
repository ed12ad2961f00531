// Command signet is Signet's one binary: the signing server, its clients and
// its administration tools. It is a table of subcommands (commands.go), each
// a name, a usage line, its flags and a function that calls into the
// internal packages; this file finds the command and runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/signet-project/signet/config"
)

// exitError carries a process exit code; what the user needs to know was
// printed already.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is a command line that cannot run: printed with the command's
// name, exit status 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// readable returns, as a usage error (exit 2), the first of the files
// named on the command line that cannot be read. That is how every command
// answers an input it was pointed at and cannot open (client sign, verify,
// config push, a --password-file), so that a script tells a wrong path (2)
// from what the command found in the file (1): config check and config
// export-signserver count their problems with 1, and refuse the command
// line first. What a configuration names itself (a keystore, TLS files) is
// not on the command line and stays one of its problems, at its file:line.
func readable(paths ...string) error {
	for _, p := range paths {
		if _, err := os.ReadFile(p); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return cannotRead(p, pe.Err)
			}
			return cannotRead(p, err)
		}
	}
	return nil
}

// cannotRead is the one sentence of a file named on the command line that
// cannot be read: the path as given, why, and the fix.
func cannotRead(path string, why error) usageError {
	return usageError(fmt.Sprintf("%s cannot be read (%s): check the path and its permissions.", path, why))
}

// usageFrom is err as a usage error (exit 2). An error that comes from
// opening or reading a file (a flag's file, a document to sign, a folder
// below one) is said as readable says it, whatever the command wrapped
// around it: "lstat FILE: no such file or directory" or "read secret
// file: open FILE: …" named the file but not what to do. The flag that
// named the file, when the wrapping says it ("read --cacert: …"), stays
// before the path. Other errors, a folder that cannot be made included,
// keep their own text.
func usageFrom(err error) usageError {
	var pe *os.PathError
	if !errors.As(err, &pe) || !slices.Contains([]string{"open", "stat", "lstat", "read"}, pe.Op) {
		return usageError(err.Error())
	}
	path := pe.Path
	if wrapped, _, ok := strings.Cut(err.Error(), pe.Error()); ok {
		if f := flagName.FindStringSubmatch(wrapped); f != nil {
			path = f[1] + " " + path
		}
	}
	return cannotRead(path, pe.Err)
}

// flagName finds the flag a wrapping error names: "read --cacert: ",
// "-file F cannot be read: ".
var flagName = regexp.MustCompile(`(?:^|\s)(--?[a-z][a-z-]*)\b`)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], stdio{out: os.Stdout, err: os.Stderr, reloads: hangups})
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

// stdio is what a command gets from its process besides its arguments:
// where it prints, and what asks a server to reload.
type stdio struct {
	out, err io.Writer
	// reloads returns the channel on which serve receives reload requests
	// until ctx ends: SIGHUP in the signet process (hangups), a channel of
	// the test's own in tests. nil: no reload but the admin API's.
	reloads func(ctx context.Context) <-chan struct{}
	// now is the clock of serve's tokens' retry and probe intervals; nil:
	// time.Now. Tests move theirs on instead of waiting for an interval.
	now func() time.Time
}

// hangups sends a reload request on every SIGHUP until ctx ends. Only serve
// asks for it, so that SIGHUP still ends the other commands (a terminal
// that closes).
func hangups(ctx context.Context) <-chan struct{} {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	reload := make(chan struct{})
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
			}
			select {
			case <-ctx.Done():
				return
			case reload <- struct{}{}:
			}
		}
	}()
	return reload
}

// runFunc runs a command with its positional arguments.
type runFunc func(ctx context.Context, io stdio, args []string) error

// command is one subcommand, as in the go command: its name (the words
// after "signet"), usage, flags and what it runs.
type command struct {
	name  string // "admin keys generate"
	args  string // positional arguments in the usage line: "TOKEN ALIAS"
	short string // one line for the command lists
	long  string // more text for -h, optional
	// min and max bound the positional arguments; max < 0: no bound.
	min, max int
	// setup registers the command's flags on fs and returns the function
	// that runs with their values; a new FlagSet each run, so that runs
	// (tests) share nothing.
	setup func(fs *flag.FlagSet) runFunc
}

// run dispatches a command line that prints to stdout and stderr; tests
// call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, args, stdio{out: stdout, err: stderr})
}

// dispatch finds the command of a command line and runs it with io.
func dispatch(ctx context.Context, args []string, io stdio) error {
	stdout, stderr := io.out, io.err
	cmds := commands()
	if len(args) > 1 && args[0] == "help" { // "signet help admin keys csr": that command's -h
		args = append(slices.Clone(args[1:]), "-h")
	}
	cmd, rest := find(cmds, args)
	if cmd == nil {
		return groupUsage(cmds, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("signet "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, on stdout for -h
	runCmd := cmd.setup(fs)
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		cmd.usage(stdout, fs)
		return nil
	}
	if err != nil { // the flag package printed the error
		if s := suggestFlag(fs, err); s != "" {
			fmt.Fprintf(stderr, "Did you mean -%s?\n", s)
		}
		fmt.Fprintln(stderr)
		cmd.usage(stderr, fs)
		return exitError{2}
	}
	if len(pos) < cmd.min || (cmd.max >= 0 && len(pos) > cmd.max) {
		if cmd.max == 0 {
			fmt.Fprintf(stderr, "signet %s takes no arguments, got %q\n\n", cmd.name, pos)
		} else {
			fmt.Fprintf(stderr, "signet %s: wrong number of arguments\n\n", cmd.name)
		}
		cmd.usage(stderr, fs)
		return exitError{2}
	}
	err = runCmd(ctx, io, pos)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "signet %s: %s\n", cmd.name, ue)
		return exitError{2}
	}
	return err
}

// find returns the command whose name is the longest run of leading words
// of args, and the arguments after it.
func find(cmds []command, args []string) (*command, []string) {
	for n := min(len(args), 3); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		if i := slices.IndexFunc(cmds, func(c command) bool { return c.name == name }); i >= 0 {
			return &cmds[i], args[n:]
		}
	}
	return nil, nil
}

// usage prints the command's usage and flags.
func (c *command) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: signet %s", c.name)
	if hasFlags(fs) {
		fmt.Fprint(w, " [flags]")
	}
	if c.args != "" {
		fmt.Fprint(w, " "+c.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", c.short)
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
	}
	if hasFlags(fs) {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// groupUsage answers a command line that names no command: "signet",
// "signet admin", "signet admin keys" list the commands under them (on
// stdout with exit status 0 after -h, else on stderr with 2); anything
// else is an unknown command.
func groupUsage(cmds []command, args []string, stdout, stderr io.Writer) error {
	var group []string
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "help" {
			listCommands(stdout, cmds, strings.Join(group, " "))
			return nil
		}
		next := append(slices.Clone(group), a)
		prefix := strings.Join(next, " ") + " "
		if !slices.ContainsFunc(cmds, func(c command) bool { return strings.HasPrefix(c.name, prefix) }) {
			where := strings.Join(append([]string{"signet"}, group...), " ")
			fmt.Fprintf(stderr, "%s: unknown command %q", where, a)
			if s := config.Suggest(a, subcommands(cmds, group)); s != "" {
				fmt.Fprintf(stderr, ": did you mean %s?", s)
			}
			fmt.Fprint(stderr, "\n\n")
			listCommands(stderr, cmds, strings.Join(group, " "))
			return exitError{2}
		}
		group = next
	}
	listCommands(stderr, cmds, strings.Join(group, " "))
	return exitError{2}
}

// subcommands returns the words that may follow group ("admin keys") on
// a command line.
func subcommands(cmds []command, group []string) []string {
	var words []string
	for _, c := range cmds {
		rest, ok := strings.CutPrefix(c.name, strings.Join(group, " ")+" ")
		if len(group) == 0 {
			rest, ok = c.name, true
		}
		if w, _, _ := strings.Cut(rest, " "); ok && !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// suggestFlag returns the flag of fs closest to the one err says is not
// defined, or "".
func suggestFlag(fs *flag.FlagSet, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return ""
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return config.Suggest(strings.TrimPrefix(name, "-"), names)
}

// listCommands prints the commands under group ("" for all).
func listCommands(w io.Writer, cmds []command, group string) {
	if group == "" {
		fmt.Fprint(w, "Signet — an AdES document signing server.\n\n")
	}
	fmt.Fprintf(w, "Usage: %s COMMAND [flags] [ARGS]\n\nCommands:\n", strings.TrimSpace("signet "+group))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cmds {
		if group != "" && !strings.HasPrefix(c.name, group+" ") {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.short)
	}
	tw.Flush()
	if note := groupNote(group); note != "" {
		fmt.Fprintf(w, "\n%s", note)
	}
	fmt.Fprintf(w, "\nRun \"signet %s -h\" for a command's flags.\n", strings.TrimSpace(group+" COMMAND"))
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
