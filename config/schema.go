package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is the type of a property's value.
type Type int

// Property types.
const (
	// Bool is true or false, in any letter case.
	Bool Type = iota
	// Int is a decimal integer.
	Int
	// String is free text.
	String
	// List is a comma (or semicolon) separated list; items are trimmed and
	// empty items dropped. When the property has Values, every item must be
	// one of them.
	List
	// Duration is a Go duration such as 10s, 1m30s or 500ms.
	Duration
	// Enum is one of the property's Values, in any letter case.
	Enum
	// OID is an object identifier in dotted decimal, such as 1.2.840.113549.1.7.1.
	OID
	// Path is a file path; a relative path is relative to the folder of the
	// YAML file that sets it, and Load makes it absolute.
	Path
)

// String returns the name of the type as the documentation writes it.
func (t Type) String() string {
	switch t {
	case Bool:
		return "bool"
	case Int:
		return "int"
	case String:
		return "string"
	case List:
		return "list"
	case Duration:
		return "duration"
	case Enum:
		return "enum"
	case OID:
		return "oid"
	case Path:
		return "path"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Property declares one property: its name as SignServer's manual spells it,
// its type, its default and what it means.
type Property struct {
	Name    string
	Type    Type
	Default string // as it would be written in YAML; empty: no default
	Doc     string // the meaning, after SignServer's manual
	// Kinds lists the worker kinds the property applies to; nil means every
	// worker kind. Token properties leave it nil.
	Kinds []string
	// Values are the allowed values of an Enum, or of the items of a List.
	Values []string
	// OverriddenBy names the ALLOW_*_OVERRIDE property that lets request
	// metadata override this one; MetaKey is that metadata key.
	OverriddenBy string
	MetaKey      string
	// Secret marks a value that must not be written in the configuration:
	// it is given as {env: NAME} or {file: PATH} and read with
	// Properties.Secret.
	Secret bool
	// Required marks a property that must be set.
	Required bool

	// check validates a value beyond its type; it returns what to fix, or "".
	check func(v string) string
}

// Worker kinds.
const (
	KindCMSSigner       = "CMSSigner"
	KindCAdESSigner     = "CAdESSigner"
	KindPlainSigner     = "PlainSigner"
	KindTimeStampSigner = "TimeStampSigner"
	KindPDFSigner       = "PDFSigner"
	KindCMSValidator    = "CMSValidator"
	KindPDFValidator    = "PDFValidator"
)

// Token types.
const (
	TokenSoft   = "soft"
	TokenPKCS11 = "pkcs11"
	TokenNetHSM = "nethsm"
	TokenDSM    = "dsm"
)

// Request metadata keys that override properties, as SignServer names them.
const (
	MetaUsingBatchSigning       = "USING_BATCHSIGNING"
	MetaUsingClientSuppliedHash = "USING_CLIENTSUPPLIED_HASH"
	MetaClientSideHashAlgorithm = "CLIENTSIDE_HASHDIGESTALGORITHM"
	MetaDetachedSignature       = "DETACHEDSIGNATURE"
	MetaContentOID              = "CONTENTOID"
)

// kind describes a worker kind.
type kind struct {
	name  string
	signs bool // needs a token and a key
}

func kindTable() []kind {
	return []kind{
		{KindCMSSigner, true},
		{KindCAdESSigner, true},
		{KindPlainSigner, true},
		{KindTimeStampSigner, true},
		{KindPDFSigner, true},
		{KindCMSValidator, false},
		{KindPDFValidator, false},
	}
}

// Kinds returns the worker kinds a configuration may use.
func Kinds() []string {
	var names []string
	for _, k := range kindTable() {
		names = append(names, k.name)
	}
	return names
}

func lookupKind(name string) (kind, bool) {
	for _, k := range kindTable() {
		if k.name == name {
			return k, true
		}
	}
	return kind{}, false
}

// TokenTypes returns the token types a configuration may use.
func TokenTypes() []string { return []string{TokenSoft, TokenPKCS11, TokenNetHSM, TokenDSM} }

// digestNames are the spellings of digest algorithms accepted in
// ACCEPTED_HASH_DIGEST_ALGORITHMS, TSA_DIGESTALGORITHM and friends: the JCA
// names SignServer uses (SHA-256) and the short ones (SHA256).
func digestNames() []string {
	return []string{
		"SHA-1", "SHA1",
		"SHA-224", "SHA224",
		"SHA-256", "SHA256",
		"SHA-384", "SHA384",
		"SHA-512", "SHA512",
		"SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512",
	}
}

// Kind groups for Property.Kinds, as functions: no package-level mutable state.
func cmsKinds() []string    { return []string{KindCMSSigner, KindCAdESSigner} }
func digestKinds() []string { return []string{KindCMSSigner, KindCAdESSigner, KindPlainSigner} }
func cadesKinds() []string  { return []string{KindCAdESSigner} }

// signerKinds are the kinds that sign with a key (not the validators).
func signerKinds() []string {
	var out []string
	for _, k := range kindTable() {
		if k.signs {
			out = append(out, k.name)
		}
	}
	return out
}

// adesKinds are the signers with baseline levels and a time-stamp authority.
func adesKinds() []string { return []string{KindCAdESSigner, KindPDFSigner} }

// batchKinds are the kinds that sign batches.
func batchKinds() []string {
	return []string{KindCMSSigner, KindCAdESSigner, KindPlainSigner, KindPDFSigner}
}
func pdfKinds() []string       { return []string{KindPDFSigner} }
func validatorKinds() []string { return []string{KindCMSValidator, KindPDFValidator} }
func revocationKinds() []string {
	return []string{KindPDFSigner, KindCMSValidator, KindPDFValidator}
}
func tsaKinds() []string { return []string{KindTimeStampSigner} }

// workerSchema is the table of worker properties. It is built on each call
// so that callers cannot change it for each other.
func workerSchema() []Property {
	return []Property{
		// Every worker.
		{Name: "DISABLED", Type: Bool, Default: "false",
			Doc: "When true the worker stays configured but is disabled: it is OFFLINE and refuses every request."},
		{Name: "AUTHTYPE", Type: Enum, Default: "NOAUTH", Values: []string{"NOAUTH", "CLIENTCERT"},
			Doc: "How clients are authorised: NOAUTH accepts every client, CLIENTCERT requires a TLS client certificate. (SignServer's own default is CLIENTCERT; Signet's is NOAUTH so that the demo works out of the box.)"},
		{Name: "SIGNATUREALGORITHM", Type: String, Kinds: signerKinds(), check: checkSignatureAlgorithm,
			Doc: "Signature algorithm, such as SHA256withRSA, SHA256withRSAandMGF1, SHA384withECDSA, Ed25519, or NONEwithECDSA for a plain signature over a client-side digest. Default: chosen from the key (SHA256withECDSA for EC keys, Ed25519 for Ed25519 keys, otherwise SHA256withRSA)."},
		{Name: "INCLUDE_CERTIFICATE_LEVELS", Type: Int, Kinds: signerKinds(), check: atLeast(0),
			Doc: "Number of certificates of the signer's chain to include, signer first. Default: the whole chain. 0 (no certificates) is not supported by TimeStampSigner."},
		{Name: "KEYUSAGELIMIT", Type: Int, Kinds: signerKinds(), Default: "-1", check: atLeast(-1),
			Doc: "Number of signatures the worker's key may make; once reached the worker is OFFLINE. The counter is per key, shared by every worker using the key. -1: no limit."},
		{Name: "DISABLEKEYUSAGECOUNTER", Type: Bool, Kinds: signerKinds(), Default: "false",
			Doc: "When true, signatures made by this worker are not counted. Cannot be combined with KEYUSAGELIMIT."},

		// CMS and CAdES.
		{Name: "DIGESTALGORITHM", Type: Enum, Values: digestNames(), Kinds: append(cmsKinds(), KindPDFSigner),
			Doc: "Digest algorithm of the content (the message-digest attribute). Default: the one of SIGNATUREALGORITHM."},
		{Name: "DETACHEDSIGNATURE", Type: Bool, Default: "false", Kinds: cmsKinds(),
			OverriddenBy: "ALLOW_DETACHEDSIGNATURE_OVERRIDE", MetaKey: MetaDetachedSignature,
			Doc: "When true the signature does not encapsulate the content (a detached, external signature)."},
		{Name: "ALLOW_DETACHEDSIGNATURE_OVERRIDE", Type: Bool, Default: "false", Kinds: cmsKinds(),
			Doc: "When true a request may choose DETACHEDSIGNATURE with request metadata DETACHEDSIGNATURE=true|false."},
		{Name: "CONTENTOID", Type: OID, Default: "1.2.840.113549.1.7.1", Kinds: cmsKinds(),
			OverriddenBy: "ALLOW_CONTENTOID_OVERRIDE", MetaKey: MetaContentOID,
			Doc: "Content type OID of the signed data (eContentType). Default: id-data, 1.2.840.113549.1.7.1."},
		{Name: "ALLOW_CONTENTOID_OVERRIDE", Type: Bool, Default: "false", Kinds: cmsKinds(),
			Doc: "When true a request may set the content type OID with request metadata CONTENTOID."},

		// Client-side hashing and batch signing.
		{Name: "CLIENTSIDEHASHING", Type: Bool, Default: "false", Kinds: digestKinds(),
			OverriddenBy: "ALLOW_CLIENTSIDEHASHING_OVERRIDE", MetaKey: MetaUsingClientSuppliedHash,
			Doc: "When true the request data is a digest the client computed, not the document; ACCEPTED_HASH_DIGEST_ALGORITHMS must then be set."},
		{Name: "ALLOW_CLIENTSIDEHASHING_OVERRIDE", Type: Bool, Default: "false", Kinds: digestKinds(),
			Doc: "When true a request may say with USING_CLIENTSUPPLIED_HASH=true (and CLIENTSIDE_HASHDIGESTALGORITHM) that its data is a digest; ACCEPTED_HASH_DIGEST_ALGORITHMS must then be set."},
		{Name: "ACCEPTED_HASH_DIGEST_ALGORITHMS", Type: List, Values: digestNames(), Kinds: digestKinds(),
			Doc: "Comma-separated digest algorithms a client-side digest may use, such as SHA-256,SHA-384,SHA-512. No default: mandatory when client-side hashing or batch signing is on or may be requested."},
		{Name: "BATCHSIGNING", Type: Bool, Default: "false", Kinds: batchKinds(),
			OverriddenBy: "ALLOW_BATCHSIGNING_OVERRIDE", MetaKey: MetaUsingBatchSigning,
			Doc: "When true every request is a batch: a list of digests signed with one key in one call. ACCEPTED_HASH_DIGEST_ALGORITHMS must then be set."},
		{Name: "ALLOW_BATCHSIGNING_OVERRIDE", Type: Bool, Default: "false", Kinds: batchKinds(),
			Doc: "When true a request chooses with USING_BATCHSIGNING=true|false whether it is a batch; ACCEPTED_HASH_DIGEST_ALGORITHMS must then be set."},
		{Name: "MAX_BATCH_SIZE", Type: Int, Default: "1000", Kinds: batchKinds(), check: atLeast(1),
			Doc: "Signet's own: the largest number of items one batch request may hold."},

		// CAdES baseline levels and time-stamping.
		{Name: "SIGNATURE_LEVEL", Type: Enum, Default: "BASELINE-B", Values: []string{"BASELINE-B", "BASELINE-T", "BASELINE-LT"}, Kinds: adesKinds(),
			Doc: "CAdES or PAdES baseline level: BASELINE-B, BASELINE-T which adds a signature time-stamp from TSA_URL or TSA_WORKER, or (PDFSigner only) BASELINE-LT which also adds a Document Security Store with the certificates and CRLs of the signer and TSA chains."},
		{Name: "TSA_URL", Type: String, Kinds: adesKinds(), check: checkHTTPURL,
			Doc: "URL of an external RFC 3161 time-stamp authority. Cannot be combined with TSA_WORKER."},
		{Name: "TSA_WORKER", Type: String, Kinds: adesKinds(),
			Doc: "Name or ID of a TimeStampSigner worker of this server to time-stamp with. Cannot be combined with TSA_URL."},
		{Name: "TSA_USERNAME", Type: String, Kinds: adesKinds(),
			Doc: "User name for HTTP Basic authentication to TSA_URL; TSA_PASSWORD is then required."},
		{Name: "TSA_PASSWORD", Type: String, Kinds: adesKinds(), Secret: true,
			Doc: "Password for HTTP Basic authentication to TSA_URL, given as {env: NAME} or {file: PATH}."},
		{Name: "TSA_DIGESTALGORITHM", Type: Enum, Default: "SHA-256", Values: digestNames(), Kinds: adesKinds(),
			Doc: "Digest algorithm of the time-stamp request's message imprint."},
		{Name: "TSA_POLICYOID", Type: OID, Kinds: adesKinds(),
			Doc: "Time-stamp policy OID to request from the TSA. Default: none, the TSA's default policy."},
		{Name: "TSA_TIMEOUT", Type: Duration, Default: "10s", Kinds: adesKinds(), check: positiveDuration,
			Doc: "Signet's own: how long to wait for the time-stamp authority, such as 10s."},

		// PDFSigner (SignServer's names; CONTACTINFO is Signet's own).
		{Name: "REASON", Type: String, Kinds: pdfKinds(),
			Doc: "The reason for signing, written in the signature dictionary (/Reason). Default: none. A request may set it with REQUEST_METADATA.REASON when ALLOW_PROPERTY_OVERRIDE lists it."},
		{Name: "LOCATION", Type: String, Kinds: pdfKinds(),
			Doc: "The place of signing (/Location). Default: none. Overridable like REASON."},
		{Name: "CONTACTINFO", Type: String, Kinds: pdfKinds(),
			Doc: "Signet's own: how to reach the signer (/ContactInfo). Default: none. Overridable like REASON."},
		{Name: "ALLOW_PROPERTY_OVERRIDE", Type: List, Values: []string{"REASON", "LOCATION", "CONTACTINFO"}, Kinds: pdfKinds(),
			Doc: "Properties a request may override with request metadata of the same name, such as REASON,LOCATION."},
		{Name: "CERTIFICATION_LEVEL", Type: Enum, Default: "NOT_CERTIFIED", Values: []string{"NOT_CERTIFIED", "FORM_FILLING", "FORM_FILLING_AND_ANNOTATIONS", "NO_CHANGES_ALLOWED"}, Kinds: pdfKinds(),
			Doc: "NOT_CERTIFIED makes approval signatures; the others a certification (DocMDP) signature allowing form filling (and annotations), or no change at all. A certification signature must be a document's first."},
		{Name: "ADD_VISIBLE_SIGNATURE", Type: Bool, Default: "false", Kinds: pdfKinds(),
			Doc: "When true the signature is shown on a page: a rectangle with the signer's name, the time and the reason."},
		{Name: "VISIBLE_SIGNATURE_PAGE", Type: String, Default: "First", Kinds: pdfKinds(), check: checkPage,
			Doc: "The page of a visible signature: First, Last or a page number."},
		{Name: "VISIBLE_SIGNATURE_RECTANGLE", Type: String, Default: "400,700,500,800", Kinds: pdfKinds(), check: checkRectangle,
			Doc: "The rectangle of a visible signature: lower-left x, y, upper-right x, y in points."},
		{Name: "VISIBLE_SIGNATURE_NAME", Type: String, Kinds: pdfKinds(),
			Doc: "The signature field's name. Default: Signature1, Signature2, … the first free."},
		{Name: "MAX_PDF_OBJECTS", Type: Int, Default: "1000000", Kinds: append(pdfKinds(), KindPDFValidator), check: atLeast(1),
			Doc: "Signet's own: the largest number of objects a PDF may declare; a hostile file claiming more is refused with 400."},

		// Validators and B-LT revocation data.
		{Name: "TRUSTANCHORS", Type: Path, Kinds: validatorKinds(), Required: true,
			Doc: "Signet's own: a PEM file of the trusted root certificates signatures are validated against. Required."},
		{Name: "REVOCATION_FETCH", Type: Bool, Default: "true", Kinds: validatorKinds(),
			Doc: "Signet's own: when true, CRLs a signature does not carry are fetched from the HTTP distribution points its certificates name."},
		{Name: "REVOCATION_TIMEOUT", Type: Duration, Default: "10s", Kinds: revocationKinds(), check: positiveDuration,
			Doc: "Signet's own: how long to wait for a CRL distribution point; fetched CRLs are cached until their nextUpdate, at most an hour."},

		// TimeStampSigner.
		{Name: "DEFAULTTSAPOLICYOID", Type: OID, Kinds: tsaKinds(), Required: true,
			Doc: "The TSA's default policy OID, used when a request names none. Required."},
		{Name: "ACCEPTEDPOLICIES", Type: List, Kinds: tsaKinds(), check: checkOIDList,
			Doc: "Policy OIDs (separated by ; or ,) a request may ask for. Default: none, and a request must then not name a policy."},
		{Name: "ACCEPTEDALGORITHMS", Type: List, Values: digestNames(), Kinds: tsaKinds(),
			Doc: "Digest algorithms (separated by ; or ,) a request's message imprint may use, such as SHA256;SHA384;SHA512. Default: any supported."},
		{Name: "ACCURACYMICROS", Type: Int, Kinds: tsaKinds(), check: between(0, 999),
			Doc: "Accuracy of the time in microseconds, written in each token. Default: not written."},
		{Name: "ACCURACYMILLIS", Type: Int, Kinds: tsaKinds(), check: between(0, 999),
			Doc: "Accuracy of the time in milliseconds, written in each token. Default: not written."},
		{Name: "ACCURACYSECONDS", Type: Int, Kinds: tsaKinds(), check: atLeast(0),
			Doc: "Accuracy of the time in seconds, written in each token. Default: not written."},
		{Name: "ORDERING", Type: Bool, Default: "false", Kinds: tsaKinds(),
			Doc: "The ordering field of each token: true claims tokens can be ordered by their time alone."},
		{Name: "INCLUDESTATUSSTRING", Type: Bool, Default: "true", Kinds: tsaKinds(),
			Doc: "When true responses carry a status string besides the status code."},
		{Name: "TSA", Type: String, Kinds: tsaKinds(),
			Doc: "The TSA name (an X.500 distinguished name) written in the tsa field of each token. Cannot be combined with TSA_FROM_CERT=true."},
		{Name: "TSA_FROM_CERT", Type: Bool, Default: "false", Kinds: tsaKinds(),
			Doc: "When true the tsa field of each token is the subject of the signer certificate."},
	}
}

// tokenSchemas is the table of token properties per token type.
func tokenSchemas() map[string][]Property {
	poolSize := func() Property {
		return Property{Name: "POOLSIZE", Type: Int, Default: "8", check: atLeast(1),
			Doc: "Signet's own: how many signatures the token computes at once (sessions or connections)."}
	}
	remote := func(maxBatch bool) []Property {
		ps := []Property{
			{Name: "URL", Type: String, Required: true, check: checkHTTPURL,
				Doc: "Base URL of the HSM's REST API, such as https://nethsm.example:8443."},
			{Name: "USER", Type: String,
				Doc: "User (NetHSM operator user ID, or DSM app ID) to authenticate as; the secret is the token's pin."},
			{Name: "CABUNDLE", Type: Path,
				Doc: "PEM file of CA certificates to trust for the HSM's TLS certificate. Default: the system roots."},
			{Name: "TIMEOUT", Type: Duration, Default: "30s", check: positiveDuration,
				Doc: "How long one call to the HSM may take."},
			poolSize(),
		}
		if maxBatch {
			ps = append(ps, Property{Name: "MAXBATCHSIZE", Type: Int, check: atLeast(1),
				Doc: "Largest number of items sent in one batch sign call; larger batches are split. Default: no limit."})
			ps = append(ps, Property{Name: "CHAINDIR", Type: Path,
				Doc: "Folder of certificate chain files named <alias>.pem (signer first): the DSM API holds no certificates."})
		}
		return ps
	}
	nethsm := remote(false)
	nethsm[1].Required = true // NetHSM always needs a user
	nethsm = append(nethsm, Property{Name: "KEYIDS", Type: List,
		Doc: "NetHSM key IDs the token uses, comma separated. Default: every key the user may list."})
	return map[string][]Property{
		TokenSoft: {
			{Name: "KEYSTOREPATH", Type: Path,
				Doc: "Path of the keystore file, relative to the YAML file's folder unless absolute; required unless KEYSTORETYPE is DATABASE."},
			{Name: "KEYSTORETYPE", Type: Enum, Default: "PKCS12", Values: []string{"PKCS12", "PEM", KeystoreDatabase},
				Doc: "Format of the keystore: PKCS12, PEM (keys and certificates in one PEM file), or DATABASE (PKCS#12 files in the cluster's PostgreSQL database, shared by every node; needs a state postgres section). The keystore password is the token's pin."},
		},
		TokenPKCS11: {
			{Name: "SHAREDLIBRARYNAME", Type: String, Required: true,
				Doc: "The PKCS#11 module: an absolute path, or a library name the dynamic loader finds, such as /usr/lib/softhsm/libsofthsm2.so."},
			{Name: "SLOTLABELTYPE", Type: Enum, Required: true, Values: []string{"SLOT_NUMBER", "SLOT_INDEX", "SLOT_LABEL"},
				Doc: "How SLOTLABELVALUE names the slot: SLOT_NUMBER (the slot ID), SLOT_INDEX (zero-based index in the slot list) or SLOT_LABEL (the token label)."},
			{Name: "SLOTLABELVALUE", Type: String, Required: true,
				Doc: "The slot, in the form SLOTLABELTYPE says."},
			poolSize(),
		},
		TokenNetHSM: nethsm,
		TokenDSM:    remote(true),
	}
}

// Schema returns the worker property schema, a fresh copy on each call.
func Schema() []Property { return workerSchema() }

// LookupProperty returns the declaration of a worker property.
func LookupProperty(name string) (Property, bool) {
	for _, p := range workerSchema() {
		if p.Name == name {
			return p, true
		}
	}
	return Property{}, false
}

// TokenSchema returns the properties of a token type, or nil for an unknown
// type.
func TokenSchema(tokenType string) []Property { return tokenSchemas()[tokenType] }

// AppliesTo reports whether the property applies to a worker kind.
func (p Property) AppliesTo(kind string) bool {
	return p.Kinds == nil || slices.Contains(p.Kinds, kind)
}

// Check validates one value of the property, as Load does: its type, its
// allowed values and its own rule (rules between properties need the whole
// set: see NewProperties). It returns the sentence saying what to fix, or
// "". Tools that write configurations use it so that they refuse exactly
// what the server would.
func (p Property) Check(v string) string { return p.validate(v) }

// validate checks a value against the property's type; it returns what to
// fix, or "".
func (p Property) validate(v string) string {
	v = strings.TrimSpace(v)
	switch p.Type {
	case Bool:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Sprintf("%s must be true or false, not %q.", p.Name, v)
		}
	case Int:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Sprintf("%s must be a whole number, not %q.", p.Name, v)
		}
	case Duration:
		if _, err := time.ParseDuration(v); err != nil {
			return fmt.Sprintf("%s must be a duration such as 10s or 1m30s, not %q.", p.Name, v)
		}
	case Enum:
		if _, ok := canonical(p.Values, v); !ok {
			return fmt.Sprintf("%s must be one of %s, not %q.", p.Name, strings.Join(p.Values, ", "), v)
		}
	case List:
		if p.Values != nil {
			for _, item := range splitList(v) {
				if _, ok := canonical(p.Values, item); !ok {
					return fmt.Sprintf("%s lists unknown value %q: use items from %s.", p.Name, item, strings.Join(p.Values, ", "))
				}
			}
		}
	case OID:
		if !isOID(v) {
			return fmt.Sprintf("%s must be an object identifier in dotted decimal such as 1.2.840.113549.1.7.1, not %q.", p.Name, v)
		}
	}
	if p.check != nil {
		if msg := p.check(v); msg != "" {
			return p.Name + " " + msg
		}
	}
	return ""
}

