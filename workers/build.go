package workers

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
)

// TokenOpener opens the crypto token a configuration declares. The caller
// (cmd/signet) maps token types to implementations, so that this package
// does not depend on every backend.
type TokenOpener func(ctx context.Context, t config.Token) (tokens.Token, error)

// BuildOptions are the inputs of Build besides the configuration.
type BuildOptions struct {
	Open TokenOpener
	// Previous is the Set being replaced: tokens whose configuration did not
	// change are kept (an HSM session or a loaded keystore survives a reload).
	Previous *Set
	// Guard wraps every token, so that whoever signs with one of its keys
	// (a worker, the vendor APIs, the admin test-sign) goes through the
	// key's policy, counted and recorded (tokens/guard.Guard). Nil: the
	// tokens are used as they are, unlimited and unrecorded (tests).
	Guard tokens.KeyGuard
	// Archive keeps what workers with ARCHIVERS sign. Nil: such workers
	// refuse to sign, since they cannot keep their promise.
	Archive state.Archive
	Now     func() time.Time
	Logger  *slog.Logger
}

// Build makes a Set from a configuration. It never fails as a whole: a worker
// whose configuration is wrong, or whose token cannot be opened, is in the
// Set as an offline worker that lists why.
func Build(ctx context.Context, cfg *config.Config, opts BuildOptions) *Set {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	wrap := func(t tokens.Token, p func(string) tokens.KeyPolicy) tokens.Token { return t }
	if opts.Guard != nil {
		wrap = opts.Guard.Wrap
	}
	// Every token is guarded: whoever signs with one of its keys (a worker,
	// the vendor APIs, the admin test-sign) goes through the key's policy.
	policies := keyPolicies(cfg)
	toks := make(map[string]tokens.Token, len(cfg.Tokens))
	fps := make(map[string]string, len(cfg.Tokens))
	tokErr := map[string]string{}
	for _, tc := range cfg.Tokens {
		fp := fingerprint(tc)
		fps[tc.Name] = fp
		if opts.Previous != nil && opts.Previous.fingerprints[tc.Name] == fp {
			if t, ok := opts.Previous.tokens[tc.Name]; ok {
				toks[tc.Name] = wrap(tokens.Unwrap(t), policies[tc.Name])
				continue
			}
		}
		t, err := opts.Open(ctx, tc)
		if err != nil {
			tokErr[tc.Name] = err.Error()
			opts.Logger.Error("crypto token could not be opened", "token", tc.Name, "type", tc.Type, "error", err)
			continue
		}
		activate(ctx, t, tc, opts.Logger)
		toks[tc.Name] = wrap(t, policies[tc.Name])
	}

	// TSA_WORKER is looked up at request time in the Set being built: a
	// worker calls the workers of its own configuration, and a reload
	// builds both anew. (Looking in the live registry instead would, during
	// a build, find the previous Set's workers.)
	var set *Set
	lookup := func(idOrName string) (Worker, error) {
		if set == nil {
			return nil, &Error{Kind: ErrNotFound, Msg: "The workers are being built."}
		}
		return set.Lookup(idOrName)
	}
	ws := make([]Worker, 0, len(cfg.Workers))
	for _, wc := range cfg.Workers {
		ws = append(ws, build(wc, toks, tokErr, lookup, opts))
	}
	set = NewSet(ws, toks)
	set.fingerprints = fps
	// Statuses are logged once the Set is whole, so that a worker that
	// calls another (TSA_WORKER) sees it whatever their order.
	for _, w := range ws {
		if st := w.Status(ctx); !st.Active {
			set.offline = append(set.offline, w.Name())
			opts.Logger.Warn("worker offline", "worker", w.Name(), "errors", strings.Join(st.Errors, "; "))
		}
	}
	return set
}

