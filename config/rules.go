package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/signet-project/signet/formats/tsp"
)

// A cond is a condition on a worker's properties. When it holds it returns
// the name of the property that makes it hold, for the problem's position.
type cond func(p Properties) (name string, ok bool)

// propertyRule is one rule between properties of a worker or a token: when
// If holds, Need must hold too, and Forbid must not. The problem is
// reported at the property that made If hold (or at the worker or token
// when If is always).
type propertyRule struct {
	Kinds  []string // worker kinds or token types it applies to; nil: every worker kind
	If     cond
	Need   cond
	Forbid cond
	Msg    string // one sentence; a %s in it is the property that made If hold
}

// propertyRules are the rules between a worker's properties, as SignServer
// documents them (and Signet adds for batch signing). They are every rule a
// worker relies on when it is built: workers read validated properties and
// check nothing of their own, so that `signet config check` refuses exactly
// what the running server puts OFFLINE. A new rule goes here, once.
func propertyRules() []propertyRule {
	return []propertyRule{
		{Kinds: digestKinds(), If: anyTrue(PropBatchSigning, PropAllowBatchSigningOverride, PropClientSideHashing, PropAllowClientSideHashingOverride),
			Need: set(PropAcceptedHashDigestAlgorithms),
			Msg:  "%s=true needs ACCEPTED_HASH_DIGEST_ALGORITHMS: set it to the digest algorithms clients may use, such as SHA-256,SHA-384,SHA-512."},
		{Kinds: plainKinds(), If: anyTrue(PropBatchSigning, PropAllowBatchSigningOverride), Forbid: always,
			Msg: "%s=true is not supported by PlainSigner, which signs one document per request: remove it, or use a CMSSigner or CAdESSigner for batches."},
		{Kinds: signerKinds(), If: anySet(PropArchiveOfType, PropArchiveRetention), Need: set(PropArchivers),
			Msg: "%s has no effect without ARCHIVERS: set ARCHIVERS: OldDatabaseArchiver to archive what the worker signs, or remove it."},
		{If: limited(PropKeyUsageLimit), Forbid: isTrue(PropDisableKeyUsageCounter),
			Msg: "%s cannot be combined with DISABLEKEYUSAGECOUNTER=true, since uncounted signatures cannot be limited: remove one of them."},
		{Kinds: adesKinds(), If: set(PropTSAURL), Forbid: set(PropTSAWorker),
			Msg: "%s and TSA_WORKER cannot both be set: keep the one time-stamp authority to use."},
		{Kinds: adesKinds(), If: equals(PropSignatureLevel, LevelBaselineT), Need: anySet(PropTSAURL, PropTSAWorker),
			Msg: "%s BASELINE-T needs a time-stamp authority: set TSA_URL or TSA_WORKER."},
		{Kinds: pdfKinds(), If: equals(PropSignatureLevel, LevelBaselineLT), Need: anySet(PropTSAURL, PropTSAWorker),
			Msg: "%s BASELINE-LT needs a time-stamp authority: set TSA_URL or TSA_WORKER."},
		{Kinds: cadesKinds(), If: equals(PropSignatureLevel, LevelBaselineLT), Forbid: always,
			Msg: "%s BASELINE-LT is made by PDFSigner only: use BASELINE-B or BASELINE-T for CAdESSigner."},
		{Kinds: adesKinds(), If: set(PropTSAPolicyOID), Forbid: set(PropTSAWorker),
			Msg: "%s is not used with TSA_WORKER: the time-stamp worker stamps under its DEFAULTTSAPOLICYOID; remove TSA_POLICYOID or set that policy there."},
		{Kinds: adesKinds(), If: set(PropTSAUsername), Need: set(PropTSAPassword),
			Msg: "%s needs TSA_PASSWORD: set it as {env: NAME} or {file: PATH}."},
		{Kinds: cmsKinds(), If: isTrue(PropClientSideHashing), Need: isTrue(PropDetachedSignature),
			Msg: "%s=true makes detached signatures only (the server never sees the document): set DETACHEDSIGNATURE=true."},
		{Kinds: cadesKinds(), If: equals(PropIncludeCertificateLevels, "0"), Forbid: always,
			Msg: "%s 0 is not allowed for a CAdES baseline signature, which must carry its signing certificate (ETSI EN 319 122-1, CAdES-B) or no verifier can check it: set 1 or more, or use a CMSSigner."},
		{Kinds: tsaKinds(), If: equals(PropIncludeCertificateLevels, "0"), Forbid: always,
			Msg: "%s 0 is not supported by TimeStampSigner, which must include its certificate: set 1 or more."},
		{Kinds: tsaKinds(), If: set(PropTSA), Forbid: isTrue(PropTSAFromCert),
			Msg: "%s cannot be combined with TSA_FROM_CERT=true: keep one way of naming the TSA."},

		// Tokens.
		{Kinds: []string{TokenSoft}, If: always, Need: either(set(PropKeystorePath), equals(PropKeystoreType, KeystoreDatabase)),
			Msg: "Set KEYSTOREPATH: the keystore folder or file, or set KEYSTORETYPE DATABASE to keep the keystore in the cluster's database."},
	}
}

