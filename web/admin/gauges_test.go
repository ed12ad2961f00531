package admin

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/workers"
)

// limitedWorker is a fakeWorker whose key has a KEYUSAGELIMIT.
type limitedWorker struct {
	fakeWorker
	used, limit int64
}

func (w *limitedWorker) KeyUsage(context.Context) (int64, int64, bool) { return w.used, w.limit, true }

// The gauges an operator alerts on: an expired signer certificate shows as
// a negative time to expiry, a key one signature from its limit as 1 left,
// and a worker whose key is missing as OFFLINE (up 0).
func TestGauges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: soft.TypePEM, Name: "soft"}, "")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := st.GenerateKey(ctx, "signer", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := demo.NewCA("Gauges Test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("signer", pub, demo.DocumentSigning, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ImportChain(ctx, "signer", []*x509.Certificate{cert, ca.Cert}); err != nil {
		t.Fatal(err)
	}
	ws := []workers.Worker{
		&limitedWorker{fakeWorker: fakeWorker{name: "Limited", id: 1, tok: "soft", alias: "signer", t: st}, used: 9, limit: 10},
		&fakeWorker{name: "Missing", id: 2, tok: "soft", alias: "no-such-key", t: st},
	}
	h := New(Options{Workers: &source{workers.NewSet(ws, map[string]tokens.Token{"soft": st})}})
	g := h.Collector().(*gauges)
	g.now = func() time.Time { return cert.NotAfter.Add(90 * time.Second) } // expired 90 s ago

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(g)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[f.GetName()+labels(m)] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		`signet_worker_up{kind="CMSSigner",worker="Limited"}`:                                  1,
		`signet_worker_up{kind="CMSSigner",worker="Missing"}`:                                  0,
		`signet_worker_status{status="OFFLINE",worker="Missing"}`:                              1,
		`signet_worker_status{status="ACTIVE",worker="Missing"}`:                               0,
		`signet_worker_status{status="ACTIVE",worker="Limited"}`:                               1,
		`signet_signer_certificate_expiry_seconds{key="signer",token="soft",worker="Limited"}`: -90,
		`signet_key_usage_signatures{key="signer",token="soft",worker="Limited"}`:              9,
		`signet_key_usage_limit{key="signer",token="soft",worker="Limited"}`:                   10,
		`signet_key_usage_remaining{key="signer",token="soft",worker="Limited"}`:               1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got[`signet_signer_certificate_expiry_seconds{key="no-such-key",token="soft",worker="Missing"}`]; ok {
		t.Error("a worker without a certificate has an expiry gauge")
	}
}

// labels renders a metric's labels as Prometheus text does, sorted by name.
func labels(m *dto.Metric) string {
	s := "{"
	for i, l := range m.GetLabel() {
		if i > 0 {
			s += ","
		}
		s += l.GetName() + `="` + l.GetValue() + `"`
	}
	return s + "}"
}
