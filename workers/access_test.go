package workers_test

import (
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/workers"
)

// TestEveryKindKeepsItsAuthType: the web layer authorizes a request by the
// worker's Access (its AUTHTYPE, authorizedClients and users), and refuses
// a worker without one (Authorized). Every kind, built from a
// configuration, keeps the AUTHTYPE it was given. CMSValidator and PDFValidator dropped
// it: a validator left at the default CLIENTCERT, or set to
// USERNAME_PASSWORD, validated (and fetched the CRLs named by) anyone's
// documents.
func TestEveryKindKeepsItsAuthType(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, kind := range config.Kinds() {
		for _, authType := range []string{config.AuthNoAuth, config.AuthClientCert, config.AuthUsernamePassword} {
			w := f.workerOf(t, kind, "AUTHTYPE: "+authType)
			aw, ok := w.(workers.Authorized)
			if !ok {
				t.Errorf("%s (AUTHTYPE %s) has no Access: refused to everyone", kind, authType)
				continue
			}
			if got := aw.Access().Type; got != authType {
				t.Errorf("%s: AUTHTYPE %s became %q", kind, authType, got)
			}
		}
	}
}