// build makes one worker from its validated configuration: its problems are
// config's, and it adds none (rules live in config/rules.go). What depends
// on the key (the signature algorithm a key implies, the certificate) is
// resolved when the worker signs.
func build(wc config.Worker, toks map[string]tokens.Token, tokErr map[string]string, lookup Lookup, opts BuildOptions) Worker {
	p := wc.Properties
	b := base{name: wc.Name, id: wc.ID, kind: wc.Kind, tokName: wc.Token, alias: wc.Key,
		disabled:  p.Bool(config.PropDisabled),
		allowSHA1: p.Bool(config.PropAllowSHA1),
		access:    config.Access{Type: p.String(config.PropAuthType), Clients: wc.AuthorizedClients, Users: wc.Users},
		archive:   newArchiver(p, opts.Archive, opts.Now),
	}
	for _, pr := range wc.Problems {
		b.problems = append(b.problems, pr.Error())
		if b.publicProblem == "" {
			b.publicProblem = pr.Msg
		}
	}
	if wc.Token != "" {
		b.tok = toks[wc.Token]
		if msg, ok := tokErr[wc.Token]; ok {
			b.openErr = fmt.Sprintf("Crypto token %q could not be opened: %s", wc.Token, msg)
		}
	}
	switch wc.Kind {
	case config.KindCMSSigner, config.KindCAdESSigner:
		return newCMSSigner(b, p, opts.Now, lookup)
	case config.KindTimeStampSigner:
		return newTimeStampSigner(b, p)
	case config.KindPlainSigner:
		return newPlainSigner(b, p)
	case config.KindPDFSigner:
		return newPDFSigner(b, p, opts.Now, lookup)
	case config.KindCMSValidator, config.KindPDFValidator:
		return newValidator(b, p, opts.Now)
	}
	// config reports an unknown kind; the worker answers with that problem.
	if len(b.problems) == 0 {
		b.publicProblem = fmt.Sprintf("worker kind %s is not available in this version of Signet: use one of %s.", wc.Kind, strings.Join(config.Kinds(), ", "))
		b.problems = append(b.problems, fmt.Sprintf("%s: %s", wc.Pos, b.publicProblem))
	}
	return &offline{base: b}
}

// activate logs a token in with its configured PIN (Activate), logging
// why it could not: a token that cannot be activated stays offline and says
// why in its status; the server serves the other workers.
func activate(ctx context.Context, t tokens.Token, tc config.Token, log *slog.Logger) {
	if err := Activate(ctx, t, tc); err != nil {
		log.Error("crypto token could not be activated", "token", tc.Name, "error", err)
	}
}

// Activate logs t in with tc's configured PIN, when it has one and t is
// not active yet, or with none when t needs none (tokens.PINless: a PEM
// keystore, which was left OFFLINE until someone activated it by hand),
// and returns why it could not: the PIN cannot be read, or the token
// refuses it. Build activates every token with it, and `signet config
// check` the keystore files it can open, so that a PIN that keeps a token
// (and its workers) OFFLINE at start is refused there.
func Activate(ctx context.Context, t tokens.Token, tc config.Token) error {
	if t.Status(ctx).State == tokens.Active {
		return nil
	}
	if tc.PIN.IsZero() {
		if p, ok := t.(tokens.PINless); ok && !p.NeedsPIN() {
			if err := t.Activate(ctx, ""); err != nil {
				return fmt.Errorf("it needs no pin, but does not activate: %w", err)
			}
		}
		return nil
	}
	pin, err := ConfiguredPIN(tc)
	if err != nil {
		return err
	}
	if err := t.Activate(ctx, pin); err != nil {
		return fmt.Errorf("its pin does not activate it: %w", err)
	}
	return nil
}

// ConfiguredPIN reads tc's configured PIN, or says why it cannot be read,
// as Activate and `signet config check` (of an HSM's token, which it does
// not contact) both say it.
func ConfiguredPIN(tc config.Token) (string, error) {
	pin, err := tc.PIN.Resolve()
	if err != nil {
		return "", fmt.Errorf("its pin cannot be read: %w", err)
	}
	return pin, nil
}

// fingerprint identifies a token configuration, to reuse an open token across
// a reload when nothing about it changed.
func fingerprint(tc config.Token) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%s\x00%s", tc.Type, tc.PIN.Env, tc.PIN.File, tc.Pos.File)
	names := tc.Properties.Names()
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\x00%s=%s", n, tc.Properties.String(n))
	}
	return b.String()
}

// offline is a worker that cannot be built; it answers with its problems.
type offline struct{ base }

func (w *offline) Process(context.Context, *Request) (*Response, error) {
	return nil, w.ready()
}
