// Package adminclient is the client of Signet's admin API behind `signet
// admin`: it sends the requests, turns refusals into errors carrying the
// server's sentence, and prints answers as tables or JSON.
package adminclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/demo"
	adminapi "github.com/signet-project/signet/web/admin"
	"golang.org/x/term"
)

// Client talks to a Signet server's admin API (web/admin) and prints its
// answers for a person: tables, or the server's JSON with JSON set.
type Client struct {
	// URL is the server's base URL, without /admin/api.
	URL      string
	User     string
	Password string
	// JSON prints the server's JSON instead of tables.
	JSON bool
	// Out receives what the commands print.
	Out  io.Writer
	HTTP *http.Client
}

// New returns a Client for the server at base with HTTP basic credentials,
// printing to out.
func New(base, user, password string, out io.Writer) *Client {
	return &Client{URL: strings.TrimRight(base, "/"), User: user, Password: password, Out: out,
		HTTP: &http.Client{Timeout: 5 * time.Minute}}
}

// Error is the server's refusal of a request: its one sentence and status.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// ErrBadURL is returned (wrapped) when the server URL cannot make a request:
// a usage error, not the server's refusal.
var ErrBadURL = errors.New("bad server URL")

// PasswordFrom reads the admin password from file, else from
// $SIGNET_ADMIN_PASSWORD.
func PasswordFrom(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read --password-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p := os.Getenv("SIGNET_ADMIN_PASSWORD"); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("no admin password: set SIGNET_ADMIN_PASSWORD or give --password-file (the demo's is in %s)", demo.FilesIn(demo.DefaultDataDir).PasswordFile)
}

// ReadPIN reads a token PIN from file, else $SIGNET_PIN, else the first
// line of stdin. A file is read as the server reads a token's pin: {file:}
// of the configuration, so that the file the server activates the token
// with at start activates it here too, and does not send a PIN with a
// trailing blank that an HSM counts as a wrong attempt.
func ReadPIN(file string) (string, error) {
	if file != "" {
		pin, err := config.Secret{File: file}.Resolve()
		if err != nil {
			return "", fmt.Errorf("--pin-file: %w", err)
		}
		return pin, nil
	}
	return ReadSecret(Secret{What: "PIN", Flag: "--pin-file", File: file, Env: "SIGNET_PIN"})
}

// Secret says where ReadSecret looks for a secret.
type Secret struct {
	What string // "PIN", "password": for the prompt and errors
	Flag string // the flag that names File, for errors
	File string // read from this file when set
	Env  string // else from this environment variable when set
}

// ReadSecret reads a secret from s.File, else $s.Env, else the first line
// of stdin, not echoed when stdin is a terminal.
func ReadSecret(s Secret) (string, error) {
	if s.File != "" {
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", s.Flag, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if s.Env != "" {
		if p, ok := os.LookupEnv(s.Env); ok {
			return p, nil
		}
	}
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		fmt.Fprintf(os.Stderr, "%s: ", s.What)
		secret, err := term.ReadPassword(fd) // not echoed
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", fmt.Errorf("read the %s: %w", s.What, err)
		}
		return string(secret), nil
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		env := ""
		if s.Env != "" {
			env = ", set " + s.Env
		}
		return "", fmt.Errorf("no %s: give %s%s or write the %s to stdin", s.What, s.Flag, env, s.What)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// ReadFileOrStdin reads the file name, or stdin for "-".
func ReadFileOrStdin(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	}
	return os.ReadFile(name)
}

// RawPEM is a request body sent as PEM rather than JSON.
type RawPEM []byte

// TokenPath is the admin API path of a token.
func TokenPath(token string) string { return "/tokens/" + url.PathEscape(token) }

// KeyPath is the admin API path of a key.
func KeyPath(token, alias string) string {
	return TokenPath(token) + "/keys/" + url.PathEscape(alias)
}

// Show sends a request, decodes the answer into out (when not nil) and
// prints it: the JSON itself with --json, otherwise through table. out is
// filled in both modes, so that a command may act on the answer after
// printing it either way.
func (c *Client) Show(ctx context.Context, method, path string, body, out any, table func()) error {
	raw, err := c.Do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil && !c.JSON {
			return c.unexpected(err)
		}
	}
	if !c.JSON {
		table()
		return nil
	}
	if len(raw) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		buf.Reset()
		buf.Write(raw)
	}
	fmt.Fprintln(c.Out, strings.TrimSpace(buf.String()))
	return nil
}

// Do sends one request to the admin API and returns the body of a 2xx
// answer. Any other answer is an *Error with the server's sentence.
func (c *Client) Do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case RawPEM:
		rd, ct = bytes.NewReader(b), "application/pem-certificate-chain"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+adminapi.BasePath+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadURL, c.URL, err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	if c.Password != "" {
		// Without a password the client certificate (if any) says who
		// the user is.
		req.SetBasicAuth(c.User, c.Password)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", c.URL, err)
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
		return nil, &Error{Status: resp.StatusCode, Message: msg}
	}
	return raw, nil
}

// Status prints the workers and the tokens.
func (c *Client) Status(ctx context.Context) error {
	var ws []adminapi.WorkerStatus
	var ts []adminapi.TokenStatus
	wraw, err := c.Do(ctx, http.MethodGet, "/workers", nil)
	if err != nil {
		return err
	}
	traw, err := c.Do(ctx, http.MethodGet, "/tokens", nil)
	if err != nil {
		return err
	}
	if c.JSON {
		fmt.Fprintf(c.Out, "{\"workers\":%s,\"tokens\":%s}\n", bytes.TrimSpace(wraw), bytes.TrimSpace(traw))
		return nil
	}
	if err := errors.Join(json.Unmarshal(wraw, &ws), json.Unmarshal(traw, &ts)); err != nil {
		return c.unexpected(err)
	}
	fmt.Fprintln(c.Out, "Workers:")
	c.WorkerTable(ws)
	fmt.Fprintln(c.Out, "\nTokens:")
	c.TokenTable(ts)
	return nil
}

// unexpected is the error of an answer this client cannot decode.
func (c *Client) unexpected(err error) error {
	return fmt.Errorf("the server's answer is not what this client expects (%v): is %s a Signet server of the same version?", err, c.URL)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WorkerTable prints worker rows.
func (c *Client) WorkerTable(ws []adminapi.WorkerStatus) {
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
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

// TokenTable prints token rows.
func (c *Client) TokenTable(ts []adminapi.TokenStatus) {
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
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

// KeyTable prints key rows.
func (c *Client) KeyTable(ks []adminapi.Key) {
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
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

// AuditTable prints audit rows.
func (c *Client) AuditTable(p adminapi.AuditPage) {
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tOUTCOME")
	for _, e := range p.Entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Target, e.Outcome)
	}
	tw.Flush()
}

// ChainTable prints a stored chain: where it is used and its certificates.
func (c *Client) ChainTable(r adminapi.ChainResponse) {
	fmt.Fprintf(c.Out, "Stored a chain of %d certificate(s) for key %s", len(r.Certificates), r.Alias)
	if len(r.Workers) > 0 {
		fmt.Fprintf(c.Out, ", used by %s", strings.Join(r.Workers, ", "))
	}
	fmt.Fprintln(c.Out, ".")
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tISSUER\tNOT AFTER")
	for _, ct := range r.Certificates {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ct.Subject, ct.Issuer, ct.NotAfter.Format(time.DateOnly))
	}
	tw.Flush()
}
