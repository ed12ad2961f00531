package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/client"
	"github.com/signet-project/signet/internal/cluster"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/internal/loadgen"
	srv "github.com/signet-project/signet/internal/server"
	"github.com/signet-project/signet/internal/verify"
	"github.com/signet-project/signet/state/postgres"
)

// URLEnv names the environment variable that says which server the
// clients ask: the line `signet serve` prints for a reader to paste sets it.
const URLEnv = "SIGNET"

// defaultURL is the server the clients ask unless told otherwise: $SIGNET,
// else the default listen address.
func defaultURL() string {
	if u := os.Getenv(URLEnv); u != "" {
		return u
	}
	return "https://" + srv.DefaultListen
}

// commands returns the table of subcommands, in the order `signet -h`
// lists them.
func commands() []command {
	return append([]command{
		{name: "serve", short: "Start the server.", max: 0, setup: serveCmd, long: `
Without --config it serves the embedded demo configuration, creating demo
keys and certificates in --data. SIGHUP reloads the configuration files.`},
		{name: "client sign", args: "FILE|FOLDER...", short: "Sign documents, one request each.", min: 1, max: -1, setup: signCmd(false), long: signLong},
		{name: "client batch", args: "FILE|FOLDER...", short: "Sign documents in batch requests.", min: 1, max: -1, setup: signCmd(true), long: signLong},
		{name: "client bench", short: "Load-test a worker: items/s, latency, errors.", max: 0, setup: benchCmd, long: `
Exit status: 0 every request succeeded, 1 some failed (counted by status),
2 usage error (flags that cannot run together, a -file or certificate
file that cannot be read).`},
		{name: "config check", args: "FILE...", short: "Report every configuration error.", min: 1, max: -1, setup: checkCmd, long: `
Loads the files together as signet serve --config does (the TLS files they
name included) and lists each problem with its file and line on stderr.
Exit status: 0 no problem, 1 problems found (a file the configuration names
that cannot be read is one), 2 usage error (a FILE that cannot be read).`},
		{name: "config import-signserver", args: "FILE...", short: "Convert SignServer worker property files to Signet YAML.", min: 1, max: -1, setup: importSignServerCmd, long: `
Reads the files that signserver dumpproperties writes (WORKERGENID<n>. and
WORKER<id>. properties): CMSSigner, CAdESSigner, PlainSigner, TimeStampSigner
and the other worker kinds Signet has; KeystoreCryptoToken and
PKCS11CryptoToken crypto workers become soft and pkcs11 tokens. Every
property that is not carried over is listed on stderr with the reason, and
crypto tokens on one PKCS#11 slot with different PINs with a warning.
Exit status: 0 the YAML is ready, 1 it has problems (listed), 2 usage error.`},
		{name: "config export-signserver", args: "FILE...", short: "Write Signet workers and tokens as SignServer worker properties.", min: 1, max: -1, setup: exportSignServerCmd, long: `
The output loads with signserver setproperties. Secrets are never written:
activate the crypto workers in SignServer. What SignServer has no place for
is listed on stderr.
Exit status: 0 written, 1 the configuration has problems (listed, as config
check lists them), 2 usage error (a FILE that cannot be read).`},
		{name: "config push", args: "FILE", short: "Check a configuration and make it the cluster's version in force.", min: 1, max: 1, setup: pushCmd, long: `
Every node of the cluster on the database (--state, default
$` + cluster.URLEnv + `) is told (LISTEN/NOTIFY) and runs the new version as
soon as it hears. The file is checked as config check does; its server and
state sections belong in each node's own file, and relative paths would be
read from each node's working folder: both are refused here.
Exit status: 0 pushed, 1 not pushed (problems listed, or the database
failed), 2 usage error (a file that cannot be read, no database named).`},
		{name: "config pull", short: "Print the cluster's configuration in force.", max: 0, setup: pullCmd, long: `
Exit status: 0 printed, 1 the database failed or holds no version yet,
2 usage error (no database named).`},
		{name: "verify", args: "FILE", short: "Validate a signed PDF or a CMS/CAdES signature offline and print the JSON report.", min: 1, max: 1, setup: verifyCmd, long: `
Exit status: 0 TOTAL-PASSED, 1 TOTAL-FAILED, 3 INDETERMINATE, 2 usage or input error.`},
		{name: "version", short: "Print the version of this build.", max: 0, setup: versionCmd},
	}, adminCommands()...)
}

