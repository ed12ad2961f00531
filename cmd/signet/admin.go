package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/signet-project/signet/internal/adminclient"
	"github.com/signet-project/signet/internal/cluster"
	"github.com/signet-project/signet/internal/demo"
	srv "github.com/signet-project/signet/internal/server"
	"github.com/signet-project/signet/internal/tlsclient"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
	adminapi "github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
)

// adminRun runs an admin command against the client made from the shared
// flags.
type adminRun func(ctx context.Context, c *adminclient.Client, args []string) error

// adminCmd is a command that asks the admin API: the shared flags (--url,
// --user, --password-file, --json), the command's own from setup, and the
// server's refusal printed as its sentence with exit status 1.
func adminCmd(name, args, short string, n [2]int, setup func(fs *flag.FlagSet) adminRun) command {
	return command{name: "admin " + name, args: args, short: short, min: n[0], max: n[1], setup: func(fs *flag.FlagSet) runFunc {
		var base, user, passwordFile string
		var asJSON bool
		fs.StringVar(&base, "url", defaultURL(), "Signet base `URL`, $"+URLEnv+" when set")
		fs.StringVar(&user, "user", "admin", "admin user `name`")
		fs.StringVar(&passwordFile, "password-file", "", "`file` holding the admin password (default: $SIGNET_ADMIN_PASSWORD; none with --cert)")
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of tables")
		var tf tlsclient.Flags
		tf.Register(fs)
		run := setup(fs)
		return func(ctx context.Context, io stdio, args []string) error {
			password, err := adminclient.PasswordFrom(passwordFile)
			if err != nil && !tf.HasCert() { // a client certificate may stand for the user
				return usageFrom(err)
			}
			tc, err := tf.Config()
			if err != nil {
				return usageFrom(err)
			}
			c := adminclient.New(base, user, password, io.out)
			c.HTTP.Transport = tlsclient.Explained(&http.Transport{TLSClientConfig: tc})
			c.JSON = asJSON
			err = run(ctx, c, args)
			var ue usageError
			switch {
			case err == nil, errors.As(err, &ue):
				return err
			case errors.Is(err, adminclient.ErrBadURL):
				fmt.Fprintln(io.err, "signet admin:", err)
				return exitError{2}
			}
			fmt.Fprintln(io.err, "signet admin:", err)
			var ae *adminclient.Error
			if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && user == "admin" {
				// The server's sentence is for any client; a newcomer
				// on the demo needs to know where its password is.
				fmt.Fprintf(io.err, "The demo's admin password is in %s (--password-file, or $SIGNET_ADMIN_PASSWORD).\n", demo.FilesIn(demo.DefaultDataDir).PasswordFile)
			}
			return exitError{1}
		}
	}}
}

// noFlags is the setup of an admin command without flags of its own.
func noFlags(run adminRun) func(*flag.FlagSet) adminRun {
	return func(*flag.FlagSet) adminRun { return run }
}

