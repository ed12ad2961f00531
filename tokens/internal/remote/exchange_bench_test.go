package remote

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
)

// BenchmarkExchange is the floor under a remote token's signature: one
// bare net/http exchange of a NetHSM-sized sign request and answer over
// loopback TLS, 8 in flight (the default pool), with NewTransport as the
// client, over HTTP/1.1 (what the tokens use) and HTTP/2 (which the server
// offers). It reports the CPU time of client and server together per
// request: batch-nethsm-p256 spends at least this much per item on top of
// signing directly.
func BenchmarkExchange(b *testing.B) {
	answer := []byte(`{"signature":"MEUCIQDGnNRmJ2lyDbWV1H5Qk3xXGmRzRh3l5k7iF2Ld0b2+WwIgYxk8nT0DkQ6Wv1p6k3l8UZ5E1Xq1g5oX4t7kVQv3WcA="}` + "\n")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	ca := string(demo.PEM(srv.Certificate()))
	body := []byte(`{"mode":"ECDSA","message":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="}`)
	for _, tc := range []struct {
		name  string
		http2 bool
	}{{"http1.1", false}, {"http2", true}} {
		b.Run(tc.name, func(b *testing.B) {
			tr, err := NewTransport(ca, 8)
			if err != nil {
				b.Fatal(err)
			}
			tr.ForceAttemptHTTP2 = tc.http2
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			b.SetParallelism(4) // 8 goroutines on two cores
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/keys/k/sign", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Basic b3BlcmF0b3I6cGFzc3BocmFzZQ==")
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.ProtoMajor == 2 != tc.http2 {
						b.Errorf("%s, want HTTP/2 %v", resp.Proto, tc.http2)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/req")
		})
	}
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