// groupNote is printed with the list of a group's commands.
func groupNote(group string) string {
	if group == "admin" {
		return `Flags of every command that asks the server:
  --url URL             server (default $` + URLEnv + `, else https://` + srv.DefaultListen + `)
  --user NAME           admin user (default admin)
  --password-file FILE  the user's password (default: $SIGNET_ADMIN_PASSWORD)
  --cacert FILE         CA of the server's certificate (default $SIGNET_CACERT;
                        the demo's is signet-data/demo-ca.pem)
  --cert FILE --cert-key FILE
                        act as the user whose authorizedClients match this
                        client certificate (with a password, the password decides)
  --json                print the server's JSON instead of tables

Exit status: 0 done, 1 refused by the server (its reason is printed) or not
reached, 2 usage error.
`
	}
	return ""
}

func serveCmd(fs *flag.FlagSet) runFunc {
	logFormats := []string{"text", "json"}
	var o srv.Options
	var configs stringList
	fs.Var(&configs, "config", "YAML configuration `file` (repeatable); default: the embedded demo configuration")
	fs.StringVar(&o.Listen, "listen", "", "`address` to listen on (default "+srv.DefaultListen+", or server.listen from the configuration)")
	fs.StringVar(&o.DataDir, "data", demo.DefaultDataDir, "data `folder` for the demo PKI and run-time state")
	fs.Int64Var(&o.MaxUpload, "max-upload", 0, "upload limit in `bytes` (default: server.maxUploadSize from the configuration, 100 MiB)")
	format := logFormats[0]
	fs.Func("log-format", "log `format`: "+strings.Join(logFormats, " or ")+" (default text)", func(v string) error {
		if !slices.Contains(logFormats, v) {
			return fmt.Errorf("use %s", strings.Join(logFormats, " or "))
		}
		format = v
		return nil
	})
	return func(ctx context.Context, io stdio, _ []string) error {
		if o.MaxUpload < 0 {
			return usageError("--max-upload must not be negative")
		}
		if err := readable(configs...); err != nil {
			return err
		}
		o.Configs, o.Logger, o.Stdout = configs, slog.New(srv.LogHandler(io.err, format == "json")), io.out
		if io.reloads != nil {
			o.Reload = io.reloads(ctx)
		}
		o.Now = io.now
		err := srv.Run(ctx, o)
		var ps config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(io.err, ps)
			return exitError{1}
		}
		return err
	}
}

func checkCmd(*flag.FlagSet) runFunc {
	return func(_ context.Context, io stdio, paths []string) error {
		if err := readable(paths...); err != nil {
			return err
		}
		problems := srv.Check(paths...)
		for _, p := range problems {
			fmt.Fprintln(io.err, p.Error())
		}
		if len(problems) > 0 {
			fmt.Fprintf(io.err, "%d problem(s) found.\n", len(problems))
			return exitError{1}
		}
		fmt.Fprintf(io.out, "%s: OK\n", strings.Join(paths, ", "))
		return nil
	}
}

// signLong is the help of client sign and client batch.
const signLong = `
A folder is walked: every regular file below it is signed, but for the
signatures of an earlier run and, unless -hidden is given, its hidden files
and folders (.DS_Store, .git, dot files), which are counted on stderr. A
file named itself is always signed.
Exit status: 0 every document signed, 1 some failed (each named on
stderr), 2 usage error (an input that cannot be read).`

// signCmd is client sign, or client batch.
func signCmd(batch bool) func(fs *flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		o := client.Options{URL: defaultURL()}
		o.Flags(fs, batch)
		return func(ctx context.Context, io stdio, args []string) error {
			files, left, err := client.Inputs(args, o.Out, o.Hidden)
			if err != nil {
				return usageFrom(err) // an input that is not there, or cannot be signed as named
			}
			if len(left) > 0 {
				fmt.Fprintf(io.err, "Left out %d hidden file(s) and folder(s), such as %s: -hidden signs them too.\n", len(left), left[0])
			}
			if len(files) == 0 {
				return usageError("no input files")
			}
			sign := client.Sign
			if batch {
				sign = client.Batch
			}
			res, err := sign(ctx, o, files, io.err)
			if err != nil {
				return usageFrom(err)
			}
			fmt.Fprintf(io.out, "%d signed, %d failed\n", res.Signed, res.Failed)
			if res.Failed > 0 {
				return exitError{1}
			}
			return nil
		}
	}
}