func adminCommands() []command {
	return []command{
		adminCmd("status", "", "workers and tokens at a glance", [2]int{0, 0}, noFlags(func(ctx context.Context, c *adminclient.Client, _ []string) error {
			return c.Status(ctx)
		})),
		adminCmd("workers", "[NAME]", "workers: status, errors, token, key, certificate expiry", [2]int{0, 1}, noFlags(adminWorkers)),
		adminCmd("tokens", "", "crypto tokens and their keys", [2]int{0, 0}, noFlags(func(ctx context.Context, c *adminclient.Client, _ []string) error {
			var ts []adminapi.TokenStatus
			return c.Show(ctx, http.MethodGet, "/tokens", nil, &ts, func() { c.TokenTable(ts) })
		})),
		adminCmd("activate", "TOKEN", "log a token in (PIN from --pin-file, $SIGNET_PIN or stdin)", [2]int{1, 1}, adminActivate),
		adminCmd("deactivate", "TOKEN", "log a token out", [2]int{1, 1}, noFlags(func(ctx context.Context, c *adminclient.Client, args []string) error {
			var t adminapi.TokenStatus
			return c.Show(ctx, http.MethodPost, adminclient.TokenPath(args[0])+"/deactivate", nil, &t, func() { c.TokenTable([]adminapi.TokenStatus{t}) })
		})),
		adminCmd("keys list", "TOKEN", "the keys of a token", [2]int{1, 1}, noFlags(func(ctx context.Context, c *adminclient.Client, args []string) error {
			var ks []adminapi.Key
			return c.Show(ctx, http.MethodGet, adminclient.TokenPath(args[0])+"/keys", nil, &ks, func() { c.KeyTable(ks) })
		})),
		adminCmd("keys generate", "TOKEN ALIAS", "generate a key", [2]int{2, 2}, adminGenerate),
		adminCmd("keys test", "TOKEN ALIAS", "sign a random digest and verify it", [2]int{2, 2}, noFlags(func(ctx context.Context, c *adminclient.Client, args []string) error {
			var r adminapi.TestResult
			return c.Show(ctx, http.MethodPost, adminclient.KeyPath(args[0], args[1])+"/test", nil, &r, func() {
				fmt.Fprintf(c.Out, "Key %s: %s signature verified (%.2f ms).\n", r.Alias, r.Algorithm, r.Duration)
			})
		})),
		adminCmd("keys csr", "TOKEN ALIAS", "make a PKCS#10 certificate request for a key", [2]int{2, 2}, adminCSR),
		adminCmd("keys chain", "TOKEN ALIAS FILE", "upload the PEM chain (signer first; FILE - for stdin)", [2]int{3, 3}, noFlags(adminChain)),
		adminCmd("keys remove", "TOKEN ALIAS", "remove a key; refused while a worker uses it, unless --force", [2]int{2, 2}, adminRemove),
		adminCmd("reload", "", "load the configuration files again", [2]int{0, 0}, noFlags(func(ctx context.Context, c *adminclient.Client, _ []string) error {
			var res adminapi.ReloadResult
			return c.Show(ctx, http.MethodPost, "/reload", nil, &res, func() {
				fmt.Fprintln(c.Out, "Configuration reloaded.")
				if note := res.RestartNote(); note != "" {
					fmt.Fprintln(c.Out, note)
				}
				c.WorkerTable(res.Workers)
			})
		})),
		adminCmd("audit list", "", "the audit log, oldest first; with --signing the signing log, searched by hash, key, worker, user, client, request ID, result and time", [2]int{0, 0}, adminAuditList),
		adminCmd("archive get", "REQUESTID", "what a worker with ARCHIVERS kept of a request (--out DIR writes the request and response files)", [2]int{1, 1}, adminArchiveGet),
		{name: "admin audit verify", short: "check the audit log's hash chain in a data folder, or a cluster's (--state)", max: 0, setup: auditVerifyCmd},
		{name: "admin hash-password", short: "print the bcrypt hash of a password (from --password-file, else stdin) for a user's passwordHash", max: 0, setup: hashPasswordCmd},
	}
}

func adminWorkers(ctx context.Context, c *adminclient.Client, args []string) error {
	if len(args) == 1 {
		var w adminapi.WorkerStatus
		return c.Show(ctx, http.MethodGet, "/workers/"+url.PathEscape(args[0]), nil, &w, func() { c.WorkerTable([]adminapi.WorkerStatus{w}) })
	}
	var ws []adminapi.WorkerStatus
	return c.Show(ctx, http.MethodGet, "/workers", nil, &ws, func() { c.WorkerTable(ws) })
}

func adminActivate(fs *flag.FlagSet) adminRun {
	pinFile := fs.String("pin-file", "", "`file` holding the token PIN (default: $SIGNET_PIN, else stdin)")
	return func(ctx context.Context, c *adminclient.Client, args []string) error {
		pin, err := adminclient.ReadPIN(*pinFile)
		if err != nil {
			return usageFrom(err)
		}
		var t adminapi.TokenStatus
		return c.Show(ctx, http.MethodPost, adminclient.TokenPath(args[0])+"/activate", adminapi.ActivateRequest{PIN: pin}, &t, func() { c.TokenTable([]adminapi.TokenStatus{t}) })
	}
}

