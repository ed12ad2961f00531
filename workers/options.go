package workers

import (
	"crypto"
	"encoding/asn1"
	"slices"
	"strings"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/dn"
	"github.com/signet-project/signet/internal/clienttext"
)

const (
	metaBoolHint                   = "use true or false"
	overrideNotAllowedMessageShape = "The request sets %s but the worker does not allow overriding it: remove it or set %s=true."
)

// policy is the part of a worker's configuration that decides how one
// request is treated. It is resolved once when the worker is built.
type policy struct {
	batch, allowBatchOverride       bool
	clientHash, allowClientOverride bool
	detached, allowDetachedOverride bool
	contentOID                      asn1.ObjectIdentifier
	allowContentOIDOverride         bool
	accepted                        []crypto.Hash // ACCEPTED_HASH_DIGEST_ALGORITHMS
	maxBatch                        int
}

// decision is how one request is processed.
type decision struct {
	batch      bool
	clientHash bool
	detached   bool
	contentOID asn1.ObjectIdentifier
	// clientHashAlg is CLIENTSIDE_HASHDIGESTALGORITHM (0 when absent).
	clientHashAlg crypto.Hash
}

// newPolicy reads the properties of a request policy. They were validated
// by config (ACCEPTED_HASH_DIGEST_ALGORITHMS lists only digests formats/cms
// signs with, CONTENTOID is an OID, MAX_BATCH_SIZE at least 1), so it finds
// nothing wrong with them.
func newPolicy(p config.Properties) policy {
	pol := policy{
		batch:                   p.Bool(config.PropBatchSigning),
		allowBatchOverride:      p.Bool(config.PropAllowBatchSigningOverride),
		clientHash:              p.Bool(config.PropClientSideHashing),
		allowClientOverride:     p.Bool(config.PropAllowClientSideHashingOverride),
		detached:                p.Bool(config.PropDetachedSignature),
		allowDetachedOverride:   p.Bool(config.PropAllowDetachedSignatureOverride),
		allowContentOIDOverride: p.Bool(config.PropAllowContentOIDOverride),
		maxBatch:                p.Int(config.PropMaxBatchSize),
		contentOID:              p.OID(config.PropContentOID),
	}
	for _, name := range p.List(config.PropAcceptedHashDigestAlgorithms) {
		if h, err := cms.ParseHash(name); err == nil {
			pol.accepted = append(pol.accepted, h)
		}
	}
	return pol
}

// metaBool reads a boolean request metadata value.
func metaBool(meta map[string]string, key string) (value, present bool, err error) {
	v, ok := meta[key]
	if !ok || strings.TrimSpace(v) == "" {
		return false, false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, true, Illegal("Request metadata %s=%s is not a boolean: %s.", key, clienttext.Quote(v), metaBoolHint)
}

// overridable resolves a boolean property that request metadata may
// override when allow is set. Metadata that repeats the configured value is
// accepted; metadata that would change it without permission is refused.
func overridable(meta map[string]string, key string, configured, allow bool, allowProp string) (bool, error) {
	v, present, err := metaBool(meta, key)
	if err != nil || !present {
		return configured, err
	}
	if v != configured && !allow {
		return false, Illegal(overrideNotAllowedMessageShape, key, allowProp)
	}
	return v, nil
}

// decide applies SignServer's rules to one request's metadata.
func (pol *policy) decide(meta map[string]string, canBatch bool) (decision, error) {
	var d decision
	var err error

	// Batch: BATCHSIGNING wins; with only the override allowed the client
	// must say USING_BATCHSIGNING.
	using, present, err := metaBool(meta, config.MetaUsingBatchSigning)
	if err != nil {
		return d, err
	}
	switch {
	case !canBatch && (pol.batch || using):
		return d, Illegal("This worker does not support batch signing: send one document per request.")
	case pol.batch:
		d.batch = true
	case pol.allowBatchOverride:
		if !present {
			return d, Illegal("Request metadata %s is mandatory for this worker: set it to true for a batch request or false for a single document.", config.MetaUsingBatchSigning)
		}
		d.batch = using
	case using:
		return d, Illegal(overrideNotAllowedMessageShape, config.MetaUsingBatchSigning, config.PropAllowBatchSigningOverride)
	}

	if d.clientHash, err = overridable(meta, config.MetaUsingClientSuppliedHash, pol.clientHash, pol.allowClientOverride, config.PropAllowClientSideHashingOverride); err != nil {
		return d, err
	}
	if d.detached, err = overridable(meta, config.MetaDetachedSignature, pol.detached, pol.allowDetachedOverride, config.PropAllowDetachedSignatureOverride); err != nil {
		return d, err
	}
	d.contentOID = pol.contentOID
	if v := strings.TrimSpace(meta[config.MetaContentOID]); v != "" {
		oid, err := dn.ParseOID(v)
		if err != nil {
			// ParseOID's error repeats v whole: quote it here instead.
			return d, Illegal("Request metadata %s %s is not an object identifier: write it in dotted decimal, such as 1.2.840.113549.1.7.1.", config.MetaContentOID, clienttext.Quote(v))
		}
		if !oid.Equal(pol.contentOID) && !pol.allowContentOIDOverride {
			return d, Illegal(overrideNotAllowedMessageShape, config.MetaContentOID, config.PropAllowContentOIDOverride)
		}
		d.contentOID = oid
	}
	if name := strings.TrimSpace(meta[config.MetaClientSideHashAlgorithm]); name != "" {
		if d.clientHashAlg, err = pol.acceptHash(name); err != nil {
			return d, err
		}
	}
	if d.clientHash && !d.detached {
		return d, Illegal("Client-side hashing produces detached signatures only: set DETACHEDSIGNATURE=true or send the document instead of its hash.")
	}
	return d, nil
}

// acceptHash parses a digest algorithm name and checks it against
// ACCEPTED_HASH_DIGEST_ALGORITHMS.
func (pol *policy) acceptHash(name string) (crypto.Hash, error) {
	h, err := cms.ParseHash(name)
	if err != nil {
		return 0, Illegal("Unknown digest algorithm %s: use one of %s.", clienttext.Quote(name), hashNames(pol.accepted))
	}
	if !slices.Contains(pol.accepted, h) {
		return 0, Illegal("Digest algorithm %s is not accepted by this worker: use one of %s.", cms.HashName(h), hashNames(pol.accepted))
	}
	return h, nil
}

func hashNames(hs []crypto.Hash) string {
	if len(hs) == 0 {
		return "(none configured)"
	}
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = cms.HashName(h)
	}
	return strings.Join(names, ", ")
}
