package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/auth"
	"github.com/signet-project/signet/web/dsm"
	"github.com/signet-project/signet/web/nethsm"
	"github.com/signet-project/signet/workers"
)

// mountVendorAPIs adds the Fortanix DSM-compatible (/crypto/v1, /sys/v1)
// and NetHSM-compatible (/api/v1) APIs to a.srv, over the keys of the
// tokens in a.reg.
//
// The keys are those of the tokens of the worker set in force when a
// request arrives, so a reload shows at once. A key's DSM name and NetHSM
// ID are its alias (NetHSM IDs allow letters, digits, '_', '.' and '-';
// an alias outside that set is mapped by nethsm.KeyID and GET /api/v1/keys
// lists the mapped ID); its DSM kid is dsm.KeyID(token, alias), a UUID
// that survives restarts. When two tokens hold the same alias, the token
// whose name sorts first serves it. Remote tokens (dsm, nethsm) are not
// served again (tokens.Remote), so that two Signets pointing at each
// other cannot loop.
//
// DSM callers are users with the dsm role (app ID and API key secret as
// HTTP basic credentials, or a bearer token from /sys/v1/session/auth);
// NetHSM callers are users with the operator role. A user whose keys list
// does not name a key gets 403 for it.
func (a *app) mountVendorAPIs() error {
	e := a.srv.Echo()
	e.Use(a.vendorLogins)
	kc := &vendorKeyCache{ttl: vendorKeyTTL}
	vendorKeys := func(ctx context.Context) []vendorKey { list, _ := kc.keys(ctx, a.reg.In(ctx)); return list }
	// The tokens whose keys are not served, offline: a key not found names
	// them, where the answer was only "check the KeyID".
	offline := func(ctx context.Context) []string { _, off := kc.keys(ctx, a.reg.In(ctx)); return off }
	d := dsm.New(dsm.Options{
		Keys: dsm.KeySourceFunc(func(ctx context.Context) []dsm.Key {
			var out []dsm.Key
			for _, k := range vendorKeys(ctx) {
				out = append(out, dsm.Key{Name: k.alias, Token: k.tok, Alias: k.alias})
			}
			return out
		}),
		Authenticate: func(user, secret string) error {
			switch a.auth.Decide(user, secret, config.RoleDSM) {
			case auth.Allowed:
				return nil
			case auth.Forbidden:
				return roleRefusal(user, "dsm", config.RoleDSM)
			}
			return apiKeyRefused()
		},
		Certificate: func(c echo.Context) (string, error) {
			u, err := certOf(c)
			return u.Name, err
		},
		Stamp:   a.auth.Stamp,
		MayUse:  func(user string, k dsm.Key) bool { return a.mayUseKey(user, k.Token.Name(), k.Alias) },
		Offline: offline,
	})
	d.Register(e)
	n := nethsm.New(nethsm.Options{
		Keys: nethsm.KeySourceFunc(func(ctx context.Context) []nethsm.Key {
			var out []nethsm.Key
			for _, k := range vendorKeys(ctx) {
				out = append(out, nethsm.Key{ID: nethsm.KeyID(k.alias), Token: k.tok, Alias: k.alias})
			}
			return out
		}),
		Authenticate: func(user, pass string) (nethsm.User, bool) {
			switch a.auth.Decide(user, pass, config.RoleOperator) {
			case auth.Allowed:
				return nethsm.User{Name: user, Role: nethsm.RoleOperator}, true
			case auth.Forbidden:
				// Who they are is proven; with no NetHSM role the handler
				// answers 403 naming the role it needs.
				return nethsm.User{Name: user}, true
			}
			return nethsm.User{}, false
		},
		Certificate: func(c echo.Context) (nethsm.User, error) {
			u, err := certOf(c)
			if err != nil || u.Name == "" {
				return nethsm.User{}, err
			}
			return nethsm.User{Name: u.Name, Role: nethsm.RoleOperator}, nil
		},
		MayUse:  func(u nethsm.User, k nethsm.Key) bool { return a.mayUseKey(u.Name, k.Token.Name(), k.Alias) },
		Offline: offline,
		// Every route takes NetHSM's Operator, the role Signet's operator
		// gives: name that, as a client certificate's refusal does.
		RoleRefusal: func(u nethsm.User, _ []string) string {
			return roleRefusal(u.Name, "nethsm", config.RoleOperator).Msg
		},
	})
	n.Register(e)
	return a.srv.MetricsRegistry().Register(vendorMetrics{
		dsmBatches: prometheus.NewDesc("signet_dsm_batch_calls_total",
			"Batch sign requests served by the DSM-compatible API.", nil, nil),
		dsmSigns: prometheus.NewDesc("signet_dsm_sign_calls_total",
			"Single-item sign requests served by the DSM-compatible API.", nil, nil),
		nethsmSigns: prometheus.NewDesc("signet_nethsm_sign_calls_total",
			"Sign requests served by the NetHSM-compatible API.", nil, nil),
		dsm: d, nethsm: n,
	})
}