func adminGenerate(fs *flag.FlagSet) adminRun {
	var req adminapi.GenerateRequest
	fs.StringVar(&req.Algorithm, "algorithm", "ECDSA", "key `algorithm`: RSA, ECDSA or Ed25519")
	fs.IntVar(&req.Bits, "bits", 0, "RSA key size: 2048, 3072 (default) or 4096")
	fs.StringVar(&req.Curve, "curve", "", "ECDSA `curve`: P-256 (default), P-384 or P-521")
	return func(ctx context.Context, c *adminclient.Client, args []string) error {
		req.Alias = args[1]
		var k adminapi.Key
		return c.Show(ctx, http.MethodPost, adminclient.TokenPath(args[0])+"/keys", req, &k, func() {
			fmt.Fprintf(c.Out, "Generated key %s in token %s.\n", k.Alias, args[0])
			c.KeyTable([]adminapi.Key{k})
		})
	}
}

func adminCSR(fs *flag.FlagSet) adminRun {
	var req adminapi.CSRRequest
	fs.StringVar(&req.Subject, "subject", "", "subject `DN`, e.g. \"CN=Signer,O=Example,C=DE\"")
	fs.StringVar(&req.SignatureAlgorithm, "signature-algorithm", "", "CSR signature `algorithm` (default: from the key)")
	out := fs.String("out", "", "write the PEM CSR to `file` (default: stdout)")
	return func(ctx context.Context, c *adminclient.Client, args []string) error {
		if req.Subject == "" {
			return usageError(`--subject is required, e.g. --subject "CN=Signer,O=Example,C=DE"`)
		}
		var r adminapi.CSRResponse
		err := c.Show(ctx, http.MethodPost, adminclient.KeyPath(args[0], args[1])+"/csr", req, &r, func() {
			if *out == "" {
				fmt.Fprint(c.Out, r.CSR)
			}
		})
		if err != nil || *out == "" {
			return err
		}
		// Written here, not in the table function, which --json skips:
		// --out must not be ignored silently with exit status 0.
		if r.CSR == "" {
			return errors.New("keys csr: the server's answer holds no certificate request: nothing was written")
		}
		if err := os.WriteFile(*out, []byte(r.CSR), 0o644); err != nil {
			return fmt.Errorf("keys csr: %w", err)
		}
		if !c.JSON {
			fmt.Fprintf(c.Out, "Wrote the certificate request of %s (%s) to %s.\n", args[1], r.Subject, *out)
		}
		return nil
	}
}

func adminRemove(fs *flag.FlagSet) adminRun {
	force := fs.Bool("force", false, "remove the key even while workers use it")
	return func(ctx context.Context, c *adminclient.Client, args []string) error {
		path := adminclient.KeyPath(args[0], args[1])
		if *force {
			path += "?force=true"
		}
		return c.Show(ctx, http.MethodDelete, path, nil, nil, func() {
			fmt.Fprintf(c.Out, "Removed key %s from token %s.\n", args[1], args[0])
		})
	}
}

func adminChain(ctx context.Context, c *adminclient.Client, args []string) error {
	pemBytes, err := adminclient.ReadFileOrStdin(args[2])
	if err != nil {
		return usageFrom(err)
	}
	var r adminapi.ChainResponse
	return c.Show(ctx, http.MethodPut, adminclient.KeyPath(args[0], args[1])+"/chain", adminclient.RawPEM(pemBytes), &r, func() { c.ChainTable(r) })
}

