package tokens

import "time"

// KeyPolicy is the policy of one key: its usage limit and the checks of
// its signer certificate, which the key guard (tokens/guard) applies to
// every signature made with the key.
type KeyPolicy struct {
	// UsageLimit is KEYUSAGELIMIT: the most signatures the key makes in
	// its life, -1 for no limit.
	UsageLimit int64
	// NoCount is DISABLEKEYUSAGECOUNTER: the key's signatures are not
	// counted (only allowed without a UsageLimit).
	NoCount bool
	// CheckCertValidity is CHECKCERTVALIDITY: refuse to sign outside the
	// signer certificate's validity period.
	CheckCertValidity bool
	// CheckPrivateKeyValidity is CHECKCERTPRIVATEKEYVALIDITY: refuse to
	// sign outside the certificate's PrivateKeyUsagePeriod, when it has one.
	CheckPrivateKeyValidity bool
	// MinRemaining is MINREMAININGCERTVALIDITY (days): refuse to sign when
	// the signer certificate expires sooner.
	MinRemaining time.Duration
}

// DefaultKeyPolicy is SignServer's: no limit, counted, certificate checks
// on.
var DefaultKeyPolicy = KeyPolicy{UsageLimit: -1, CheckCertValidity: true, CheckPrivateKeyValidity: true}

// KeyGuard wraps a token so that every signature made with its keys goes
// through their policies, is counted and recorded (tokens/guard.Guard).
// Whoever builds the tokens that surfaces sign with wraps them.
type KeyGuard interface {
	Wrap(tok Token, policy func(alias string) KeyPolicy) Token
}
