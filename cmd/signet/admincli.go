package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	adminapi "github.com/signet-project/signet/web/admin"
	"golang.org/x/term"
)

const adminUsage = `Usage: signet admin COMMAND [ARGS] [flags]

Commands:
  status                              workers and tokens at a glance
  workers [NAME]                      workers: status, errors, token, key, certificate expiry
  tokens                              crypto tokens and their keys
  activate TOKEN [--pin-file FILE]    log a token in (PIN from --pin-file, $SIGNET_PIN or stdin)
  deactivate TOKEN                    log a token out
  keys list TOKEN
  keys generate TOKEN ALIAS [--algorithm RSA|ECDSA|Ed25519] [--bits N] [--curve P-256]
  keys test TOKEN ALIAS               sign a random digest and verify it
  keys csr TOKEN ALIAS --subject DN [--signature-algorithm ALG] [--out FILE]
  keys chain TOKEN ALIAS FILE         upload the PEM chain (signer first; FILE - for stdin)
  keys remove TOKEN ALIAS [--force]   refused while a worker uses the key, unless --force
  reload                              load the configuration files again
  audit list [--after N] [--limit N]
  audit verify [flags]                check the audit log's hash chain

Flags of every command:
  --url URL             server (default http://127.0.0.1:8080)
  --user NAME           admin user (default admin)
  --password-file FILE  the user's password (default: $SIGNET_ADMIN_PASSWORD)
  --json                print the server's JSON instead of tables

Exit status: 0 done, 1 refused by the server (its reason is printed), 2 usage error.
`

// adminCLI is one `signet admin` command talking to the admin API.
type adminCLI struct {
	url      string
	user     string
	password string
	json     bool
	stdout   io.Writer
	stderr   io.Writer
	client   *http.Client
}

// adminCommands lists the commands and how many positional arguments each
// takes.
var adminCommands = map[string][2]int{ // min, max
	"status": {0, 0}, "workers": {0, 1}, "tokens": {0, 0},
	"activate": {1, 1}, "deactivate": {1, 1}, "reload": {0, 0},
	"keys list": {1, 1}, "keys generate": {2, 2}, "keys test": {2, 2},
	"keys csr": {2, 2}, "keys chain": {3, 3}, "keys remove": {2, 2},
	"audit list": {0, 0},
}

