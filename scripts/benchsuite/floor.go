package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	signetserver "github.com/signet-project/signet/internal/server"
)

// The floor server is what an HTTP signing request costs at the least on
// this machine: a bare net/http server that reads the body, signs with the
// same P-256 key as Signet (ecdsa.SignASN1) and writes the signature. The
// HTTP cases drive it with the same signet client bench, right before
// themselves, and report their ratio to it beside their ratio to raw
// signing: what is left between the two is Signet's own.
//
// POST /sign hashes the body (a document) with SHA-256 and signs the
// digest; POST /sign?items=N signs the body as N SHA-256 digests, one
// after the other, and answers the N signatures concatenated.

// floorFlag is the hidden flag that makes benchsuite the floor server.
const floorFlag = "floor-serve"

// serveFloor is benchsuite -floor-serve KEYFILE: it listens on a loopback
// port, prints "Signet listening on URL" as bin/signet serve does, and
// serves until it is killed.
func serveFloor(keyFile string) error {
	// The garbage collector as signet serve sets its own: at Go's default
	// of 100 the floor cost 126 against 105 CPU µs per single request
	// (server and client, 32 clients, load average 3), so that Signet's
	// floor_ratio read about 18 % too high.
	signetserver.SetGCPercent(slog.New(slog.DiscardHandler))
	pemKey, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(pemKey)
	if blk == nil {
		return fmt.Errorf("%s: no PEM key", keyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("%s: not an ECDSA key", keyFile)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("Signet listening on http://%s\n", ln.Addr())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		items := r.URL.Query().Get("items")
		if items == "" {
			d := sha256.Sum256(body)
			sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Write(sig)
			return
		}
		n, err := strconv.Atoi(items)
		if err != nil || n < 1 || len(body) != n*sha256.Size {
			http.Error(w, "the body is not ?items= SHA-256 digests", http.StatusBadRequest)
			return
		}
		out := make([]byte, 0, n*72)
		for i := range n {
			sig, err := ecdsa.SignASN1(rand.Reader, key, body[i*sha256.Size:(i+1)*sha256.Size])
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			out = append(out, sig...)
		}
		w.Write(out)
	}))
}

// startFloor starts the floor server over the signer-p256 key of a data
// folder that startServer prepared.
func (s *suite) startFloor(ctx context.Context, data string) (*server, error) {
	keyFile, _, err := exportKey(data, "signer-p256", s.tmp)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-"+floorFlag, keyFile)
	cmd.Stderr = s.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &server{cmd: cmd, data: filepath.Dir(keyFile)}
	buf := make([]byte, 256)
	n, _ := io.ReadAtLeast(stdout, buf, 1)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	if u, ok := strings.CutPrefix(line, "Signet listening on "); ok {
		srv.url = u
	}
	go io.Copy(io.Discard, stdout)
	if srv.url == "" {
		srv.stop()
		return nil, fmt.Errorf("the floor server did not start: %q", line)
	}
	return srv, nil
}

// sameScheme refuses a Signet and a floor server that speak different
// protocols: the floor serves plain HTTP, and a TLS handshake and
// encryption on one side only would be counted as Signet's own cost (or
// saved). testdata/bench/bench.yaml has no server section for that reason.
func sameScheme(signet, floor string) error {
	a, _, _ := strings.Cut(signet, "://")
	b, _, _ := strings.Cut(floor, "://")
	if a != b {
		return fmt.Errorf("signet serves %s and the floor server %s: give testdata/bench/bench.yaml no server tls section, so that both serve plain HTTP", a, b)
	}
	return nil
}