func benchCmd(fs *flag.FlagSet) runFunc {
	var o loadgen.Options
	o.Flags(fs, defaultURL())
	return func(ctx context.Context, io stdio, _ []string) error {
		if err := o.Check(); err != nil {
			return usageFrom(err)
		}
		res, err := loadgen.Run(ctx, &o, io.out, io.err)
		if err != nil {
			return err
		}
		if len(res.Errors) > 0 {
			return exitError{1}
		}
		return nil
	}
}

func verifyCmd(fs *flag.FlagSet) runFunc {
	check := verify.Flags(fs)
	return func(ctx context.Context, io stdio, args []string) error {
		// The signature and its content first, in readable's sentence;
		// -trust, which has a default, says itself which flag to give.
		inputs := []string{args[0]}
		if content := fs.Lookup("content").Value.String(); content != "" {
			inputs = append(inputs, content)
		}
		if err := readable(inputs...); err != nil {
			return err
		}
		if code := check(ctx, args[0], io.out, io.err); code != verify.ExitPassed {
			return exitError{code}
		}
		return nil
	}
}

// version is the build's version as `make build` sets it (-ldflags -X
// main.version=…, from git describe of the checkout); empty when built
// otherwise. The Go toolchain records the commit only when it builds in a
// plain git checkout with VCS stamping on: a git worktree, GOFLAGS=
// -buildvcs=false or a tarball leave the module at "(devel)", which tells
// support nothing.
var version string

// versionCmd prints the version of the build and the commit it was built
// from, as versionLine puts them.
func versionCmd(*flag.FlagSet) runFunc {
	return func(_ context.Context, io stdio, _ []string) error {
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return errors.New("this binary carries no build information")
		}
		fmt.Fprintln(io.out, versionLine(version, bi))
		return nil
	}
}

// versionLine is the line signet version prints: the version make set
// (stamped, when not empty), else the module version the toolchain
// recorded, then the Go version and the commit the toolchain recorded, if
// any.
func versionLine(stamped string, bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if stamped != "" {
		v = stamped
	}
	var b strings.Builder
	fmt.Fprintf(&b, "signet %s %s", v, bi.GoVersion)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, " commit %s", rev)
		if settings["vcs.modified"] == "true" {
			b.WriteString(" (modified)")
		}
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " %s", t)
		}
	}
	return b.String()
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// stateFlag registers --state, the cluster's database URL.
func stateFlag(fs *flag.FlagSet) *string {
	return fs.String("state", "", "the cluster's PostgreSQL `URL` (default: $"+cluster.URLEnv+")")
}

// openCluster opens the cluster's database for config push and pull; no
// database named is a usage error (exit 2), one that cannot be reached a
// failure (exit 1).
func openCluster(ctx context.Context, url string, readOnly bool) (*postgres.Store, error) {
	store, err := cluster.OpenURL(ctx, url, "", readOnly)
	if errors.Is(err, cluster.ErrNoDatabase) {
		return nil, usageError(err.Error())
	}
	return store, err
}

func pushCmd(fs *flag.FlagSet) runFunc {
	url := stateFlag(fs)
	author := fs.String("author", "", "who pushes, recorded with the version (default: $USER)")
	return func(ctx context.Context, io stdio, args []string) error {
		who := *author
		if who == "" {
			who = os.Getenv("USER")
		}
		if who == "" {
			who = "unknown"
		}
		if err := readable(args[0]); err != nil {
			return err
		}
		data, err := os.ReadFile(args[0])
		if err != nil { // gone since
			return err
		}
		store, err := openCluster(ctx, *url, false)
		if err != nil {
			return err
		}
		defer store.Close()
		v, problems, err := cluster.Push(ctx, store, args[0], data, who, srv.FileChecks())
		if err != nil {
			return err
		}
		for _, p := range problems {
			fmt.Fprintln(io.err, p.Error())
		}
		if len(problems) > 0 {
			fmt.Fprintf(io.err, "%d problem(s) found; nothing was pushed.\n", len(problems))
			return exitError{1}
		}
		fmt.Fprintf(io.out, "%s is version %d of the cluster's configuration.\n", args[0], v)
		return nil
	}
}

func pullCmd(fs *flag.FlagSet) runFunc {
	url := stateFlag(fs)
	return func(ctx context.Context, io stdio, _ []string) error {
		store, err := openCluster(ctx, *url, true)
		if err != nil {
			return err
		}
		defer store.Close()
		cv, err := store.Config(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(io.err, "# version %d, pushed by %s at %s\n", cv.Version, cv.Author, cv.Created.UTC().Format(time.RFC3339))
		fmt.Fprint(io.out, cv.YAML)
		return nil
	}
}