// admin runs `signet admin COMMAND …`.
func admin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) >= 2 && args[0] == "audit" && args[1] == "verify" {
		return auditVerify(ctx, args[2:], stdout, stderr)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, adminUsage)
		return exitError{2}
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "keys" || cmd == "audit") && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	counts, ok := adminCommands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "signet admin: unknown command %q\n\n%s", cmd, adminUsage)
		return exitError{2}
	}
	fs := flag.NewFlagSet("admin "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &adminCLI{stdout: stdout, stderr: stderr, client: &http.Client{Timeout: 5 * time.Minute}}
	fs.StringVar(&c.url, "url", "https://"+defaultListen, "Signet base `URL`")
	var tf tlsFlags
	tf.register(fs)
	fs.StringVar(&c.user, "user", "admin", "admin user `name`")
	passwordFile := fs.String("password-file", "", "`file` holding the admin password (default: $SIGNET_ADMIN_PASSWORD)")
	fs.BoolVar(&c.json, "json", false, "print JSON instead of tables")
	var (
		pinFile, algorithm, curve, subject, sigAlg, out string
		bits, limit                                     int
		after                                           int64
		force                                           bool
	)
	switch cmd {
	case "activate":
		fs.StringVar(&pinFile, "pin-file", "", "`file` holding the token PIN (default: $SIGNET_PIN, else stdin)")
	case "keys generate":
		fs.StringVar(&algorithm, "algorithm", "ECDSA", "key `algorithm`: RSA, ECDSA or Ed25519")
		fs.IntVar(&bits, "bits", 0, "RSA key size: 2048, 3072 (default) or 4096")
		fs.StringVar(&curve, "curve", "", "ECDSA `curve`: P-256 (default), P-384 or P-521")
	case "keys csr":
		fs.StringVar(&subject, "subject", "", "subject `DN`, e.g. \"CN=Signer,O=Example,C=DE\"")
		fs.StringVar(&sigAlg, "signature-algorithm", "", "CSR signature `algorithm` (default: from the key)")
		fs.StringVar(&out, "out", "", "write the PEM CSR to `file` (default: stdout)")
	case "keys remove":
		fs.BoolVar(&force, "force", false, "remove the key even while workers use it")
	case "audit list":
		fs.Int64Var(&after, "after", 0, "list records after this `number`")
		fs.IntVar(&limit, "limit", 100, "list at most `n` records")
	}
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		return exitError{2}
	}
	if len(pos) < counts[0] || len(pos) > counts[1] {
		fmt.Fprintf(stderr, "signet admin %s: wrong number of arguments\n\n%s", cmd, adminUsage)
		return exitError{2}
	}
	if cmd == "keys csr" && subject == "" {
		fmt.Fprintln(stderr, `signet admin keys csr: --subject is required, e.g. --subject "CN=Signer,O=Example,C=DE"`)
		return exitError{2}
	}
	tc, err := tf.config()
	if err != nil {
		fmt.Fprintln(stderr, "signet admin:", err)
		return exitError{2}
	}
	c.client.Transport = &http.Transport{TLSClientConfig: tc}
	if c.password, err = adminPassword(*passwordFile); err != nil {
		fmt.Fprintln(stderr, "signet admin:", err)
		return exitError{2}
	}
	c.url = strings.TrimRight(c.url, "/")

	switch cmd {
	case "status":
		return c.status(ctx)
	case "workers":
		if len(pos) == 1 {
			var w adminapi.WorkerStatus
			return c.show(ctx, http.MethodGet, "/workers/"+url.PathEscape(pos[0]), nil, &w, func() { c.workerTable([]adminapi.WorkerStatus{w}) })
		}
		var ws []adminapi.WorkerStatus
		return c.show(ctx, http.MethodGet, "/workers", nil, &ws, func() { c.workerTable(ws) })
	case "tokens":
		var ts []adminapi.TokenStatus
		return c.show(ctx, http.MethodGet, "/tokens", nil, &ts, func() { c.tokenTable(ts) })
	case "activate":
		pin, err := readPIN(pinFile)
		if err != nil {
			fmt.Fprintln(stderr, "signet admin activate:", err)
			return exitError{2}
		}
		var t adminapi.TokenStatus
		return c.show(ctx, http.MethodPost, tokenPath(pos[0])+"/activate", adminapi.ActivateRequest{PIN: pin}, &t, func() { c.tokenTable([]adminapi.TokenStatus{t}) })
	case "deactivate":
		var t adminapi.TokenStatus
		return c.show(ctx, http.MethodPost, tokenPath(pos[0])+"/deactivate", nil, &t, func() { c.tokenTable([]adminapi.TokenStatus{t}) })
	case "reload":
		var ws []adminapi.WorkerStatus
		return c.show(ctx, http.MethodPost, "/reload", nil, &ws, func() {
			fmt.Fprintln(stdout, "Configuration reloaded.")
			c.workerTable(ws)
		})
	case "keys list":
		var ks []adminapi.Key
		return c.show(ctx, http.MethodGet, tokenPath(pos[0])+"/keys", nil, &ks, func() { c.keyTable(ks) })
	case "keys generate":
		req := adminapi.GenerateRequest{Alias: pos[1], Algorithm: algorithm, Bits: bits, Curve: curve}
		var k adminapi.Key
		return c.show(ctx, http.MethodPost, tokenPath(pos[0])+"/keys", req, &k, func() {
			fmt.Fprintf(stdout, "Generated key %s in token %s.\n", k.Alias, pos[0])
			c.keyTable([]adminapi.Key{k})
		})
	case "keys test":
		var r adminapi.TestResult
		return c.show(ctx, http.MethodPost, keyPath(pos[0], pos[1])+"/test", nil, &r, func() {
			fmt.Fprintf(stdout, "Key %s: %s signature verified (%.2f ms).\n", r.Alias, r.Algorithm, r.Duration)
		})
	case "keys csr":
		var r adminapi.CSRResponse
		var werr error
		err := c.show(ctx, http.MethodPost, keyPath(pos[0], pos[1])+"/csr", adminapi.CSRRequest{Subject: subject, SignatureAlgorithm: sigAlg}, &r, func() {
			if out == "" {
				fmt.Fprint(stdout, r.CSR)
				return
			}
			if werr = os.WriteFile(out, []byte(r.CSR), 0o644); werr != nil {
				fmt.Fprintln(stderr, "signet admin keys csr:", werr)
				return
			}
			fmt.Fprintf(stdout, "Wrote the certificate request of %s (%s) to %s.\n", pos[1], r.Subject, out)
		})
		if err == nil && werr != nil {
			return exitError{1}
		}
		return err
	case "keys chain":
		pemBytes, err := readFileOrStdin(pos[2])
		if err != nil {
			fmt.Fprintln(stderr, "signet admin keys chain:", err)
			return exitError{2}
		}
		var r adminapi.ChainResponse
		return c.show(ctx, http.MethodPut, keyPath(pos[0], pos[1])+"/chain", rawPEM(pemBytes), &r, func() {
			fmt.Fprintf(stdout, "Stored a chain of %d certificate(s) for key %s", len(r.Certificates), r.Alias)
			if len(r.Workers) > 0 {
				fmt.Fprintf(stdout, ", used by %s", strings.Join(r.Workers, ", "))
			}
			fmt.Fprintln(stdout, ".")
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBJECT\tISSUER\tNOT AFTER")
			for _, ct := range r.Certificates {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", ct.Subject, ct.Issuer, ct.NotAfter.Format(time.DateOnly))
			}
			tw.Flush()
		})
	case "keys remove":
		path := keyPath(pos[0], pos[1])
		if force {
			path += "?force=true"
		}
		return c.show(ctx, http.MethodDelete, path, nil, nil, func() {
			fmt.Fprintf(stdout, "Removed key %s from token %s.\n", pos[1], pos[0])
		})
	case "audit list":
		var p adminapi.AuditPage
		q := fmt.Sprintf("/audit?after=%d&limit=%d", after, limit)
		return c.show(ctx, http.MethodGet, q, nil, &p, func() { c.auditTable(p) })
	}
	return exitError{2}
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