// Conditions.

func always(Properties) (string, bool) { return "", true }

func set(name string) cond {
	return func(p Properties) (string, bool) { return name, p.IsSet(name) }
}

func anySet(names ...string) cond {
	return func(p Properties) (string, bool) {
		for _, n := range names {
			if p.IsSet(n) {
				return n, true
			}
		}
		return "", false
	}
}

// either holds when one of cs holds.
func either(cs ...cond) cond {
	return func(p Properties) (string, bool) {
		for _, c := range cs {
			if name, ok := c(p); ok {
				return name, true
			}
		}
		return "", false
	}
}

func isTrue(name string) cond {
	return func(p Properties) (string, bool) { return name, p.Bool(name) }
}

func anyTrue(names ...string) cond {
	return func(p Properties) (string, bool) {
		for _, n := range names {
			if p.Bool(n) {
				return n, true
			}
		}
		return "", false
	}
}

func equals(name, value string) cond {
	return func(p Properties) (string, bool) {
		return name, p.IsSet(name) && strings.EqualFold(p.String(name), value)
	}
}

// limited holds when an Int property is set to a limit (not -1).
func limited(name string) cond {
	return func(p Properties) (string, bool) { return name, p.IsSet(name) && p.Int(name) >= 0 }
}

// propertyRuleProblems applies the property rules to the properties of a
// worker (token false) or a token (token true).
func propertyRuleProblems(p Properties, owner Pos, token bool) Problems {
	var ps Problems
	for _, r := range propertyRules() {
		if (r.Kinds == nil && token) || (r.Kinds != nil && !slices.Contains(r.Kinds, p.kind)) {
			continue
		}
		name, ok := r.If(p)
		if !ok {
			continue
		}
		broken := false
		if r.Need != nil {
			if _, ok := r.Need(p); !ok {
				broken = true
			}
		}
		if r.Forbid != nil {
			if _, ok := r.Forbid(p); ok {
				broken = true
			}
		}
		if !broken {
			continue
		}
		pos, msg := owner, r.Msg
		if name != "" {
			if at := p.Pos(name); at != (Pos{}) {
				pos = at
			}
		}
		if strings.Contains(msg, "%s") {
			msg = fmt.Sprintf(msg, name)
		}
		ps.add(pos, "%s", msg)
	}
	return ps
}

// workerRule is one rule about a worker in its configuration: its kind, its
// token and key, and references to other workers.
type workerRule func(w *Worker, c *Config) (Pos, string)

