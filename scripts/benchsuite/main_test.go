package main

import (
	"testing"
)

func TestKebab(t *testing.T) {
	cases := []struct{ in, want string }{
		{"pipelineBatchP256", "pipeline-batch-p256"},
		{"pipelineBatchRSA3072", "pipeline-batch-rsa3072"},
		{"httpSingleP256", "http-single-p256"},
		{"cadesBT", "cades-bt"},
		{"signAllPKCS11Batch", "sign-all-pkcs11-batch"},
		{"vendorDSMBatch", "vendor-dsm-batch"},
		{"vendorNetHSMSign", "vendor-nethsm-sign"},
		{"pkcs11RSA3072", "pkcs11-rsa3072"},
		{"tspStamp", "tsp-stamp"},
		{"batchDSM_P256", "batch-dsm-p256"},
		{"pipelineBatchBT_P256", "pipeline-batch-bt-p256"},
		{"P256", "p256"},
	}
	for _, c := range cases {
		if got := kebab(c.in); got != c.want {
			t.Errorf("kebab(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBenchLine(t *testing.T) {
	cases := []struct {
		line, name string
		value      string
	}{
		{"BenchmarkSuite_pipelineBatchP256-2   	      14	 131013782 ns/op	      7633 items/s	 9322513 B/op	   65095 allocs/op", "pipelineBatchP256", "7633"},
		{"BenchmarkSuite_pipelineBatchRSA3072_baseline-2   	       2	5005268732 ns/op	       199.8 items/s", "pipelineBatchRSA3072_baseline", "199.8"},
		{"BenchmarkSuite_x 	 1	 10 ns/op	 1.5e+06 items/s", "x", "1.5e+06"},
	}
	for _, c := range cases {
		m := benchLine.FindStringSubmatch(c.line)
		if m == nil || m[1] != c.name || m[2] != c.value {
			t.Errorf("benchLine(%q) = %q, want %s %s", c.line, m, c.name, c.value)
		}
	}
	if benchLine.MatchString("BenchmarkSuite_noMetric-2 	 5	 100 ns/op") {
		t.Error("a line without items/s matched")
	}
}

func TestProfileLine(t *testing.T) {
	l := "     0.01s  0.12%  0.12%      5.10s 63.43%  crypto/internal/fips140/ecdsa.Sign[go.shape.*crypto/internal/fips140/nistec.P256Point,go.shape.interface { BlockSize int }]"
	m := profileLine.FindStringSubmatch(l)
	if m == nil || m[1] != "63.43" || m[2] != "crypto/internal/fips140/ecdsa.Sign[go.shape.*crypto/internal/fips140/nistec.P256Point,go.shape.interface { BlockSize int }]" {
		t.Fatalf("profileLine: %q", m)
	}
}

func TestSkipLine(t *testing.T) {
	cases := []struct{ line, verb, name string }{
		{"--- SKIP: BenchmarkSuite_signPKCS11P256", "SKIP", "signPKCS11P256"},
		{"--- FAIL: BenchmarkSuite_x_baseline-2", "FAIL", "x_baseline"},
		{"    --- SKIP: BenchmarkSuite_y ", "SKIP", "y"},
	}
	for _, c := range cases {
		m := skipLine.FindStringSubmatch(c.line)
		if m == nil || m[1] != c.verb || m[2] != c.name {
			t.Errorf("skipLine(%q) = %q", c.line, m)
		}
	}
	if m := reasonLine.FindStringSubmatch("    bench_test.go:31: softhsm2-util is not installed"); m == nil || m[1] != "softhsm2-util is not installed" {
		t.Errorf("reasonLine: %q", m)
	}
}

func TestSameScheme(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		signet, floor string
		ok            bool
	}{
		{"http://127.0.0.1:1", "http://127.0.0.1:2", true},
		{"https://127.0.0.1:1", "http://127.0.0.1:2", false},
	} {
		if err := sameScheme(tc.signet, tc.floor); (err == nil) != tc.ok {
			t.Errorf("sameScheme(%s, %s) = %v", tc.signet, tc.floor, err)
		}
	}
}
