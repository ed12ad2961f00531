// Package config loads Signet's YAML configuration: the server settings, the
// crypto tokens and the workers with their SignServer properties. It declares
// every property once (the schema: type, default, meaning, whether request
// metadata may override it) and validates a configuration against it,
// naming the file and line of each problem.
//
// Problems come in two weights. A file that does not parse, or whose
// structure is wrong (not a list, a duplicate worker name or ID, a missing
// name), refuses the whole configuration: Load returns them as its error.
// A problem of one worker (unknown property, bad value, broken rule, unknown
// token) goes into that worker's Problems: the worker is OFFLINE and the
// others serve.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
}

// String returns "file:line", or "file" without a line.
func (p Pos) String() string {
	switch {
	case p.Line > 0:
		return p.File + ":" + strconv.Itoa(p.Line)
	default:
		return p.File
	}
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	Pos Pos
	Msg string // one sentence saying what to fix
}

// Error returns "file:line: msg", or msg alone without a position.
func (p Problem) Error() string {
	if s := p.Pos.String(); s != "" {
		return s + ": " + p.Msg
	}
	return p.Msg
}

// Problems is a list of problems. It is an error whose text has one problem
// per line.
type Problems []Problem

// Error returns the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are none (a nil Problems in
// an error interface would not be nil).
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// sortProblems orders problems by file, in the order the files were given,
// then by line.
func sortProblems(ps Problems, files []string) {
	rank := func(f string) int {
		if i := slices.Index(files, f); i >= 0 {
			return i
		}
		return len(files)
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(rank(a.Pos.File), rank(b.Pos.File)),
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line))
	})
}

// ErrNoSecret is returned by Secret.Resolve when the secret names neither an
// environment variable nor a file.
var ErrNoSecret = errors.New("no secret configured")

// Secret refers to a secret (a PIN, an API key, a password) kept out of the
// configuration: in an environment variable or in a file. Exactly one of
// Env and File is set.
type Secret struct {
	Env  string // environment variable name
	File string // file path, absolute once loaded
}

// IsZero reports whether no secret is configured.
func (s Secret) IsZero() bool { return s == Secret{} }

// String returns the reference, "env:NAME" or "file:PATH", never the value.
func (s Secret) String() string {
	switch {
	case s.Env != "":
		return "env:" + s.Env
	case s.File != "":
		return "file:" + s.File
	}
	return ""
}

// Resolve reads the secret: the environment variable's value or the file's
// contents, with surrounding white space trimmed. Errors name the variable
// or the file, never the value.
func (s Secret) Resolve() (string, error) {
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set: set it to the secret", s.Env)
		}
		if v = strings.TrimSpace(v); v == "" {
			return "", fmt.Errorf("environment variable %s is empty: set it to the secret", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err) // *fs.PathError names the file
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty: write the secret in it", s.File)
		}
		return v, nil
	}
	return "", ErrNoSecret
}

