package workers

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/signet-project/signet/config"
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
	Usage    UsageCounter
	Now      func() time.Time
	Logger   *slog.Logger
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
	toks := make(map[string]tokens.Token, len(cfg.Tokens))
	fps := make(map[string]string, len(cfg.Tokens))
	tokErr := map[string]string{}
	for _, tc := range cfg.Tokens {
		fp := fingerprint(tc)
		fps[tc.Name] = fp
		if opts.Previous != nil && opts.Previous.fingerprints[tc.Name] == fp {
			if t, ok := opts.Previous.tokens[tc.Name]; ok {
				toks[tc.Name] = t
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
		toks[tc.Name] = t
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
		b := base{name: wc.Name, id: wc.ID, kind: wc.Kind, tokName: wc.Token, alias: wc.Key, usage: opts.Usage}
		for _, p := range wc.Problems {
			b.problems = append(b.problems, p.Error())
		}
		b.disabled = wc.Properties.Bool(propDisabled)
		b.limit, b.noCount = int64(wc.Properties.Int("KEYUSAGELIMIT")), wc.Properties.Bool("DISABLEKEYUSAGECOUNTER")
		b.keyID = new(atomic.Pointer[keyID])
		if wc.Token != "" {
			b.tok = toks[wc.Token]
			if msg, ok := tokErr[wc.Token]; ok {
				b.problems = append(b.problems, fmt.Sprintf("Crypto token %q could not be opened: %s", wc.Token, msg))
			}
		}
		b.problems = append(b.problems, notYetSupported(wc.Properties)...)
		var w Worker
		switch wc.Kind {
		case KindCMSSigner, KindCAdESSigner:
			w = newCMSSigner(ctx, b, wc.Properties, opts.Now)
			w.(*CMSSigner).setTimeStamper(wc.Properties, lookup)
		case KindTimeStampSigner:
			w = newTimeStampSigner(ctx, b, wc.Properties)
		case KindPlainSigner:
			w = newPlainSigner(ctx, b, wc.Properties)
		case KindPDFSigner:
			w = newPDFSigner(ctx, b, wc.Properties, lookup, opts.Now)
		case KindCMSValidator, KindPDFValidator:
			w = newValidator(b, wc.Properties, opts.Now)
		default:
			// config reports unknown kinds; a known kind without an
			// implementation in this version lands here.
			b.problems = append(b.problems, fmt.Sprintf("%s: worker kind %s is not available in this version of Signet: use one of "+strings.Join(config.Kinds(), ", ")+".", wc.Pos, wc.Kind))
			w = &offline{base: b}
		}
		ws = append(ws, w)
	}
	set = NewSet(ws, toks)
	set.fingerprints = fps
	// Statuses are logged once the Set is whole, so that a worker that
	// calls another (TSA_WORKER) sees it whatever their order.
	for _, w := range ws {
		if st := w.Status(ctx); !st.Active {
			opts.Logger.Warn("worker offline", "worker", w.Name(), "errors", strings.Join(st.Errors, "; "))
		}
	}
	return set
}

// activate logs a token in with its configured PIN, when it has one and is
// not active yet. A token that cannot be activated stays offline and says why
// in its status; the server serves the other workers.
func activate(ctx context.Context, t tokens.Token, tc config.Token, log *slog.Logger) {
	if t.Status(ctx).State == tokens.Active || (tc.PIN.Env == "" && tc.PIN.File == "") {
		return
	}
	pin, err := tc.PIN.Resolve()
	if err != nil {
		log.Error("crypto token PIN unavailable", "token", tc.Name, "error", err)
		return
	}
	if err := t.Activate(ctx, pin); err != nil {
		log.Error("crypto token activation failed", "token", tc.Name, "error", err)
	}
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

// notYetSupported reports properties that the schema declares but this
// version does not enforce yet (client
// certificate authorisation). A worker that sets them is OFFLINE rather than
// serving without what its configuration asks for.
func notYetSupported(p config.Properties) []string {
	var out []string
	if strings.EqualFold(p.String("AUTHTYPE"), "CLIENTCERT") {
		out = append(out, "AUTHTYPE CLIENTCERT is not available in this version of Signet: use NOAUTH behind an authenticating proxy.")
	}
	return out
}