// adminPassword reads the admin password from file, else from
// $SIGNET_ADMIN_PASSWORD.
func adminPassword(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read the password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p := os.Getenv("SIGNET_ADMIN_PASSWORD"); p != "" {
		return p, nil
	}
	return "", errors.New("no admin password: set SIGNET_ADMIN_PASSWORD or give --password-file")
}

// readPIN reads a token PIN from file, else $SIGNET_PIN, else the first
// line of stdin.
func readPIN(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read the PIN file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p, ok := os.LookupEnv("SIGNET_PIN"); ok {
		return p, nil
	}
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		fmt.Fprint(os.Stderr, "Token PIN: ")
		pin, err := term.ReadPassword(fd) // not echoed
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", fmt.Errorf("read the PIN: %w", err)
		}
		return string(pin), nil
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", errors.New("no PIN: give --pin-file, set SIGNET_PIN or write the PIN to stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func readFileOrStdin(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	}
	return os.ReadFile(name)
}

// rawPEM is a request body sent as PEM rather than JSON.
type rawPEM []byte

func tokenPath(token string) string { return "/tokens/" + url.PathEscape(token) }

func keyPath(token, alias string) string {
	return tokenPath(token) + "/keys/" + url.PathEscape(alias)
}

// show sends a request and prints the answer: the JSON itself with --json,
// otherwise through table after decoding it into out.
func (c *adminCLI) show(ctx context.Context, method, path string, body, out any, table func()) error {
	raw, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if c.json {
		if len(raw) == 0 {
			return nil
		}
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") != nil {
			buf.Reset()
			buf.Write(raw)
		}
		fmt.Fprintln(c.stdout, strings.TrimSpace(buf.String()))
		return nil
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			fmt.Fprintf(c.stderr, "signet admin: the server's answer is not what this client expects (%v): is %s a Signet server of the same version?\n", err, c.url)
			return exitError{1}
		}
	}
	table()
	return nil
}