// Server holds the HTTP server settings.
//
// The limits (timeouts, caps, the request memory bound) are zero when the
// configuration does not set them: the web server's defaults apply
// (web.DefaultLimits), declared there once.
type Server struct {
	Listen        string // host:port; empty when the configuration does not say
	MaxUploadSize int64  // bytes
	// TLS is the TLS listener's certificate; nil serves plain HTTP (the
	// demo configuration makes one from its CA).
	TLS *TLS
	// HealthListen is an optional plain-HTTP host:port that serves the
	// health check only, for load balancers that do not speak TLS.
	HealthListen string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For (the
	// client's address) and X-Forwarded-Proto or Forwarded proto= (whether
	// the client's request was https) are believed.
	TrustedProxies []*net.IPNet
	// AuditKey is the file of the key that seals the audit log's head; it
	// belongs outside the data folder. Empty: DATA.audit-key next to the
	// data folder.
	AuditKey    string
	AuditKeyPos Pos // of auditKey, for the problems of its file

	ReadHeaderTimeout time.Duration // readHeaderTimeout
	BodyTimeout       time.Duration // bodyTimeout: the longest pause in a body
	ReadTimeout       time.Duration // readTimeout: a whole request
	WriteTimeout      time.Duration // writeTimeout
	IdleTimeout       time.Duration // idleTimeout
	MaxConnections    int           // maxConnections
	MaxInFlight       int           // maxInFlight: requests admitted at once (web.Limits)
	MaxWorkerQueue    int           // maxWorkerQueue: requests a worker takes at once (web.Limits)
	MaxRequestMemory  int64         // maxRequestMemory: bytes one request may hold
	MemoryLimit       int64         // memoryLimit: the Go runtime's soft memory limit
}

// numbers returns the server settings that are numbers, by their YAML
// names: the loader reads them, RestartOnly compares them.
func (s *Server) numbers() (durations map[string]*time.Duration, counts map[string]*int, sizes map[string]*int64) {
	durations = map[string]*time.Duration{
		"readHeaderTimeout": &s.ReadHeaderTimeout,
		"bodyTimeout":       &s.BodyTimeout,
		"readTimeout":       &s.ReadTimeout,
		"writeTimeout":      &s.WriteTimeout,
		"idleTimeout":       &s.IdleTimeout,
	}
	counts = map[string]*int{
		"maxConnections": &s.MaxConnections,
		"maxInFlight":    &s.MaxInFlight,
		"maxWorkerQueue": &s.MaxWorkerQueue,
	}
	sizes = map[string]*int64{
		"maxUploadSize":    &s.MaxUploadSize,
		"maxRequestMemory": &s.MaxRequestMemory,
		"memoryLimit":      &s.MemoryLimit,
	}
	return durations, counts, sizes
}

// RestartOnly returns, sorted, the YAML names of the server settings that
// differ between s and next and that a running server applies only when it
// starts: its addresses, the timeouts and limits of its connections and
// requests, its memory limit, its audit key, and whether it serves TLS at
// all. A reload puts the others in force: the TLS files and the trusted
// proxies.
func (s Server) RestartOnly(next Server) []string {
	d1, c1, z1 := s.numbers()
	d2, c2, z2 := next.numbers()
	out := changed(changed(changed(nil, d1, d2), c1, c2), z1, z2)
	if s.Listen != next.Listen {
		out = append(out, "listen")
	}
	if s.HealthListen != next.HealthListen {
		out = append(out, "healthListen")
	}
	if s.AuditKey != next.AuditKey {
		out = append(out, "auditKey")
	}
	if (s.TLS == nil) != (next.TLS == nil) {
		out = append(out, "tls")
	}
	slices.Sort(out)
	return out
}

// changed adds to out the names whose values differ between a and b, maps
// of the same settings of two servers.
func changed[T comparable](out []string, a, b map[string]*T) []string {
	for name, v := range a {
		if *v != *b[name] {
			out = append(out, name)
		}
	}
	return out
}

// Defaults of the server section.
const (
	DefaultMaxUploadSize = 100 << 20 // 100MiB
	// DefaultListen is the address served when neither signet serve
	// --listen nor server listen says otherwise. A healthListen on its
	// port is not refused when listen is not set: --listen may name
	// another, and the configuration does not see it.
	DefaultListen = "127.0.0.1:8080"
)

// Token is a configured crypto token.
type Token struct {
	Name       string
	Type       string // soft | pkcs11 | nethsm | dsm
	Properties Properties
	PIN        Secret // the token's secret: PIN, API key or passphrase; may be zero (activate by hand)
	PINPos     Pos    // of the pin key, when PIN is set
	// Keys are the policies of the token's keys (its keys section).
	Keys []KeyPolicy
	Pos  Pos
	// Problems of this token; a worker using a token with problems is
	// OFFLINE.
	Problems Problems
}

// Worker is a configured worker.
type Worker struct {
	Name       string
	ID         int
	Kind       string
	Token      string
	Key        string // key alias in the token
	Properties Properties
	// AuthorizedClients are the client certificate rules of AUTHTYPE
	// CLIENTCERT; Users the users of AUTHTYPE USERNAME_PASSWORD.
	AuthorizedClients []AuthorizedClient
	Users             []WorkerUser
	Pos               Pos
	// Problems of this worker: when there are any, the worker is OFFLINE.
	Problems Problems
}

// Config is a loaded configuration.
type Config struct {
	Server  Server
	State   State // where the run-time state lives
	Tokens  []Token
	Workers []Worker
	Users   []User   // who may call the admin and vendor-compatible APIs
	Files   []string // the files it was loaded from, in order

	structural Problems
}

// Token returns the token with the given name.
func (c *Config) Token(name string) (Token, bool) {
	for _, t := range c.Tokens {
		if t.Name == name {
			return t, true
		}
	}
	return Token{}, false
}

// Worker returns the worker with the given name (any letter case, as
// SignServer matches worker names) or ID.
func (c *Config) Worker(nameOrID string) (Worker, bool) {
	for _, w := range c.Workers {
		if strings.EqualFold(w.Name, nameOrID) {
			return w, true
		}
	}
	for _, w := range c.Workers {
		if strconv.Itoa(w.ID) == nameOrID {
			return w, true
		}
	}
	return Worker{}, false
}

// Problems returns every problem of the configuration, structural, per
// token and per worker, sorted by file and line.
func (c *Config) Problems() Problems {
	ps := slices.Clone(c.structural)
	for _, t := range c.Tokens {
		ps = append(ps, t.Problems...)
	}
	for _, w := range c.Workers {
		ps = append(ps, w.Problems...)
	}
	sortProblems(ps, c.Files)
	return ps
}

// Load reads and validates configuration files. Several files may be loaded
// together (tokens in one, workers in another); names and IDs are unique
// across them. A file that cannot be read or parsed, or whose structure is
// wrong, refuses the whole configuration: the error is the Problems of the
// structure. Problems of a worker or token are in its Problems, not in the
// error.
func Load(paths ...string) (*Config, error) {
	c := load(paths)
	if len(c.structural) > 0 {
		ps := slices.Clone(c.structural)
		sortProblems(ps, c.Files)
		return nil, ps
	}
	return c, nil
}

// Parse validates configuration data as if it were read from the file name;
// relative paths in it are relative to name's folder.
func Parse(name string, data []byte) (*Config, error) {
	l := newLoader()
	l.file(name, data)
	c := l.finish()
	if len(c.structural) > 0 {
		ps := slices.Clone(c.structural)
		sortProblems(ps, c.Files)
		return nil, ps
	}
	return c, nil
}

// Check reads and validates configuration files and returns every problem:
// structural ones and those of each token and worker, sorted by file and
// line. It is what `signet config check` prints. It does not read secrets or
// keystores, so it runs anywhere the files are.
func Check(paths ...string) Problems {
	if len(paths) == 0 {
		return Problems{{Msg: "No configuration file given: name at least one YAML file."}}
	}
	return load(paths).Problems()
}

func load(paths []string, docs ...Document) *Config {
	l := newLoader()
	if len(paths) == 0 && len(docs) == 0 {
		l.structural.add(Pos{}, "No configuration file given: name at least one YAML file.")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			l.cfg.Files = append(l.cfg.Files, p)
			l.structural.add(Pos{File: p}, "The file cannot be read (%s): check the path and its permissions.", describeFileError(err))
			continue
		}
		l.file(p, data)
	}
	for _, d := range docs {
		l.file(d.Name, d.Data)
	}
	return l.finish()
}

// describeFileError returns the reason of a file error without its path,
// which the problem's position already names.
func describeFileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
