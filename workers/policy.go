package workers

import (
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/tokens"
)

// keyPolicies returns, per token, the policy of each of its keys, from the
// token's keys section and from the workers that use the key: one key has
// one policy, whatever surface signs with it (SignServer keeps KEYUSAGELIMIT
// on the worker but counts per key; Signet applies it to the key). Where
// the settings disagree the strictest wins: the lowest limit, the highest
// minimum validity, a check on when any setting turns it on, counting when
// any setting asks for it. A property that no setting names takes the
// schema's default.
func keyPolicies(cfg *config.Config) map[string]func(alias string) tokens.KeyPolicy {
	type key struct{ token, alias string }
	sources := map[key][]config.Properties{}
	for _, t := range cfg.Tokens {
		for _, k := range t.Keys {
			kk := key{t.Name, k.Alias}
			sources[kk] = append(sources[kk], k.Properties)
		}
	}
	for _, w := range cfg.Workers {
		if w.Token != "" && w.Key != "" {
			kk := key{w.Token, w.Key}
			sources[kk] = append(sources[kk], w.Properties)
		}
	}
	policies := map[key]tokens.KeyPolicy{}
	for kk, ps := range sources {
		policies[kk] = strictest(ps)
	}
	out := make(map[string]func(string) tokens.KeyPolicy, len(cfg.Tokens))
	for _, t := range cfg.Tokens {
		out[t.Name] = func(alias string) tokens.KeyPolicy {
			if p, ok := policies[key{t.Name, alias}]; ok {
				return p
			}
			return tokens.DefaultKeyPolicy
		}
	}
	return out
}

// strictest merges the key policy properties of ps.
func strictest(ps []config.Properties) tokens.KeyPolicy {
	p := tokens.KeyPolicy{UsageLimit: -1}
	var setCert, setPKUP, setNoCount bool
	noCount := true
	for _, s := range ps {
		if s.IsSet(config.PropKeyUsageLimit) {
			if n := int64(s.Int(config.PropKeyUsageLimit)); n >= 0 && (p.UsageLimit < 0 || n < p.UsageLimit) {
				p.UsageLimit = n
			}
		}
		if s.IsSet(config.PropCheckCertValidity) {
			setCert = true
			p.CheckCertValidity = p.CheckCertValidity || s.Bool(config.PropCheckCertValidity)
		}
		if s.IsSet(config.PropCheckCertPrivateKeyValidity) {
			setPKUP = true
			p.CheckPrivateKeyValidity = p.CheckPrivateKeyValidity || s.Bool(config.PropCheckCertPrivateKeyValidity)
		}
		if s.IsSet(config.PropDisableKeyUsageCounter) {
			setNoCount = true
			noCount = noCount && s.Bool(config.PropDisableKeyUsageCounter)
		}
		if d := time.Duration(s.Int(config.PropMinRemainingCertValidity)) * 24 * time.Hour; d > p.MinRemaining {
			p.MinRemaining = d
		}
	}
	if !setCert {
		p.CheckCertValidity = tokens.DefaultKeyPolicy.CheckCertValidity
	}
	if !setPKUP {
		p.CheckPrivateKeyValidity = tokens.DefaultKeyPolicy.CheckPrivateKeyValidity
	}
	p.NoCount = setNoCount && noCount && p.UsageLimit < 0
	return p
}
