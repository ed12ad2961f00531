package server

import (
	"strconv"
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/tokens/dsm"
	"github.com/signet-project/signet/tokens/nethsm"
	"github.com/signet-project/signet/tokens/pkcs11"
)

// TestPoolSizeDefaults holds the token packages' fallbacks for a zero
// PoolSize to the schema's POOLSIZE defaults, which configured tokens get:
// the schema declares the default, the packages only repeat it for callers
// that construct tokens themselves.
func TestPoolSizeDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		tokenType string
		prop      string
		pkg       int
	}{
		{config.TokenNetHSM, config.PropPoolSize, nethsm.DefaultPoolSize},
		{config.TokenPKCS11, config.PropPoolSize, pkcs11.DefaultPoolSize},
		{config.TokenDSM, config.PropPoolSize, dsm.DefaultParallelism},
		{config.TokenDSM, config.PropMaxBatchSizeToken, dsm.DefaultMaxBatchSize},
	} {
		def := ""
		for _, p := range config.TokenSchema(tt.tokenType) {
			if p.Name == tt.prop {
				def = p.Default
			}
		}
		if def != strconv.Itoa(tt.pkg) {
			t.Errorf("%s tokens: %s defaults to %q in the schema, %d in the token package", tt.tokenType, tt.prop, def, tt.pkg)
		}
	}
}
