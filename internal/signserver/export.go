package signserver

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/properties"
)

// workerClasses maps Signet worker kinds to the SignServer implementation
// classes Export writes. Import recognises a class by its last segment, so
// every class here reads back as the same kind.
func workerClasses() map[string]string {
	return map[string]string{
		config.KindCMSSigner:       "org.signserver.module.cmssigner.CMSSigner",
		config.KindPlainSigner:     "org.signserver.module.cmssigner.PlainSigner",
		config.KindCAdESSigner:     "org.signserver.module.cades.signer.CAdESSigner", // SignServer Enterprise
		config.KindTimeStampSigner: "org.signserver.module.tsa.TimeStampSigner",
		config.KindPDFSigner:       "org.signserver.module.pdfsigner.PDFSigner",
	}
}

// tokenClasses maps Signet token types to SignServer crypto token classes.
func tokenClasses() map[string]string {
	return map[string]string{
		config.TokenSoft:   "org.signserver.server.cryptotokens.KeystoreCryptoToken",
		config.TokenPKCS11: "org.signserver.server.cryptotokens.PKCS11CryptoToken",
	}
}

// Export writes the workers and crypto tokens of a Signet configuration as a
// SignServer property file for `signserver setproperties`: workers keep
// their IDs, tokens become crypto workers with the IDs after the highest
// worker ID. Secrets (pins, passwords) are never written: SignServer would
// keep them in clear text; activate its crypto workers instead. What
// SignServer has no place for is in the returned skips.
func Export(cfg *config.Config) ([]byte, []Skip) {
	var b bytes.Buffer
	var skipped []Skip
	b.WriteString("# SignServer worker properties written by signet config export-signserver.\n")
	b.WriteString("# Load them with: bin/signserver setproperties FILE\n")
	next := 1
	for _, w := range cfg.Workers {
		next = max(next, w.ID+1)
	}
	for _, w := range cfg.Workers {
		class, ok := workerClasses()[w.Kind]
		if !ok {
			skipped = append(skipped, Skip{Pos: w.Pos, Worker: w.Name,
				Reason: fmt.Sprintf("SignServer has no %s worker that Signet knows the class of: the worker is not exported.", w.Kind)})
			continue
		}
		ref := "WORKER" + strconv.Itoa(w.ID)
		fmt.Fprintf(&b, "\n## %s\n", w.Name)
		put(&b, ref, "TYPE", "PROCESSABLE")
		put(&b, ref, "IMPLEMENTATION_CLASS", class)
		put(&b, ref, "NAME", w.Name)
		if w.Token != "" {
			put(&b, ref, "CRYPTOTOKEN", w.Token)
		}
		if w.Key != "" {
			put(&b, ref, "DEFAULTKEY", w.Key)
		}
		skipped = append(skipped, putProperties(&b, ref, w.Name, w.Properties, func(n string) bool {
			def, ok := config.LookupProperty(n)
			return ok && def.Secret
		})...)
		skipped = append(skipped, workerAccessSkips(w)...)
	}
	for _, t := range cfg.Tokens {
		class, ok := tokenClasses()[t.Type]
		if !ok {
			skipped = append(skipped, Skip{Pos: t.Pos, Worker: t.Name,
				Reason: fmt.Sprintf("SignServer has no crypto token for Signet's %s token: the token is not exported, and the workers that use it need a crypto worker named %s.", t.Type, t.Name)})
			continue
		}
		ref := "WORKER" + strconv.Itoa(next)
		next++
		fmt.Fprintf(&b, "\n## crypto token %s\n", t.Name)
		put(&b, ref, "TYPE", "CRYPTO_WORKER")
		put(&b, ref, "IMPLEMENTATION_CLASS", "org.signserver.server.signers.CryptoWorker")
		put(&b, ref, "CRYPTOTOKEN_IMPLEMENTATION_CLASS", class)
		put(&b, ref, "NAME", t.Name)
		secret := map[string]bool{}
		for _, p := range config.TokenSchema(t.Type) {
			secret[p.Name] = p.Secret
		}
		skipped = append(skipped, putProperties(&b, ref, t.Name, t.Properties, func(n string) bool { return secret[n] })...)
		for _, k := range t.Keys {
			if len(k.Properties.Names()) == 0 { // a key declared without a policy: nothing is lost
				continue
			}
			skipped = append(skipped, Skip{Pos: k.Pos, Worker: t.Name, Property: "keys",
				Reason: fmt.Sprintf("SignServer has no policy per key of a crypto token: set %s on each worker that signs with key %s.", strings.Join(k.Properties.Names(), ", "), k.Alias)})
		}
		if !t.PIN.IsZero() {
			what := cmp.Or(map[string]string{config.TokenSoft: "KEYSTOREPASSWORD", config.TokenPKCS11: "PIN"}[t.Type], "PIN")
			skipped = append(skipped, Skip{Pos: t.Pos, Worker: t.Name, Property: what,
				Reason: "secrets are not exported (SignServer would keep them in clear text): activate the crypto worker with signserver activatecryptotoken."})
		}
	}
	if len(cfg.Users) > 0 {
		skipped = append(skipped, Skip{Worker: "users",
			Reason: "SignServer keeps its administrators and client authorizations in its own configuration: set them up there."})
	}
	return b.Bytes(), skipped
}

