package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/dsm"
	"github.com/signet-project/signet/tokens/nethsm"
	"github.com/signet-project/signet/tokens/pkcs11"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/workers"
)

// TokenOpener maps a token configuration's type to its implementation. It
// lives with the server wiring so that the workers package does not depend
// on every backend.
//
// keystore returns the database keystore of a soft token whose
// KEYSTORETYPE is DATABASE; nil (or a nil keystore) outside a cluster.
func TokenOpener(keystore func(token string) soft.Store) workers.TokenOpener {
	return tokenOpener(keystore, nil)
}

// tokenOpener is TokenOpener whose PKCS#11, NetHSM and DSM tokens measure
// their retry and probe intervals by now (time.Now when nil).
func tokenOpener(keystore func(token string) soft.Store, now func() time.Time) workers.TokenOpener {
	return func(ctx context.Context, tc config.Token) (tokens.Token, error) {
		p := tc.Properties
		switch tc.Type {
		case "soft":
			if strings.EqualFold(p.String(config.PropKeystoreType), config.KeystoreDatabase) {
				var ks soft.Store
				if keystore != nil {
					ks = keystore(tc.Name)
				}
				if ks == nil {
					return nil, fmt.Errorf("token %s keeps its keystore in the cluster's database (KEYSTORETYPE DATABASE), but this server has no state postgres section: add one to its configuration", tc.Name)
				}
				return soft.Open(soft.Options{Name: tc.Name, Type: soft.TypePKCS12, Store: ks})
			}
			return soft.Open(soft.Options{
				Name: tc.Name,
				Path: relativeTo(tc.Pos.File, p.String(config.PropKeystorePath)),
				Type: p.String(config.PropKeystoreType),
			})
		case "pkcs11":
			return pkcs11.New(pkcs11.Options{
				Name:      tc.Name,
				Module:    p.String(config.PropSharedLibraryName),
				SlotType:  p.String(config.PropSlotLabelType),
				SlotValue: p.String(config.PropSlotLabelValue),
				PoolSize:  p.Int(config.PropPoolSize),
				Now:       now,
			}), nil
		case "nethsm":
			// The passphrase is the token's secret, given to Activate by
			// workers.Build.
			return nethsm.New(nethsm.Options{
				Name:     tc.Name,
				URL:      p.String(config.PropURL),
				User:     p.String(config.PropUser),
				KeyIDs:   p.List(config.PropKeyIDs),
				CABundle: p.String(config.PropCABundle),
				Timeout:  p.Duration(config.PropTimeout),
				PoolSize: p.Int(config.PropPoolSize),
				Now:      now,
			})
		case "dsm":
			// The API key is the token's secret, given to Activate.
			return dsm.New(dsm.Options{
				Name:         tc.Name,
				URL:          p.String(config.PropURL),
				User:         p.String(config.PropUser),
				CABundle:     p.String(config.PropCABundle),
				Timeout:      p.Duration(config.PropTimeout),
				MaxBatchSize: p.Int(config.PropMaxBatchSizeToken),
				Parallelism:  p.Int(config.PropPoolSize),
				ChainDir:     p.String(config.PropChainDir),
				Now:          now,
			})
		}
		return nil, fmt.Errorf("%s: token type %q is not supported: use soft, pkcs11, nethsm or dsm", tc.Pos, tc.Type)
	}
}

// relativeTo resolves a path from a configuration file relative to that
// file's folder.
func relativeTo(file, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(file), p)
}