// apiKeyRefused is the DSM API's 401 for a wrong app ID or secret; a
// right secret of a user without the dsm role is a 403 (roleRefusal), as
// for a client certificate. A new one each time: a shared *Refusal would
// be package-level state any caller could change.
func apiKeyRefused() error {
	return &auth.Refusal{Status: http.StatusUnauthorized, Reason: "wrong user name or secret",
		Msg: "The API key was refused: check the app ID and secret."}
}

// vendorKey is one key served on the vendor APIs.
type vendorKey struct {
	tok   tokens.Token
	alias string
}

// vendorKeyTTL is how long the served keys of a worker set are remembered:
// listing a PKCS#11 token's keys costs object searches, and NetHSM clients
// send one request per signature. A reload (a new set) is seen at once; a
// key generated at run time within vendorKeyTTL.
const vendorKeyTTL = 2 * time.Second

// vendorKeyCache remembers the served keys of the last worker set.
type vendorKeyCache struct {
	ttl time.Duration

	mu      sync.Mutex
	set     *workers.Set
	at      time.Time
	list    []vendorKey
	offline []string
}

// keys returns the served keys of set and the names of its offline
// tokens, listed again when set changed, the list is older than the TTL or
// a token offline then lists its keys now: activated, its keys are served
// at once, not up to a TTL later.
func (c *vendorKeyCache) keys(ctx context.Context, set *workers.Set) ([]vendorKey, []string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == set && now.Sub(c.at) < c.ttl && !now.Before(c.at) && !c.backOnline(ctx) {
		return c.list, c.offline
	}
	list, offline := listVendorKeys(ctx, set)
	if ctx.Err() == nil { // a cancelled listing may miss keys: not kept
		c.set, c.at, c.list, c.offline = set, now, list, offline
	}
	return list, offline
}

// backOnline reports whether a token that was offline at the last listing
// lists its keys now. Only those tokens are asked: the cache spares the
// others' listings.
func (c *vendorKeyCache) backOnline(ctx context.Context) bool {
	toks := c.set.Tokens()
	for _, name := range c.offline {
		if t, ok := toks[name]; ok {
			if _, err := t.Keys(ctx); err == nil {
				return true
			}
		}
	}
	return false
}

// listVendorKeys lists the keys of the local tokens of set, by token name
// then alias, each alias once, and the names of the local tokens that
// list none because they are offline.
func listVendorKeys(ctx context.Context, set *workers.Set) ([]vendorKey, []string) {
	toks := set.Tokens()
	names := make([]string, 0, len(toks))
	for name, t := range toks {
		if _, remote := tokens.Unwrap(t).(tokens.Remote); remote {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	seen := map[string]bool{}
	var out []vendorKey
	var offline []string
	for _, name := range names {
		t := toks[name]
		infos, err := t.Keys(ctx)
		if err != nil {
			if errors.Is(err, tokens.ErrOffline) {
				offline = append(offline, name)
			}
			continue // an offline token serves no keys
		}
		slices.SortFunc(infos, func(x, y tokens.KeyInfo) int { return strings.Compare(x.Alias, y.Alias) })
		for _, info := range infos {
			if seen[info.Alias] {
				continue
			}
			seen[info.Alias] = true
			out = append(out, vendorKey{tok: t, alias: info.Alias})
		}
	}
	return out, offline
}

// mayUseKey reports whether the user may sign with the key alias of token.
func (a *app) mayUseKey(user, token, alias string) bool {
	return a.auth.MayUseKey(user, token, alias)
}

// vendorMetrics exports the vendor APIs' call counters on /metrics.
type vendorMetrics struct {
	dsmBatches, dsmSigns, nethsmSigns *prometheus.Desc
	dsm                               *dsm.Handler
	nethsm                            *nethsm.Handler
}

// Describe implements prometheus.Collector.
func (m vendorMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.dsmBatches
	ch <- m.dsmSigns
	ch <- m.nethsmSigns
}

// Collect implements prometheus.Collector.
func (m vendorMetrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(m.dsmBatches, prometheus.CounterValue, float64(m.dsm.BatchCalls()))
	ch <- prometheus.MustNewConstMetric(m.dsmSigns, prometheus.CounterValue, float64(m.dsm.SignCalls()))
	ch <- prometheus.MustNewConstMetric(m.nethsmSigns, prometheus.CounterValue, float64(m.nethsm.SignCalls()))
}