// do sends one request to the admin API and returns the body of a 2xx
// answer. Any other answer prints the server's sentence and returns exit
// status 1.
func (c *adminCLI) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case rawPEM:
		rd, ct = bytes.NewReader(b), "application/pem-certificate-chain"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+adminapi.BasePath+path, rd)
	if err != nil {
		fmt.Fprintf(c.stderr, "signet admin: bad server URL %q: %v\n", c.url, err)
		return nil, exitError{2}
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.user, c.password)
	resp, err := c.client.Do(req)
	if err != nil {
		fmt.Fprintf(c.stderr, "signet admin: cannot reach %s: %v\n", c.url, err)
		return nil, exitError{1}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		fmt.Fprintf(c.stderr, "signet admin: reading the answer of %s: %v\n", c.url, err)
		return nil, exitError{1}
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if msg == "" {
			msg = resp.Status
		}
		fmt.Fprintf(c.stderr, "signet admin: %s (HTTP %d)\n", msg, resp.StatusCode)
		return nil, exitError{1}
	}
	return raw, nil
}

func (c *adminCLI) status(ctx context.Context) error {
	var ws []adminapi.WorkerStatus
	var ts []adminapi.TokenStatus
	wraw, err := c.do(ctx, http.MethodGet, "/workers", nil)
	if err != nil {
		return err
	}
	traw, err := c.do(ctx, http.MethodGet, "/tokens", nil)
	if err != nil {
		return err
	}
	if c.json {
		fmt.Fprintf(c.stdout, "{\"workers\":%s,\"tokens\":%s}\n", bytes.TrimSpace(wraw), bytes.TrimSpace(traw))
		return nil
	}
	if json.Unmarshal(wraw, &ws) != nil || json.Unmarshal(traw, &ts) != nil {
		fmt.Fprintf(c.stderr, "signet admin: the server's answer is not what this client expects: is %s a Signet server of the same version?\n", c.url)
		return exitError{1}
	}
	fmt.Fprintln(c.stdout, "Workers:")
	c.workerTable(ws)
	fmt.Fprintln(c.stdout, "\nTokens:")
	c.tokenTable(ts)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *adminCLI) workerTable(ws []adminapi.WorkerStatus) {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIND\tSTATUS\tTOKEN\tKEY\tCERT EXPIRES\tERRORS")
	for _, w := range ws {
		exp := "-"
		if w.Certificate != nil {
			exp = w.Certificate.NotAfter.Format(time.DateOnly)
			if w.Certificate.Expired {
				exp += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", w.ID, w.Name, w.Kind, w.Status, dash(w.Token), dash(w.Key), exp, dash(strings.Join(w.Errors, " | ")))
	}
	tw.Flush()
}

func (c *adminCLI) tokenTable(ts []adminapi.TokenStatus) {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tSTATUS\tKEYS\tCAPABILITIES\tWORKERS\tREASON")
	for _, t := range ts {
		aliases := make([]string, 0, len(t.Keys))
		for _, k := range t.Keys {
			aliases = append(aliases, k.Alias)
		}
		reason := t.Reason
		if t.KeysError != "" {
			reason = t.KeysError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Status, dash(strings.Join(aliases, ",")), dash(strings.Join(t.Capabilities, ",")), dash(strings.Join(t.Workers, ",")), dash(reason))
	}
	tw.Flush()
}

func (c *adminCLI) keyTable(ks []adminapi.Key) {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALIAS\tALGORITHM\tSIZE\tCHAIN\tCERT EXPIRES\tWORKERS")
	for _, k := range ks {
		size := strconv.Itoa(k.Bits)
		if k.Curve != "" {
			size = k.Curve
		}
		chain, exp := "no", "-"
		if k.HasChain {
			chain = "yes"
		}
		if k.NotAfter != nil {
			exp = k.NotAfter.Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Alias, k.Algorithm, size, chain, exp, dash(strings.Join(k.Workers, ",")))
	}
	tw.Flush()
}

func (c *adminCLI) auditTable(p adminapi.AuditPage) {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tOUTCOME")
	for _, e := range p.Entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Target, e.Outcome)
	}
	tw.Flush()
}