func adminAuditList(fs *flag.FlagSet) adminRun {
	after := fs.Int64("after", 0, "list records after this `number`")
	limit := fs.Int("limit", 100, "list at most `n` records (with --jsonl: default all)")
	sl := signLogFlags(fs)
	return func(ctx context.Context, c *adminclient.Client, _ []string) error {
		if *limit < 1 || *after < 0 {
			return usageError("--limit must be at least 1 and --after not negative")
		}
		if !sl.signing {
			if f := sl.filterSet(fs); f != "" {
				return usageError(f + " searches the signing log: add --signing")
			}
			var p adminapi.AuditPage
			q := fmt.Sprintf("/audit?after=%d&limit=%d", *after, *limit)
			return c.Show(ctx, http.MethodGet, q, nil, &p, func() { c.AuditTable(p) })
		}
		q, err := sl.query(time.Now())
		if err != nil {
			return usageError(err.Error())
		}
		q.After = *after
		n := *limit
		if sl.jsonl && !flagSet(fs, "limit") {
			n = 0 // an export: every record
		}
		return c.SignLog(ctx, adminapi.SignQueryValues(q), n, sl.jsonl)
	}
}

// signLogOpts are the flags of `signet admin audit list --signing`: a
// search of the signing log, each flag a field of state.SignQuery.
type signLogOpts struct {
	signing, jsonl bool
	q              state.SignQuery
	since, until   string
	filters        []string // the flags that search the signing log, as registered
}

func signLogFlags(fs *flag.FlagSet) *signLogOpts {
	o := &signLogOpts{}
	fs.BoolVar(&o.signing, "signing", false, "list the signing log (one record per signing request) instead of the audit log")
	filter := func(p *string, name, usage string) {
		fs.StringVar(p, name, "", "signing log: "+usage)
		o.filters = append(o.filters, name)
	}
	filter(&o.q.Hash, "hash", "records that signed this `hex` hash (sha256sum of a document, or a client-side digest)")
	filter(&o.q.Key, "key", "records of this key, `TOKEN/ALIAS` or an alias in any token")
	filter(&o.q.Surface, "surface", "records of this `worker` (its name) or key API: dsm, nethsm, test-sign")
	filter(&o.q.User, "caller", "records of this `user`, or client certificate as recorded (cert:…); --user is the admin's own name")
	filter(&o.q.Client, "client", "records from this client `address`")
	filter(&o.q.RequestID, "request-id", "records of this request `ID`")
	filter(&o.q.Result, "result", "ok (signed) or refused")
	filter(&o.since, "since", "records from this `time` on: 2026-01-31T12:00:00Z, 2026-01-31 or 24h (ago)")
	filter(&o.until, "until", "records before this `time` (same forms as --since)")
	fs.BoolVar(&o.jsonl, "jsonl", false, "signing log: export the records as JSON lines, one record a line (default: every record)")
	o.filters = append(o.filters, "jsonl")
	return o
}

// filterSet returns the first signing log flag set on the command line.
func (o *signLogOpts) filterSet(fs *flag.FlagSet) string {
	for _, f := range o.filters {
		if flagSet(fs, f) {
			return "--" + f
		}
	}
	return ""
}

// query returns the search the flags ask for, or a usage error.
func (o *signLogOpts) query(now time.Time) (state.SignQuery, error) {
	q := o.q
	var err error
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--since", o.since, &q.Since}, {"--until", o.until, &q.Until}} {
		if t.v != "" {
			if *t.dst, err = adminclient.ParseTime(t.flag, t.v, now); err != nil {
				return q, err
			}
		}
	}
	if err := q.Check(); err != nil {
		return q, fmt.Errorf("the search is not valid: %w", err)
	}
	return q, nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// auditVerifyCmd checks the hash chain of the audit log in the data
