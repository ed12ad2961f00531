// Command fasthttp-floor is make bench's floor server (scripts/benchsuite,
// floor.go) on valyala/fasthttp instead of net/http: the same single
// request (a document in, its SHA-256 signed with ecdsa.SignASN1, the
// signature out), so that scripts/peers/lighthttp can measure what a
// lighter HTTP stack than net/http would buy a signing server on this
// machine (issue 15, item 3). It is a module of its own: fasthttp is not
// a dependency of Signet, and nothing of Signet's build or tests uses it.
//
// Only the single request is served: a batch's HTTP exchange is one of a
// thousand signatures, and the stack's share of it does not show.
package main

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"runtime/debug"

	"github.com/valyala/fasthttp"
)

func main() {
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "fasthttp-floor:", err)
		os.Exit(1)
	}
}

// serve is fasthttp-floor KEYFILE: it listens on a loopback port, prints
// "Signet listening on URL" as the floor server does, and serves until it
// is killed.
func serve() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: fasthttp-floor KEYFILE (a PKCS #8 PEM P-256 key)")
	}
	debug.SetGCPercent(400) // as signet serve and the floor server
	pemKey, err := os.ReadFile(os.Args[1])
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(pemKey)
	if blk == nil {
		return fmt.Errorf("%s: no PEM key", os.Args[1])
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("%s: not an ECDSA key", os.Args[1])
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("Signet listening on http://%s\n", ln.Addr())
	return fasthttp.Serve(ln, func(ctx *fasthttp.RequestCtx) {
		d := sha256.Sum256(ctx.PostBody())
		sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
		if err != nil {
			ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
			return
		}
		ctx.Write(sig)
	})
}