// workerAccessSkips are a worker's authorized clients and own users, which
// SignServer keeps outside the worker properties: each is listed with
// what to do in SignServer (for a client, the command that adds it).
func workerAccessSkips(w config.Worker) []Skip {
	var skipped []Skip
	for _, a := range w.AuthorizedClients {
		cmd := "bin/signserver authorizedclients -worker " + shellQuote(w.Name) + " -add" +
			" -matchSubjectWithType " + shellQuote(a.SubjectType) + " -matchSubjectWithValue " + shellQuote(a.SubjectValue) +
			" -matchIssuerWithType " + shellQuote(a.IssuerType) + " -matchIssuerWithValue " + shellQuote(a.IssuerValue)
		if a.Description != "" {
			cmd += " -description " + shellQuote(a.Description)
		}
		skipped = append(skipped, Skip{Pos: a.Pos, Worker: w.Name, Property: config.FieldAuthorizedClients,
			Reason: "SignServer keeps authorized clients outside the worker properties: add this one with " + cmd + "."})
	}
	for _, u := range w.Users {
		skipped = append(skipped, Skip{Pos: u.Pos, Worker: w.Name, Property: "users",
			Reason: fmt.Sprintf("SignServer's UsernamePasswordAuthorizer keeps its users as USER.NAME worker properties with its own password hashes, not bcrypt: set user %s there by hand.", u.Name)})
	}
	return skipped
}

// shellQuote quotes s for a POSIX shell when it holds more than letters,
// digits and the punctuation a shell leaves alone.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// putProperties writes the properties a configuration sets, in the order
// they are written in its file, except secrets.
func putProperties(b *bytes.Buffer, ref, owner string, ps config.Properties, isSecret func(string) bool) []Skip {
	names := ps.Names()
	slices.SortStableFunc(names, func(x, y string) int {
		return cmp.Or(cmp.Compare(ps.Pos(x).File, ps.Pos(y).File), cmp.Compare(ps.Pos(x).Line, ps.Pos(y).Line))
	})
	var skipped []Skip
	m := ps.Map()
	for _, n := range names {
		if isSecret(n) {
			skipped = append(skipped, Skip{Pos: ps.Pos(n), Worker: owner, Property: n,
				Reason: "secrets are not exported (SignServer would keep them in clear text): set it in SignServer by hand."})
			continue
		}
		name, value, reason := exportProperty(n, m[n])
		if reason != "" {
			skipped = append(skipped, Skip{Pos: ps.Pos(n), Worker: owner, Property: n, Reason: reason})
			continue
		}
		put(b, ref, name, value)
	}
	return skipped
}

// exportProperty returns SignServer's name and value of a Signet
// property, or why SignServer has none: the archiver is named by its class,
// and its ARCHIVE_OF_TYPE is the first archiver's (ARCHIVER0.), as
// SignServer spells them.
func exportProperty(name, value string) (string, string, string) {
	switch name {
	case config.PropArchivers:
		return name, config.ArchiverDatabaseClass, ""
	case config.PropArchiveOfType:
		return "ARCHIVER0." + name, value, ""
	case config.PropArchiveRetention:
		return "", "", "SignServer keeps its archive until it is purged by hand: ARCHIVE_RETENTION is Signet's own."
	case config.PropAuthType:
		if value == config.AuthUsernamePassword {
			// SignServer's AUTHTYPE is NOAUTH, CLIENTCERT or an authorizer
			// class: the word USERNAME_PASSWORD would be loaded as a class
			// and leave the worker in error.
			return name, usernamePasswordAuthorizer, ""
		}
	}
	return name, value, ""
}

// usernamePasswordAuthorizer is the SignServer class of Signet's AUTHTYPE
// USERNAME_PASSWORD; import recognises it by its last segment.
const usernamePasswordAuthorizer = "org.signserver.server.UsernamePasswordAuthorizer"

func put(b *bytes.Buffer, ref, name, value string) {
	fmt.Fprintf(b, "%s.%s=%s\n", ref, properties.Escape(name, true), properties.Escape(value, false))
}