// canonical finds v among values ignoring letter case and returns the
// declared spelling.
func canonical(values []string, v string) (string, bool) {
	for _, c := range values {
		if strings.EqualFold(c, v) {
			return c, true
		}
	}
	return "", false
}

// splitList splits a list value on commas and semicolons (SignServer's
// TimeStampSigner separates with ;), trims the items and drops empty ones.
func splitList(v string) []string {
	var items []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			items = append(items, f)
		}
	}
	return items
}

func isOID(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.TrimLeft(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			return false
		}
	}
	return parts[0] == "0" || parts[0] == "1" || parts[0] == "2"
}

// Value checks beyond the type. Each returns the end of a sentence that
// starts with the property name, or "".

func atLeast(min int) func(string) string {
	return func(v string) string {
		if n, err := strconv.Atoi(v); err == nil && n < min {
			return fmt.Sprintf("must be at least %d, not %d.", min, n)
		}
		return ""
	}
}

func between(min, max int) func(string) string {
	return func(v string) string {
		if n, err := strconv.Atoi(v); err == nil && (n < min || n > max) {
			return fmt.Sprintf("must be between %d and %d, not %d.", min, max, n)
		}
		return ""
	}
}

func positiveDuration(v string) string {
	if d, err := time.ParseDuration(v); err == nil && d <= 0 {
		return fmt.Sprintf("must be longer than zero, not %q.", v)
	}
	return ""
}

func checkHTTPURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("must be an http:// or https:// URL, not %q.", v)
	}
	return ""
}

func checkOIDList(v string) string {
	for _, item := range splitList(v) {
		if !isOID(item) {
			return fmt.Sprintf("lists %q, which is not an object identifier in dotted decimal such as 1.2.3.4.", item)
		}
	}
	return ""
}

// checkSignatureAlgorithm accepts the shape of SignServer's algorithm names
// (DIGESTwithSCHEME, Ed25519, Ed448) so that typos are caught here; whether
// the key can use the algorithm is the worker's business.
func checkSignatureAlgorithm(v string) string {
	const hint = "is not a signature algorithm: use a name such as SHA256withRSA, SHA256withRSAandMGF1, SHA256withECDSA, Ed25519 or NONEwithECDSA."
	if strings.EqualFold(v, "Ed25519") || strings.EqualFold(v, "Ed448") {
		return ""
	}
	digest, scheme, ok := strings.Cut(strings.ToUpper(v), "WITH")
	if !ok {
		return hint
	}
	if digest != "NONE" {
		if _, ok := canonical(digestNames(), digest); !ok {
			return hint
		}
	}
	switch scheme {
	case "RSA", "ECDSA", "RSAANDMGF1", "DSA":
		return ""
	}
	return hint
}

// checkPage accepts First, Last or a page number.
func checkPage(v string) string {
	if strings.EqualFold(v, "First") || strings.EqualFold(v, "Last") {
		return ""
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 1 {
		return ""
	}
	return "Use First, Last or a page number from 1."
}

// checkRectangle accepts four numbers llx,lly,urx,ury with ll below and left of ur.
func checkRectangle(v string) string {
	if _, err := ParseRectangle(v); err != nil {
		return err.Error()
	}
	return ""
}

// ParseRectangle reads a VISIBLE_SIGNATURE_RECTANGLE value.
func ParseRectangle(v string) ([4]float64, error) {
	var r [4]float64
	f := strings.Split(v, ",")
	if len(f) != 4 {
		return r, fmt.Errorf("Give four numbers: lower-left x, y, upper-right x, y, such as 400,700,500,800.")
	}
	for i, s := range f {
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || n < 0 {
			return r, fmt.Errorf("%q is not a non-negative number: give four numbers such as 400,700,500,800.", s)
		}
		r[i] = n
	}
	if r[2] <= r[0] || r[3] <= r[1] {
		return r, fmt.Errorf("The rectangle is empty: the upper-right corner must be above and right of the lower-left one.")
	}
	return r, nil
}