// workerRules are the rules that need the whole configuration. Each returns
// the position and the sentence of a problem, or "" when the worker keeps it.
func workerRules() []workerRule {
	return []workerRule{
		// The kind must be known.
		func(w *Worker, c *Config) (Pos, string) {
			if _, ok := lookupKind(w.Kind); ok {
				return Pos{}, ""
			}
			if w.Kind == "" {
				return w.Pos, "Set kind to one of " + strings.Join(Kinds(), ", ") + "."
			}
			if s := suggest(w.Kind, Kinds(), nil); s != "" {
				return w.Pos, fmt.Sprintf("Unknown worker kind %q: did you mean %s?", w.Kind, s)
			}
			return w.Pos, fmt.Sprintf("Unknown worker kind %q: use one of %s.", w.Kind, strings.Join(Kinds(), ", "))
		},
		// A worker that signs needs a token, and it must be declared.
		func(w *Worker, c *Config) (Pos, string) {
			if k, ok := lookupKind(w.Kind); !ok || !k.signs {
				return Pos{}, ""
			}
			if w.Token == "" {
				return w.Pos, "Set token to the name of a token declared under tokens."
			}
			if _, ok := c.Token(w.Token); ok {
				return Pos{}, ""
			}
			var names []string
			for _, t := range c.Tokens {
				names = append(names, t.Name)
			}
			if s := suggest(w.Token, names, nil); s != "" {
				return w.Pos, fmt.Sprintf("Token %q is not declared: did you mean %s?", w.Token, s)
			}
			return w.Pos, fmt.Sprintf("Token %q is not declared: declare it under tokens or correct the name.", w.Token)
		},
		// The token must be configured correctly itself.
		func(w *Worker, c *Config) (Pos, string) {
			t, ok := c.Token(w.Token)
			if !ok || len(t.Problems) == 0 {
				return Pos{}, ""
			}
			return w.Pos, fmt.Sprintf("Token %q has configuration problems (first at %s): fix them.", w.Token, t.Problems[0].Pos)
		},
		// A worker that signs needs a key alias.
		func(w *Worker, c *Config) (Pos, string) {
			if k, ok := lookupKind(w.Kind); ok && k.signs && w.Key == "" {
				return w.Pos, "Set key to the alias of the signing key in the token."
			}
			return Pos{}, ""
		},
		// TSA_WORKER must name a TimeStampSigner of this configuration.
		func(w *Worker, c *Config) (Pos, string) {
			ref := w.Properties.String(PropTSAWorker)
			if ref == "" {
				return Pos{}, ""
			}
			for _, o := range c.Workers {
				if strings.EqualFold(o.Name, ref) || strconv.Itoa(o.ID) == ref {
					if o.Kind != KindTimeStampSigner {
						return w.Properties.Pos(PropTSAWorker), fmt.Sprintf("TSA_WORKER %q is a %s, not a TimeStampSigner: name a TimeStampSigner worker.", ref, o.Kind)
					}
					return tsaDigestAccepted(w, &o, ref)
				}
			}
			return w.Properties.Pos(PropTSAWorker), fmt.Sprintf("TSA_WORKER %q names no worker of this configuration: name a TimeStampSigner worker by name or ID.", ref)
		},
	}
}

// tsaDigestAccepted reports a time-stamping worker w whose
// TSA_DIGESTALGORITHM its TSA_WORKER tsa (named ref) does not accept: the
// worker was ACTIVE, its key signed each request and the TSA then refused
// every time-stamp.
func tsaDigestAccepted(w, tsa *Worker, ref string) (Pos, string) {
	if lvl := w.Properties.String(PropSignatureLevel); lvl != LevelBaselineT && lvl != LevelBaselineLT {
		return Pos{}, ""
	}
	name := w.Properties.String(PropTSADigestAlgorithm)
	h, err := tsp.ParseHash(name)
	if err != nil { // reported with the value
		return Pos{}, ""
	}
	accepted, names := tsp.DefaultAcceptedAlgorithms(), "its default"
	if tsa.Properties.IsSet(PropAcceptedAlgorithms) {
		accepted, names = nil, "its ACCEPTEDALGORITHMS"
		for _, item := range tsa.Properties.List(PropAcceptedAlgorithms) {
			if a, err := tsp.ParseHash(item); err == nil {
				accepted = append(accepted, a)
			}
		}
	}
	if slices.Contains(accepted, h) {
		return Pos{}, ""
	}
	var list []string
	for _, a := range accepted {
		list = append(list, a.String())
	}
	pos := w.Properties.Pos(PropTSADigestAlgorithm)
	if !w.Properties.IsSet(PropTSADigestAlgorithm) {
		pos = w.Properties.Pos(PropTSAWorker)
	}
	return pos, fmt.Sprintf("TSA_DIGESTALGORITHM %s is not accepted by time-stamp worker %s, which takes %s (%s): set TSA_DIGESTALGORITHM to one of them or add it to the TSA's ACCEPTEDALGORITHMS.", name, ref, strings.Join(list, ", "), names)
}