// folder's state database, opened read-only (a running server may use it),
// and that the log ends at the head sealed with the audit key (outside the
// database): edited, deleted, reordered and added records, a cut or wiped
// log and an older copy of the database put back are all reported. It
// exits 0 when the log is intact and 1 naming the first bad record.
//
// With --state it checks the one chain of a cluster in PostgreSQL instead,
// with --seal the seal of its head (the key file every node has).
func auditVerifyCmd(fs *flag.FlagSet) runFunc {
	dataDir := fs.String("data", demo.DefaultDataDir, "data `folder` of the server whose audit log to check")
	keyFile := fs.String("audit-key", "", "`file` of the key that seals the audit head (the server's server.auditKey; default DATA.audit-key beside the data folder)")
	url := fs.String("state", "", "check the cluster's audit log in the PostgreSQL database at `URL` instead")
	seal := fs.String("seal", "", "with --state: the audit seal key `file` of the cluster's nodes")
	return func(ctx context.Context, io stdio, _ []string) error {
		var n int64
		var err error
		if *url != "" {
			store, oerr := cluster.OpenURL(ctx, *url, *seal, true)
			if oerr != nil {
				fmt.Fprintf(io.err, "signet admin audit verify: %v\n", oerr)
				return exitError{1}
			}
			defer store.Close()
			n, err = store.VerifyCount(ctx)
		} else {
			store, oerr := sqlite.OpenReadOnly(ctx, filepath.Join(*dataDir, srv.StateFile))
			if oerr != nil {
				fmt.Fprintf(io.err, "signet admin audit verify: %v\n", oerr)
				return exitError{1}
			}
			defer store.Close()
			key, kerr := state.OpenSeal(srv.AuditKeyFile(*keyFile, *dataDir), false)
			if kerr != nil {
				fmt.Fprintf(io.err, "signet admin audit verify: %v: without the key the end of the log cannot be checked (set --audit-key)\n", kerr)
				return exitError{1}
			}
			n, err = state.NewSealed(store, key).VerifyCount(ctx)
		}
		var ce *state.ChainError
		switch {
		case errors.As(err, &ce):
			fmt.Fprintf(io.err, "audit log broken: %v\n", err)
			return exitError{1}
		case err != nil:
			fmt.Fprintf(io.err, "signet admin audit verify: %v\n", err)
			return exitError{1}
		}
		fmt.Fprintf(io.out, "audit log intact: %d records\n", n)
		return nil
	}
}

// hashPasswordCmd prints the bcrypt hash of a password for a user's
// passwordHash in the configuration.
func hashPasswordCmd(fs *flag.FlagSet) runFunc {
	file := fs.String("password-file", "", "`file` holding the password (default: the first line of stdin, not echoed on a terminal)")
	return func(_ context.Context, io stdio, _ []string) error {
		pw, err := adminclient.ReadSecret(adminclient.Secret{What: "password", Flag: "--password-file", File: *file})
		if err != nil {
			return usageFrom(err)
		}
		h, err := auth.HashPassword(pw)
		if err != nil {
			return usageError(err.Error())
		}
		fmt.Fprintln(io.out, h)
		return nil
	}
}

// adminArchiveGet prints the archived items of a request ID and, with
// --out, writes each kept request and response to DIR/REQUESTID.N.request
// and .response (N from 1, oldest first).
func adminArchiveGet(fs *flag.FlagSet) adminRun {
	out := fs.String("out", "", "write the kept requests and responses to files in `folder`")
	return func(ctx context.Context, c *adminclient.Client, args []string) error {
		var items []adminapi.ArchiveItem
		if err := c.Show(ctx, http.MethodGet, "/archive/"+url.PathEscape(args[0]), nil, &items, func() { c.ArchiveTable(items) }); err != nil {
			return err
		}
		if *out == "" {
			return nil
		}
		if err := writeArchive(c, *out, args[0], items); err != nil {
			return fmt.Errorf("archive get: %w", err)
		}
		return nil
	}
}

// writeArchive writes the kept sides of items to files in dir.
func writeArchive(c *adminclient.Client, dir, id string, items []adminapi.ArchiveItem) error {
	base := filepath.Base(filepath.Clean("/" + id)) // a request ID names no other folder
	if err := os.MkdirAll(dir, 0o700); err != nil { // a new folder, as client sign's -out
		return err
	}
	for i, it := range items {
		for _, f := range []struct {
			ext  string
			kept bool
			data []byte
		}{{"request", it.RequestKept, it.Request}, {"response", it.ResponseKept, it.Response}} {
			if !f.kept {
				continue
			}
			name := filepath.Join(dir, fmt.Sprintf("%s.%d.%s", base, i+1, f.ext))
			if err := os.WriteFile(name, f.data, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "Wrote %s.\n", name)
		}
	}
	return nil
}
