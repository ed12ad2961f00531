package pades_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/pades/padestest"
)

// withByteRange rewrites the /ByteRange of doc's first signature in place
// (the 48 bytes Prepare reserves), so that every offset of the file stays.
func withByteRange(t *testing.T, doc []byte, br string) []byte {
	t.Helper()
	i := bytes.Index(doc, []byte("/ByteRange ["))
	repl := "/ByteRange [" + br + "]"
	if i < 0 || len(repl) > 48 {
		t.Fatalf("no ByteRange to rewrite, or %q longer than its room", repl)
	}
	out := bytes.Clone(doc)
	copy(out[i:], repl+strings.Repeat(" ", 48-len(repl)))
	return out
}

// TestByteRangeHostile: a ByteRange whose numbers add up past the largest
// int64 wrapped around and passed the bounds check, and reading the signed
// content panicked (a 500 from PDFValidator, a crash of signet verify).
// Every such range is a RangeProblem, with no signed content to read.
func TestByteRangeHostile(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	signed := s.sign(t, padestest.GoPDF("ByteRange"), pades.Options{})
	in, err := pades.Inspect(context.Background(), signed, pades.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	br := in.Signatures[0].ByteRange
	for name, r := range map[string]string{
		"length wraps":      fmt.Sprintf("0 %d %d 9223372036854775000", br[1], br[2]),
		"largest length":    fmt.Sprintf("0 %d %d 9223372036854775807", br[1], br[2]),
		"first length huge": fmt.Sprintf("0 9223372036854775807 %d %d", br[2], br[3]),
		"offset huge":       fmt.Sprintf("0 %d 9223372036854775807 1", br[1]),
		"one past the end":  fmt.Sprintf("0 %d %d %d", br[1], br[2], br[3]+1),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in, err := pades.Inspect(context.Background(), withByteRange(t, signed, r), pades.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			sig := in.Signatures[0]
			if sig.RangeProblem == "" || sig.WholeFile {
				t.Fatalf("ByteRange [%s]: no problem found (%+v)", r, sig.ByteRange)
			}
			if c := sig.SignedContent(); c != nil {
				_, _ = io.Copy(io.Discard, c)
				t.Fatalf("ByteRange [%s]: signed content to read", r)
			}
		})
	}
}
