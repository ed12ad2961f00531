package config

import (
	"crypto"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/dn"
	"github.com/signet-project/signet/formats/tsp"
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

// names reports whether v, a value of p, names a file: a Path that is
// not PEM text. PEM text is told as tokens/internal/remote tells it, by a
// "-----BEGIN" line anywhere in the value.
func (p Property) names(v string) bool {
	return p.Type == Path && !(p.PEMText && strings.Contains(v, "-----BEGIN"))
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
	// PEMText marks a Path property whose value may be the PEM text
	// itself instead of a file's name (a remote token's CABUNDLE, as
	// tokens/internal/remote reads it): such a value is no path, neither
	// resolved against the YAML file's folder nor refused as relative.
	PEMText bool
	// Key marks a property of a key's policy (KEYUSAGELIMIT, the
	// certificate checks): it may be set on the key in its token's keys
	// section, and set on a worker it applies to the worker's key, for every
	// surface that signs with it.
	Key bool

	// check validates a value beyond its type, for a worker of the given
	// kind (or a token type); it returns what to fix, or "". It runs before
	// the type's own check, so that it may give a more precise sentence.
	check func(kind, v string) string
}

// Worker property names, as SignServer's manual spells them. Code reads a
// property through these names only (a misspelt literal would read as the
// zero value); Properties panics in tests on a name the schema does not
// declare. To add a property: its name here, its entry in workerSchema
// (type, default, meaning, kinds) and, when it must agree with others, a
// rule in rules.go. Nothing else reads or checks it.
const (
	PropDisabled                       = "DISABLED"
	PropAuthType                       = "AUTHTYPE"
	PropSignatureAlgorithm             = "SIGNATUREALGORITHM"
	PropIncludeCertificateLevels       = "INCLUDE_CERTIFICATE_LEVELS"
	PropKeyUsageLimit                  = "KEYUSAGELIMIT"
	PropDisableKeyUsageCounter         = "DISABLEKEYUSAGECOUNTER"
	PropDigestAlgorithm                = "DIGESTALGORITHM"
	PropDetachedSignature              = "DETACHEDSIGNATURE"
	PropAllowDetachedSignatureOverride = "ALLOW_DETACHEDSIGNATURE_OVERRIDE"
	PropContentOID                     = "CONTENTOID"
	PropAllowContentOIDOverride        = "ALLOW_CONTENTOID_OVERRIDE"
	PropClientSideHashing              = "CLIENTSIDEHASHING"
	PropAllowClientSideHashingOverride = "ALLOW_CLIENTSIDEHASHING_OVERRIDE"
	PropAcceptedHashDigestAlgorithms   = "ACCEPTED_HASH_DIGEST_ALGORITHMS"
	PropBatchSigning                   = "BATCHSIGNING"
	PropAllowBatchSigningOverride      = "ALLOW_BATCHSIGNING_OVERRIDE"
	PropMaxBatchSize                   = "MAX_BATCH_SIZE"
	PropSignatureLevel                 = "SIGNATURE_LEVEL"
	PropTSAURL                         = "TSA_URL"
	PropTSAWorker                      = "TSA_WORKER"
	PropTSAUsername                    = "TSA_USERNAME"
	PropTSAPassword                    = "TSA_PASSWORD"
	PropTSADigestAlgorithm             = "TSA_DIGESTALGORITHM"
	PropTSAPolicyOID                   = "TSA_POLICYOID"
	PropTSATimeout                     = "TSA_TIMEOUT"
	PropDefaultTSAPolicyOID            = "DEFAULTTSAPOLICYOID"
	PropAcceptedPolicies               = "ACCEPTEDPOLICIES"
	PropAcceptedAlgorithms             = "ACCEPTEDALGORITHMS"
	PropAccuracyMicros                 = "ACCURACYMICROS"
	PropAccuracyMillis                 = "ACCURACYMILLIS"
	PropAccuracySeconds                = "ACCURACYSECONDS"
	PropOrdering                       = "ORDERING"
	PropIncludeStatusString            = "INCLUDESTATUSSTRING"
	PropTSA                            = "TSA"
	PropTSAFromCert                    = "TSA_FROM_CERT"
	PropAllowSHA1                      = "ALLOW_SHA1"
	PropCheckCertValidity              = "CHECKCERTVALIDITY"
	PropCheckCertPrivateKeyValidity    = "CHECKCERTPRIVATEKEYVALIDITY"
	PropMinRemainingCertValidity       = "MINREMAININGCERTVALIDITY"
	PropArchivers                      = "ARCHIVERS"
	PropArchiveOfType                  = "ARCHIVE_OF_TYPE"
	PropArchiveRetention               = "ARCHIVE_RETENTION"
	PropReason                         = "REASON"
	PropLocation                       = "LOCATION"
	PropContactInfo                    = "CONTACTINFO"
	PropAllowPropertyOverride          = "ALLOW_PROPERTY_OVERRIDE"
	PropCertificationLevel             = "CERTIFICATION_LEVEL"
	PropAddVisibleSignature            = "ADD_VISIBLE_SIGNATURE"
	PropVisibleSignaturePage           = "VISIBLE_SIGNATURE_PAGE"
	PropVisibleSignatureRectangle      = "VISIBLE_SIGNATURE_RECTANGLE"
	PropVisibleSignatureName           = "VISIBLE_SIGNATURE_NAME"
	PropMaxPDFObjects                  = "MAX_PDF_OBJECTS"
	PropTrustAnchors                   = "TRUSTANCHORS"
	PropRevocationFetch                = "REVOCATION_FETCH"
	PropRevocationTimeout              = "REVOCATION_TIMEOUT"
)

// Token property names, declared per token type in tokenSchemas.
const (
	PropKeystorePath      = "KEYSTOREPATH"
	PropKeystoreType      = "KEYSTORETYPE"
	PropSharedLibraryName = "SHAREDLIBRARYNAME"
	PropSlotLabelType     = "SLOTLABELTYPE"
	PropSlotLabelValue    = "SLOTLABELVALUE"
	PropPoolSize          = "POOLSIZE"
	PropURL               = "URL"
	PropUser              = "USER"
	PropCABundle          = "CABUNDLE"
	PropTimeout           = "TIMEOUT"
	PropMaxBatchSizeToken = "MAXBATCHSIZE"
	PropChainDir          = "CHAINDIR"
	PropKeyIDs            = "KEYIDS"
)

// Enum values that code compares against (Properties returns Enum values in
// these spellings whatever the letter case written).
const (
	AuthNoAuth      = "NOAUTH"
	AuthClientCert  = "CLIENTCERT"
	LevelBaselineB  = "BASELINE-B"
	LevelBaselineT  = "BASELINE-T"
	LevelBaselineLT = "BASELINE-LT"
	// AuthUsernamePassword is SignServer's UsernamePasswordAuthorizer.
	AuthUsernamePassword = "USERNAME_PASSWORD"
	// ArchiverDatabase is SignServer's OldDatabaseArchiver, by its short
	// and its class name.
	ArchiverDatabase          = "OldDatabaseArchiver"
	ArchiverDatabaseClass     = "org.signserver.server.archive.olddbarchiver.OldDatabaseArchiver"
	ArchiveRequest            = "REQUEST"
	ArchiveResponse           = "RESPONSE"
	ArchiveRequestAndResponse = "REQUEST_AND_RESPONSE"
	// ArchiveMaxKept is the largest request or answer an archiver keeps
	// whole; a larger one is archived as its size and SHA-256, so that
	// archiving a large streamed document costs no memory.
	ArchiveMaxKept = 16 << 20

	// CERTIFICATION_LEVEL values, SignServer's names for DocMDP's /P.
	NotCertified              = "NOT_CERTIFIED"
	NoChangesAllowed          = "NO_CHANGES_ALLOWED"
	FormFilling               = "FORM_FILLING"
	FormFillingAndAnnotations = "FORM_FILLING_AND_ANNOTATIONS"
)

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

// digestNames are the spellings of the digests a CMS, CAdES or plain
// signature may use (ACCEPTED_HASH_DIGEST_ALGORITHMS, DIGESTALGORITHM):
// exactly those formats/cms signs with.
func digestNames() []string { return cms.DigestNames() }

// timeStampDigestNames are the spellings of the digests a time-stamp's
// message imprint may use (TSA_DIGESTALGORITHM, ACCEPTEDALGORITHMS):
// exactly those formats/tsp accepts.
func timeStampDigestNames() []string { return tsp.DigestNames() }

// Kind groups for Property.Kinds, as functions: no package-level mutable state.
func cmsKinds() []string    { return []string{KindCMSSigner, KindCAdESSigner} }
func digestKinds() []string { return []string{KindCMSSigner, KindCAdESSigner, KindPlainSigner} }
func cadesKinds() []string  { return []string{KindCAdESSigner} }
func plainKinds() []string  { return []string{KindPlainSigner} }
func tsaKinds() []string    { return []string{KindTimeStampSigner} }

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

// batchKinds are the kinds that may be configured for batches.
func batchKinds() []string {
	return []string{KindCMSSigner, KindCAdESSigner, KindPlainSigner, KindPDFSigner}
}
func pdfKinds() []string       { return []string{KindPDFSigner} }
func validatorKinds() []string { return []string{KindCMSValidator, KindPDFValidator} }
func revocationKinds() []string {
	return []string{KindPDFSigner, KindCMSValidator, KindPDFValidator}
}

// workerSchema is the table of worker properties. It is built on each call
// so that callers cannot change it for each other.
func workerSchema() []Property {
	return []Property{
		// Every worker.
		{Name: PropDisabled, Type: Bool, Default: "false",
			Doc: "When true the worker stays configured but is disabled: it is OFFLINE and refuses every request."},
		{Name: PropAuthType, Type: Enum, Default: AuthClientCert, Values: []string{AuthNoAuth, AuthClientCert, AuthUsernamePassword},
			Doc: "How clients are authorised, as in SignServer, whose default (CLIENTCERT) is Signet's too: NOAUTH accepts every client; CLIENTCERT requires a TLS client certificate issued by a CA of server.tls.clientCAs that matches one of the worker's authorizedClients; USERNAME_PASSWORD requires HTTP basic credentials of one of the worker's users."},
		{Name: PropAllowSHA1, Type: Bool, Kinds: signerKinds(), Default: "false",
			Doc: "Signet's own: when true the worker signs SHA-1 digests (client-side hashes, DIGESTALGORITHM SHA-1, time-stamp imprints) for legacy clients. SHA-1 signatures can be forged by collision: leave it false unless a client cannot do better. MD5 is never signed."},
		{Name: PropSignatureAlgorithm, Type: String, Kinds: signerKinds(), check: checkSignatureAlgorithm,
			Doc: "Signature algorithm, such as SHA256withRSA, SHA256withRSAandMGF1, SHA384withECDSA, Ed25519, or NONEwithECDSA for a plain signature over a client-side digest. Default: chosen from the key (SHA256withECDSA for EC keys, Ed25519 for Ed25519 keys, otherwise SHA256withRSA)."},
		{Name: PropIncludeCertificateLevels, Type: Int, Kinds: signerKinds(), check: atLeast(0),
			Doc: "Number of certificates of the signer's chain to include, signer first. Default: the whole chain. 0 (no certificates) is not supported by TimeStampSigner."},
		{Name: PropKeyUsageLimit, Type: Int, Kinds: signerKinds(), Default: "-1", Key: true, check: atLeast(-1),
			Doc: "Number of signatures the key may make, whatever asks: every worker using the key, the TSA, the DSM and NetHSM APIs and the admin test-sign share one counter per key. Once reached the key refuses and its workers are OFFLINE. Best set on the key (its token's keys section); set on a worker it applies to the worker's key, and the lowest limit wins. -1: no limit."},
		{Name: PropDisableKeyUsageCounter, Type: Bool, Kinds: signerKinds(), Default: "false", Key: true,
			Doc: "When true, signatures made with the key are not counted. Cannot be combined with KEYUSAGELIMIT; when the key's settings disagree, counting wins."},
		{Name: PropCheckCertValidity, Type: Bool, Kinds: signerKinds(), Default: "true", Key: true,
			Doc: "When true the key does not sign outside its signer certificate's validity period, whatever asks (worker, TSA, DSM or NetHSM API). When the key's settings disagree, the check wins."},
		{Name: PropCheckCertPrivateKeyValidity, Type: Bool, Kinds: signerKinds(), Default: "true", Key: true,
			Doc: "When true the key does not sign outside the PrivateKeyUsagePeriod of its signer certificate, when the certificate has one."},
		{Name: PropMinRemainingCertValidity, Type: Int, Kinds: signerKinds(), Default: "0", Key: true, check: between(0, maxDays), // more wrapped round in a time.Duration
			Doc: "Days of validity the signer certificate must have left for the key to sign; 0 turns the check off. When the key's settings disagree, the highest wins."},
		{Name: PropArchivers, Type: List, Kinds: signerKinds(), Values: []string{ArchiverDatabase, ArchiverDatabaseClass},
			Doc: "Archivers that keep what the worker signs, as SignServer's ARCHIVERS: OldDatabaseArchiver keeps it in the state database, found by request ID."},
		{Name: PropArchiveOfType, Type: Enum, Kinds: signerKinds(), Default: ArchiveResponse, Values: []string{ArchiveRequest, ArchiveResponse, ArchiveRequestAndResponse},
			Doc: fmt.Sprintf("What the archiver keeps: REQUEST, RESPONSE (the signature, time-stamp or signed PDF) or REQUEST_AND_RESPONSE, per request ID; a batch is one item (its batch request and answer). A request or answer over %d MiB is kept as its size and SHA-256 only.", ArchiveMaxKept>>20)},
		{Name: PropArchiveRetention, Type: Duration, Kinds: signerKinds(), check: positiveDuration,
			Doc: "Signet's own: how long archived items are kept, such as 2160h (90 days); older ones are purged every hour. Default: for ever."},

		// CMS and CAdES.
		{Name: PropDigestAlgorithm, Type: Enum, Values: digestNames(), Kinds: append(cmsKinds(), KindPDFSigner),
			Doc: "Digest algorithm of the content (the message-digest attribute). Default: the one of SIGNATUREALGORITHM."},
		{Name: PropDetachedSignature, Type: Bool, Default: "false", Kinds: cmsKinds(),
			OverriddenBy: PropAllowDetachedSignatureOverride, MetaKey: MetaDetachedSignature,
			Doc: "When true the signature does not encapsulate the content (a detached, external signature)."},
		{Name: PropAllowDetachedSignatureOverride, Type: Bool, Default: "false", Kinds: cmsKinds(),
			Doc: "When true a request may choose DETACHEDSIGNATURE with request metadata DETACHEDSIGNATURE=true|false."},
		{Name: PropContentOID, Type: OID, Default: "1.2.840.113549.1.7.1", Kinds: cmsKinds(),
			OverriddenBy: PropAllowContentOIDOverride, MetaKey: MetaContentOID,
			Doc: "Content type OID of the signed data (eContentType). Default: id-data, 1.2.840.113549.1.7.1."},
		{Name: PropAllowContentOIDOverride, Type: Bool, Default: "false", Kinds: cmsKinds(),
			Doc: "When true a request may set the content type OID with request metadata CONTENTOID."},

		// Client-side hashing and batch signing.
		{Name: PropClientSideHashing, Type: Bool, Default: "false", Kinds: digestKinds(),
			OverriddenBy: PropAllowClientSideHashingOverride, MetaKey: MetaUsingClientSuppliedHash,
			Doc: "When true the request data is a digest the client computed, not the document; ACCEPTED_HASH_DIGEST_ALGORITHMS must then be set."},
		{Name: PropAllowClientSideHashingOverride, Type: Bool, Default: "false", Kinds: digestKinds(),
			Doc: "When true a request may say with USING_CLIENTSUPPLIED_HASH=true (and CLIENTSIDE_HASHDIGESTALGORITHM) that its data is a digest; ACCEPTED_HASH_DIGEST_ALGORITHMS must then be set."},
		{Name: PropAcceptedHashDigestAlgorithms, Type: List, Values: digestNames(), Kinds: digestKinds(),
			Doc: "Comma-separated digest algorithms a client-side digest may use, such as SHA-256,SHA-384,SHA-512. No default: mandatory when client-side hashing or batch signing is on or may be requested."},
		{Name: PropBatchSigning, Type: Bool, Default: "false", Kinds: batchKinds(),
			OverriddenBy: PropAllowBatchSigningOverride, MetaKey: MetaUsingBatchSigning,
			Doc: "When true every request is a batch: a list of digests signed with one key in one call. ACCEPTED_HASH_DIGEST_ALGORITHMS must then be set."},
		{Name: PropAllowBatchSigningOverride, Type: Bool, Default: "false", Kinds: batchKinds(),
			Doc: "When true a request chooses with USING_BATCHSIGNING=true|false whether it is a batch; ACCEPTED_HASH_DIGEST_ALGORITHMS must then be set."},
		{Name: PropMaxBatchSize, Type: Int, Default: "1000", Kinds: batchKinds(), check: atLeast(1),
			Doc: "Signet's own: the largest number of items one batch request may hold."},

		// CAdES baseline levels and time-stamping.
		{Name: PropSignatureLevel, Type: Enum, Default: LevelBaselineB, Values: []string{LevelBaselineB, LevelBaselineT, LevelBaselineLT}, Kinds: adesKinds(),
			Doc: "CAdES or PAdES baseline level: BASELINE-B, BASELINE-T which adds a signature time-stamp from TSA_URL or TSA_WORKER, or (PDFSigner only) BASELINE-LT which also adds a Document Security Store with the certificates and CRLs of the signer and TSA chains."},
		{Name: PropTSAURL, Type: String, Kinds: adesKinds(), check: checkHTTPURL,
			Doc: "URL of an external RFC 3161 time-stamp authority. Cannot be combined with TSA_WORKER."},
		{Name: PropTSAWorker, Type: String, Kinds: adesKinds(),
			Doc: "Name or ID of a TimeStampSigner worker of this server to time-stamp with. Cannot be combined with TSA_URL."},
		{Name: PropTSAUsername, Type: String, Kinds: adesKinds(),
			Doc: "User name for HTTP Basic authentication to TSA_URL; TSA_PASSWORD is then required."},
		{Name: PropTSAPassword, Type: String, Kinds: adesKinds(), Secret: true,
			Doc: "Password for HTTP Basic authentication to TSA_URL, given as {env: NAME} or {file: PATH}."},
		{Name: PropTSADigestAlgorithm, Type: Enum, Default: "SHA-256", Values: timeStampDigestNames(), Kinds: adesKinds(), check: checkTimeStampDigests,
			Doc: "Digest algorithm of the time-stamp request's message imprint."},
		{Name: PropTSAPolicyOID, Type: OID, Kinds: adesKinds(),
			Doc: "Time-stamp policy OID to request from the TSA. Default: none, the TSA's default policy."},
		{Name: PropTSATimeout, Type: Duration, Default: "10s", Kinds: adesKinds(), check: positiveDuration,
			Doc: "Signet's own: how long to wait for the time-stamp authority, such as 10s."},

		// PDFSigner (SignServer's names; CONTACTINFO is Signet's own).
		{Name: PropReason, Type: String, Kinds: pdfKinds(),
			Doc: "The reason for signing, written in the signature dictionary (/Reason). Default: none. A request may set it with REQUEST_METADATA.REASON when ALLOW_PROPERTY_OVERRIDE lists it."},
		{Name: PropLocation, Type: String, Kinds: pdfKinds(),
			Doc: "The place of signing (/Location). Default: none. Overridable like REASON."},
		{Name: PropContactInfo, Type: String, Kinds: pdfKinds(),
			Doc: "Signet's own: how to reach the signer (/ContactInfo). Default: none. Overridable like REASON."},
		{Name: PropAllowPropertyOverride, Type: List, Values: []string{PropReason, PropLocation, PropContactInfo}, Kinds: pdfKinds(),
			Doc: "Properties a request may override with request metadata of the same name, such as REASON,LOCATION."},
		{Name: PropCertificationLevel, Type: Enum, Default: NotCertified, Values: []string{NotCertified, FormFilling, FormFillingAndAnnotations, NoChangesAllowed}, Kinds: pdfKinds(),
			Doc: "NOT_CERTIFIED makes approval signatures; the others a certification (DocMDP) signature allowing form filling (and annotations), or no change at all. A certification signature must be a document's first."},
		{Name: PropAddVisibleSignature, Type: Bool, Default: "false", Kinds: pdfKinds(),
			Doc: "When true the signature is shown on a page: a rectangle with the signer's name, the time and the reason."},
		{Name: PropVisibleSignaturePage, Type: String, Default: "First", Kinds: pdfKinds(), check: checkPage,
			Doc: "The page of a visible signature: First, Last or a page number."},
		{Name: PropVisibleSignatureRectangle, Type: String, Default: "400,700,500,800", Kinds: pdfKinds(), check: checkRectangle,
			Doc: "The rectangle of a visible signature: lower-left x, y, upper-right x, y in points."},
		{Name: PropVisibleSignatureName, Type: String, Kinds: pdfKinds(),
			Doc: "The signature field's name; a document with a field of that name already is refused, since fields of one name are one field. Default: Signature1, Signature2, … the first no field has."},
		// The default: reading a PDF keeps about pades.BytesPerObject (2 KiB)
		// per object on the heap, so 40000 objects and the 16 MiB of the
		// default maxRequestMemory are 94 MiB, within the server's budget
		// for the PDFs it reads at once (workers.PDFMemoryBudget, 96 MiB,
		// half the default memoryLimit) and well within the 256 MiB of
		// RSS; 1000000, the former default, let one PDF take 1.5 GB.
		// TestPDFBudgetFitsDefaults (internal/server) holds the three together.
		{Name: PropMaxPDFObjects, Type: Int, Default: "40000", Kinds: append(pdfKinds(), KindPDFValidator), check: atLeast(1),
			Doc: "Signet's own: the largest number of objects a PDF may declare or have; more is refused with 400. Each costs about 2 KiB of memory while the PDF is read, and the PDFs read at once share the server's budget for them (README, Server limits): raise it for larger documents only with the server's memory."},

		// Validators and B-LT revocation data.
		{Name: PropTrustAnchors, Type: Path, Kinds: validatorKinds(), Required: true,
			Doc: "Signet's own: a PEM file of the trusted root certificates signatures are validated against. Required."},
		{Name: PropRevocationFetch, Type: Bool, Default: "true", Kinds: validatorKinds(),
			Doc: "Signet's own: when true, CRLs a signature does not carry are fetched from the HTTP distribution points its certificates name."},
		{Name: PropRevocationTimeout, Type: Duration, Default: "10s", Kinds: revocationKinds(), check: positiveDuration,
			Doc: "Signet's own: how long to wait for a CRL distribution point; fetched CRLs are cached until their nextUpdate, at most an hour."},

		// TimeStampSigner.
		{Name: PropDefaultTSAPolicyOID, Type: OID, Kinds: tsaKinds(), Required: true,
			Doc: "The TSA's default policy OID, used when a request names none. Required."},
		{Name: PropAcceptedPolicies, Type: List, Kinds: tsaKinds(), check: checkOIDList,
			Doc: "Policy OIDs (separated by ; or ,) a request may ask for. Default: none, and a request must then not name a policy."},
		{Name: PropAcceptedAlgorithms, Type: List, Values: timeStampDigestNames(), Kinds: tsaKinds(), check: checkTimeStampDigests,
			Doc: "Digest algorithms (separated by ; or ,) a request's message imprint may use, such as SHA1;SHA256. Default: SHA256;SHA384;SHA512 (SHA1 only when listed). A TSA_WORKER's B-T signers must time-stamp with one of them (TSA_DIGESTALGORITHM)."},
		{Name: PropAccuracyMicros, Type: Int, Kinds: tsaKinds(), check: between(0, 999),
			Doc: "Accuracy of the time in microseconds, written in each token. Default: not written."},
		{Name: PropAccuracyMillis, Type: Int, Kinds: tsaKinds(), check: between(0, 999),
			Doc: "Accuracy of the time in milliseconds, written in each token. Default: not written."},
		{Name: PropAccuracySeconds, Type: Int, Kinds: tsaKinds(), check: between(0, math.MaxInt32), // SignServer's int; more wrapped round in a time.Duration
			Doc: "Accuracy of the time in seconds, written in each token. Default: not written."},
		{Name: PropOrdering, Type: Bool, Default: "false", Kinds: tsaKinds(),
			Doc: "The ordering field of each token: true claims tokens can be ordered by their time alone."},
		{Name: PropIncludeStatusString, Type: Bool, Default: "true", Kinds: tsaKinds(),
			Doc: "When true responses carry a status string besides the status code."},
		{Name: PropTSA, Type: String, Kinds: tsaKinds(), check: checkDN,
			Doc: "The TSA name (an X.500 distinguished name) written in the tsa field of each token. Cannot be combined with TSA_FROM_CERT=true."},
		{Name: PropTSAFromCert, Type: Bool, Default: "false", Kinds: tsaKinds(),
			Doc: "When true the tsa field of each token is the subject of the signer certificate."},
	}
}

// maxDays is the most days a time.Duration holds (about 292 years).
const maxDays = int(math.MaxInt64 / int64(24*time.Hour))

// MaxPoolSize is the largest POOLSIZE of a token: a pool is that many
// sessions or connections, and crypto11 makes its session pool at once,
// so that a huge one crashed the server at start (2^63-1) or took
// gigabytes; HSMs allow far fewer sessions anyway.
const MaxPoolSize = 1024

// tokenSchemas is the table of token properties per token type.
func tokenSchemas() map[string][]Property {
	poolSize := func(def string) Property {
		return Property{Name: PropPoolSize, Type: Int, Default: def, check: between(1, MaxPoolSize),
			Doc: "Signet's own: how many signatures the token computes at once (sessions or connections), 1 to " + strconv.Itoa(MaxPoolSize) + "."}
	}
	remote := func(maxBatch bool, pool string) []Property {
		ps := []Property{
			{Name: PropURL, Type: String, Required: true, check: checkHTTPURL,
				Doc: "Base URL of the HSM's REST API, such as https://nethsm.example:8443."},
			{Name: PropUser, Type: String,
				Doc: "User (NetHSM operator user ID, or DSM app ID) to authenticate as; the secret is the token's pin."},
			{Name: PropCABundle, Type: Path, PEMText: true,
				Doc: "PEM file of CA certificates to trust for the HSM's TLS certificate, or their PEM text. Default: the system roots."},
			{Name: PropTimeout, Type: Duration, Default: "30s", check: positiveDuration,
				Doc: "How long one call to the HSM may take."},
			poolSize(pool),
		}
		if maxBatch {
			ps = append(ps, Property{Name: PropMaxBatchSizeToken, Type: Int, Default: "100", check: atLeast(1),
				Doc: "Largest number of items sent in one batch sign call; larger batches are split."})
			ps = append(ps, Property{Name: PropChainDir, Type: Path,
				Doc: "Folder of certificate chain files named ALIAS.pem (signer first): the DSM API holds no certificates."})
		}
		return ps
	}
	// A NetHSM signs one message per request: 16 in flight keep a NetHSM
	// (or a Signet serving the NetHSM API, whose signing log commits the
	// requests waiting together) busy; 8 cost a quarter more CPU per
	// signature in batch-nethsm-p256, 32 no less than 16.
	nethsm := remote(false, "16")
	nethsm[1].Required = true // NetHSM always needs a user
	nethsm = append(nethsm, Property{Name: PropKeyIDs, Type: List,
		Doc: "NetHSM key IDs the token uses, comma separated. Default: every key the user may list."})
	return map[string][]Property{
		TokenSoft: {
			{Name: PropKeystorePath, Type: Path,
				Doc: "Path of the keystore file, relative to the YAML file's folder unless absolute; required unless KEYSTORETYPE is DATABASE."},
			{Name: PropKeystoreType, Type: Enum, Default: "PKCS12", Values: []string{"PKCS12", "PEM", KeystoreDatabase},
				Doc: "Format of the keystore: PKCS12, PEM (keys and certificates in one PEM file), or DATABASE (PKCS#12 files in the cluster's PostgreSQL database, shared by every node; needs a state postgres section). The keystore password is the token's pin; a PEM keystore's keys are not encrypted, and it is activated at start without one."},
		},
		TokenPKCS11: {
			{Name: PropSharedLibraryName, Type: String, Required: true,
				Doc: "The PKCS#11 module: an absolute path, or a library name the dynamic loader finds, such as /usr/lib/softhsm/libsofthsm2.so."},
			{Name: PropSlotLabelType, Type: Enum, Required: true, Values: []string{"SLOT_NUMBER", "SLOT_INDEX", "SLOT_LABEL"},
				Doc: "How SLOTLABELVALUE names the slot: SLOT_NUMBER (the slot ID), SLOT_INDEX (zero-based index in the slot list) or SLOT_LABEL (the token label)."},
			{Name: PropSlotLabelValue, Type: String, Required: true,
				Doc: "The slot, in the form SLOTLABELTYPE says."},
			poolSize("8"),
		},
		TokenNetHSM: nethsm,
		TokenDSM:    remote(true, "8"),
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

// Check validates one value of the property for a worker of the given kind
// (or a token of the given type), as Load does: its type, its allowed
// values and its own rule (rules between properties need the whole set:
// see NewProperties). It returns the sentence saying what to fix, or "".
// Tools that write configurations use it so that they refuse exactly what
// the server would.
func (p Property) Check(kind, v string) string { return p.validate(kind, v) }

// validate checks a value against the property's type; it returns what to
// fix, or "".
func (p Property) validate(kind, v string) string {
	v = strings.TrimSpace(v)
	if p.check != nil {
		if msg := p.check(kind, v); msg != "" {
			return p.Name + " " + msg
		}
	}
	switch p.Type {
	case Bool:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Sprintf("%s must be true or false, not %q.", p.Name, v)
		}
	case Int:
		if _, err := strconv.Atoi(v); errors.Is(err, strconv.ErrRange) && strings.HasPrefix(v, "-") {
			return fmt.Sprintf("%s must be at least %d, not %s.", p.Name, math.MinInt, v)
		} else if errors.Is(err, strconv.ErrRange) {
			return fmt.Sprintf("%s must be at most %d, not %s.", p.Name, math.MaxInt, v)
		} else if err != nil {
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
		if _, err := dn.ParseOID(v); err != nil {
			return fmt.Sprintf("%s must be an object identifier in dotted decimal such as 1.2.840.113549.1.7.1, not %q.", p.Name, v)
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

// Value checks beyond the type. Each returns the end of a sentence that
// starts with the property name, or "".

func atLeast(min int) func(string, string) string {
	return func(_, v string) string {
		if n, err := strconv.Atoi(v); err == nil && n < min {
			return fmt.Sprintf("must be at least %d, not %d.", min, n)
		}
		return ""
	}
}

func between(min, max int) func(string, string) string {
	return func(_, v string) string {
		if n, err := strconv.Atoi(v); err == nil && (n < min || n > max) {
			return fmt.Sprintf("must be between %d and %d, not %d.", min, max, n)
		}
		return ""
	}
}

func positiveDuration(_, v string) string {
	if d, err := time.ParseDuration(v); err == nil && d <= 0 {
		return fmt.Sprintf("must be longer than zero, not %q.", v)
	}
	return ""
}

func checkHTTPURL(_, v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("must be an http:// or https:// URL, not %q.", v)
	}
	return ""
}

func checkOIDList(_, v string) string {
	for _, item := range splitList(v) {
		if _, err := dn.ParseOID(item); err != nil {
			return fmt.Sprintf("lists %q, which is not an object identifier in dotted decimal such as 1.2.3.4.", item)
		}
	}
	return ""
}

// checkSignatureAlgorithm accepts the algorithms the worker kind signs
// with, as formats/cms parses them: cms.ParseSignatureAlgorithm for CMS and
// CAdES; cms.ParseRawSignatureAlgorithm (which adds NONEwithRSA and
// NONEwithECDSA) for PlainSigner; for TimeStampSigner no RSA-PSS and only
// the SHA-2 digests RFC 3161 tokens are signed with. Whether the key can
// use the algorithm is checked against the key, when the worker signs.
func checkSignatureAlgorithm(kind, v string) string {
	none := len(v) > len("NONEwith") && strings.EqualFold(v[:len("NONEwith")], "NONEwith")
	parse := cms.ParseSignatureAlgorithm
	if kind == KindPlainSigner {
		parse = cms.ParseRawSignatureAlgorithm
	}
	alg, err := parse(v)
	switch {
	case err != nil && none && kind == KindPlainSigner:
		return "is not a signature algorithm for unhashed data: use NONEwithRSA or NONEwithECDSA (RSA-PSS needs a digest algorithm, such as SHA256withRSAandMGF1)."
	case err != nil && none:
		return fmt.Sprintf("%s signs unhashed data, which only PlainSigner does: name a digest, such as SHA256with%s.", v, v[len("NONEwith"):])
	case err != nil:
		return "is not a signature algorithm: use a name such as SHA256withRSA, SHA256withRSAandMGF1, SHA256withECDSA, Ed25519 or NONEwithECDSA."
	case kind == KindTimeStampSigner && alg.Scheme == cms.PSS:
		return fmt.Sprintf("%s is not supported by TimeStampSigner: use SHA256withRSA, SHA256withECDSA or Ed25519 (or their SHA-384 and SHA-512 variants).", v)
	case kind == KindTimeStampSigner && alg.Hash != crypto.SHA256 && alg.Hash != crypto.SHA384 && alg.Hash != crypto.SHA512:
		return fmt.Sprintf("%s is not supported by TimeStampSigner, whose tokens are signed with SHA-256, SHA-384 or SHA-512: use for example SHA256withECDSA.", v)
	}
	return ""
}

// checkTimeStampDigests accepts the digests formats/tsp accepts for a
// message imprint, one or a list.
func checkTimeStampDigests(_, v string) string {
	for _, item := range splitList(v) {
		if _, err := tsp.ParseHash(item); err != nil {
			return fmt.Sprintf("lists %q: %v.", item, err)
		}
	}
	return ""
}

// checkDN accepts a distinguished name as formats/dn parses it.
func checkDN(_, v string) string {
	if _, err := dn.Parse(v); err != nil {
		return fmt.Sprintf("%q is not a distinguished name: %s.", v, strings.TrimSuffix(err.Error(), "."))
	}
	return ""
}

// checkPage accepts First, Last or a page number.
func checkPage(_, v string) string {
	if strings.EqualFold(v, "First") || strings.EqualFold(v, "Last") {
		return ""
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 1 {
		return ""
	}
	return "Use First, Last or a page number from 1."
}

// checkRectangle accepts four numbers llx,lly,urx,ury with ll below and left of ur.
func checkRectangle(_, v string) string {
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
		return r, errors.New("give four numbers: lower-left x, y, upper-right x, y, such as 400,700,500,800")
	}
	for i, s := range f {
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || n < 0 {
			return r, fmt.Errorf("%q is not a non-negative number: give four numbers such as 400,700,500,800", s)
		}
		r[i] = n
	}
	if r[2] <= r[0] || r[3] <= r[1] {
		return r, errors.New("the rectangle is empty: the upper-right corner must be above and right of the lower-left one")
	}
	return r, nil
}
