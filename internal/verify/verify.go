// Package verify is "signet verify": it validates a signed PDF or a CMS/CAdES
// signature offline, with formats/validate, and prints the JSON report that
// the CMSValidator and PDFValidator workers answer.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/revocation"
	"github.com/signet-project/signet/formats/validate"
	"github.com/signet-project/signet/workers"
)

// Exit codes: the indication of the document.
const (
	ExitPassed        = 0
	ExitFailed        = 1
	ExitUsage         = 2
	ExitIndeterminate = 3
)

// Flags registers the command's flags on fs and returns the check of one
// file with their values; cmd/signet's command table calls it.
func Flags(fs *flag.FlagSet) func(ctx context.Context, file string, stdout, stderr io.Writer) int {
	trust := fs.String("trust", "signet-data/demo-ca.pem", "PEM `file` of the trusted root certificates")
	content := fs.String("content", "", "the signed content `file` of a detached CMS/CAdES signature")
	online := fs.Bool("online", false, "fetch CRLs the signature does not carry from the certificates' distribution points")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for a CRL distribution point (with -online)")
	maxObjects := fs.Int("max-pdf-objects", defaultMaxPDFObjects(), "refuse a PDF with more `objects` (as a PDFValidator's "+config.PropMaxPDFObjects+")")
	return func(ctx context.Context, file string, stdout, stderr io.Writer) int {
		if *maxObjects < 1 {
			fmt.Fprintln(stderr, "signet verify: -max-pdf-objects must be at least 1")
			return ExitUsage
		}
		rep, err := report(ctx, file, *trust, *content, *online, *timeout, pades.Limits{MaxObjects: *maxObjects})
		if err != nil {
			fmt.Fprintln(stderr, "signet verify:", err)
			return ExitUsage
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "signet verify:", err)
			return ExitUsage
		}
		switch rep.Indication {
		case validate.TotalPassed:
			return ExitPassed
		case validate.TotalFailed:
			return ExitFailed
		}
		return ExitIndeterminate
	}
}

// defaultMaxPDFObjects is the object limit of a PDF that signet verify
// reads: the default of MAX_PDF_OBJECTS, declared once in config's schema,
// which a PDFValidator worker applies to the same document. pdfcpu keeps
// about pades.BytesPerObject per object, so that a small file declaring
// millions of objects would take gigabytes; the server's memory budget
// (pades.Limits.Reserve) shares its memory between the PDFs parsed at once
// and has no use in a command that parses one.
func defaultMaxPDFObjects() int {
	p, _ := config.LookupProperty(config.PropMaxPDFObjects)
	n, _ := strconv.Atoi(p.Default)
	return n
}

func report(ctx context.Context, name, trust, contentName string, online bool, timeout time.Duration, lim pades.Limits) (*validate.Report, error) {
	roots, err := workers.ReadCertificates(trust)
	if err != nil {
		return nil, fmt.Errorf("%w (give the trust anchors with -trust)", err)
	}
	opts := validate.Options{Roots: roots}
	if online {
		opts.Online = &revocation.Fetcher{Timeout: timeout}
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte("%PDF-")) {
		rep, err := validate.PDF(ctx, data, opts, lim)
		var many *pades.TooManyObjectsError
		if errors.As(err, &many) {
			return nil, fmt.Errorf("%s: the PDF has %d objects, more than the limit of %d: raise -max-pdf-objects to verify it", name, many.Objects, many.Limit)
		}
		if errors.Is(err, pades.ErrInvalidPDF) {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return rep, err
	}
	if blk, _ := pem.Decode(data); blk != nil {
		data = blk.Bytes
	}
	var contentFn func() io.Reader
	if contentName != "" {
		// A -content that cannot be read is an input error (exit 2), not
		// a signature whose content "could not be located" (exit 3).
		f, err := os.Open(contentName)
		if err != nil {
			return nil, fmt.Errorf("-content: %w", err)
		}
		f.Close()
		contentFn = func() io.Reader {
			f, err := os.Open(contentName)
			if err != nil {
				return nil
			}
			return f // read to the end once; closed when the process exits
		}
	}
	return validate.CMS(ctx, data, contentFn, nil, 0, opts), nil
}
