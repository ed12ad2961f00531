package tokens

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// SignAll signs every input with the key alias of tok and returns one Result
// per input, in input order.
//
// When tok implements BatchSigner the inputs go to it in one call. Otherwise
// SignAll signs item by item on at most Parallelism() goroutines (GOMAXPROCS
// for tokens that do not say), so that a token without a batch API still
// serves a batch transparently. Each input is a digest computed with
// opts.HashFunc(), or the whole message when opts.HashFunc() is 0 (Ed25519).
//
// The returned error reports a failure that concerns every item (token
// offline, unknown key, cancelled context); item failures are in the results.
func SignAll(ctx context.Context, tok Token, alias string, inputs [][]byte, opts crypto.SignerOpts) ([]Result, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if bs, ok := tok.(BatchSigner); ok {
		res, err := bs.SignBatch(ctx, alias, inputs, opts)
		if err != nil {
			return nil, err
		}
		if len(res) != len(inputs) {
			return nil, fmt.Errorf("token %s returned %d results for %d inputs", tok.Name(), len(res), len(inputs))
		}
		return res, nil
	}
	signer, err := tok.Signer(ctx, alias)
	if err != nil {
		return nil, err
	}
	return signEach(ctx, signer, inputs, opts, parallelism(tok, len(inputs))), nil
}

func parallelism(tok Token, n int) int {
	p := runtime.GOMAXPROCS(0)
	if pz, ok := tok.(Parallelizer); ok && pz.Parallelism() > 0 {
		p = pz.Parallelism()
	}
	return min(p, n)
}

// signEach signs inputs on p goroutines. Workers take the next index from a
// shared counter rather than a channel: no per-item allocation or hand-off,
// and each result slot is written by exactly one goroutine.
func signEach(ctx context.Context, signer crypto.Signer, inputs [][]byte, opts crypto.SignerOpts, p int) []Result {
	res := make([]Result, len(inputs))
	one := func(i int) {
		if err := ctx.Err(); err != nil {
			res[i].Err = err
			return
		}
		res[i].Signature, res[i].Err = signer.Sign(rand.Reader, inputs[i], opts)
	}
	if p <= 1 {
		for i := range inputs {
			one(i)
		}
		return res
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range p {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(inputs) {
					return
				}
				one(i)
			}
		})
	}
	wg.Wait()
	return res
}
