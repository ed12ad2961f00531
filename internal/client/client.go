// Package client is the signing client behind `signet client sign` and
// `signet client batch`: it sends documents (or their digests) to a worker
// one request each or in batch requests, and writes each signature beside
// its document or into an output folder.
package client

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/atomicfile"
	"github.com/signet-project/signet/internal/tlsclient"
	"github.com/signet-project/signet/workers"
)

// Options say where and how to sign.
type Options struct {
	// URL is the server's base URL.
	URL string
	// Worker is the worker's name or id.
	Worker string
	// Meta is request metadata (KEY=VALUE, see ParseMeta).
	Meta MetaList
	// ClientSide hashes documents locally and sends only the digest
	// (USING_CLIENTSUPPLIED_HASH).
	ClientSide bool
	// Digest names the digest algorithm of ClientSide (empty: SHA-256) and
	// of the documents of a batch (empty: the worker's own, and no
	// hashingAlgorithm sent, which a PDFSigner refuses: a PDF is not signed
	// by a digest the client chooses).
	Digest string
	// Threads is the number of requests in flight.
	Threads int
	// TLS are the -cacert, -cert and -key options.
	TLS tlsclient.Flags
	// Out is the output folder; empty: beside each input.
	Out string
	// BatchSize is the number of items per batch request (Batch only).
	BatchSize int
	// Hidden signs the hidden files and folders of a folder too (see
	// Inputs).
	Hidden bool
}

// Flags registers the options as flags of fs, with the values already in o
// as defaults; batch adds the batch size.
func (o *Options) Flags(fs *flag.FlagSet, batch bool) {
	fs.StringVar(&o.URL, "url", o.URL, "Signet base `URL`, $SIGNET when set")
	o.TLS.Register(fs)
	fs.StringVar(&o.Worker, "worker", "CAdESSigner", "worker `name` or id")
	fs.Var(&o.Meta, "meta", "request metadata `KEY=VALUE` (repeatable)")
	fs.BoolVar(&o.ClientSide, "clientside", false, "hash locally and send only the digest (USING_CLIENTSUPPLIED_HASH)")
	fs.StringVar(&o.Digest, "digest", "", "digest `algorithm` of -clientside (default SHA-256) and of batch items (default: the worker's)")
	fs.IntVar(&o.Threads, "threads", 4, "parallel requests")
	fs.StringVar(&o.Out, "out", "", "output `folder` (default: beside each input)")
	fs.BoolVar(&o.Hidden, "hidden", false, "also sign the hidden files and folders (.DS_Store, .git, dot files) of a folder; left out by default")
	if batch {
		fs.IntVar(&o.BatchSize, "size", 100, "items per batch request")
	}
}

// MetaList is a repeatable KEY=VALUE flag of request metadata.
type MetaList []string

func (m *MetaList) String() string     { return strings.Join(*m, ",") }
func (m *MetaList) Set(v string) error { *m = append(*m, v); return nil }

// ParseMeta returns KEY=VALUE pairs as a map, keys in upper case.
func ParseMeta(kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-meta %q: use KEY=VALUE", kv)
		}
		m[strings.ToUpper(k)] = v
	}
	return m, nil
}

// Result counts the documents signed and those that failed; each failure
// was written to the error writer.
type Result struct{ Signed, Failed int64 }

// prepare checks the options and returns the metadata and digest.
func (o *Options) prepare() (map[string]string, crypto.Hash, error) {
	meta, err := ParseMeta(o.Meta)
	if err != nil {
		return nil, 0, err
	}
	name := o.Digest
	if name == "" {
		name = "SHA-256"
	}
	h, err := cms.ParseHash(name)
	if err != nil {
		return nil, 0, fmt.Errorf("-digest: %w", err)
	}
	if o.Threads < 1 {
		return nil, 0, fmt.Errorf("-threads must be at least 1")
	}
	return meta, h, nil
}

func (o *Options) httpClient() (*http.Client, error) {
	tc, err := o.TLS.Config()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tlsclient.Explained(&http.Transport{MaxIdleConnsPerHost: o.Threads, MaxConnsPerHost: o.Threads, TLSClientConfig: tc})}, nil
}

// Sign signs each file in its own request, o.Threads at a time. Metadata
// the caller does not set takes the value of a plain one-document request
// (USING_BATCHSIGNING=false), so that the demo workers, which require it,
// sign with the defaults.
func Sign(ctx context.Context, o Options, files []Input, errs io.Writer) (Result, error) {
	meta, h, err := o.prepare()
	if err != nil {
		return Result{}, err
	}
	if _, ok := meta[config.MetaUsingBatchSigning]; !ok {
		meta[config.MetaUsingBatchSigning] = "false"
	}
	if o.ClientSide {
		meta[config.MetaUsingClientSuppliedHash] = "true"
		meta[config.MetaClientSideHashAlgorithm] = cms.HashName(h)
	}
	hc, err := o.httpClient()
	if err != nil {
		return Result{}, err
	}
	var done, failed atomic.Int64
	parallel(o.Threads, len(files), func(i int) {
		if err := signOne(ctx, hc, &o, meta, h, files[i]); err != nil {
			failed.Add(1)
			fmt.Fprintf(errs, "%s: %v\n", files[i].Path, err)
			return
		}
		done.Add(1)
	})
	return Result{Signed: done.Load(), Failed: failed.Load()}, nil
}

// Batch signs the files in batch requests of o.BatchSize items, o.Threads
// requests at a time.
func Batch(ctx context.Context, o Options, files []Input, errs io.Writer) (Result, error) {
	meta, h, err := o.prepare()
	if err != nil {
		return Result{}, err
	}
	if o.BatchSize < 1 {
		return Result{}, fmt.Errorf("-size must be at least 1")
	}
	meta[config.MetaUsingBatchSigning] = "true"
	if o.ClientSide {
		meta[config.MetaUsingClientSuppliedHash] = "true"
	}
	hc, err := o.httpClient()
	if err != nil {
		return Result{}, err
	}
	var done, failed atomic.Int64
	// A size past the documents is one batch of them all; near the largest
	// int, the count of batches overflowed and nothing was signed.
	size := min(o.BatchSize, max(len(files), 1))
	n := (len(files) + size - 1) / size
	parallel(o.Threads, n, func(b int) {
		part := files[b*size : min((b+1)*size, len(files))]
		items, data := make([]Input, 0, len(part)), make([][]byte, 0, len(part))
		for _, in := range part {
			d, err := os.ReadFile(in.Path)
			if err != nil {
				// One document that cannot be read fails alone, under its
				// own name, not with every other document of its batch.
				failed.Add(1)
				fmt.Fprintf(errs, "%s: %v\n", in.Path, err)
				continue
			}
			items, data = append(items, in), append(data, d)
		}
		if len(items) == 0 {
			return
		}
		ok, err := signBatch(ctx, hc, &o, meta, h, items, data)
		done.Add(int64(ok))
		if err != nil {
			failed.Add(int64(len(items) - ok))
			fmt.Fprintf(errs, "batch %d: %v\n", b, err)
		}
	})
	return Result{Signed: done.Load(), Failed: failed.Load()}, nil
}

// parallel runs f(0..n-1) on at most p goroutines.
func parallel(p, n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(p, 1), n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// Input is a document to sign.
type Input struct {
	// Path is where the document is; its signature goes beside it.
	Path string
	// Name is its path below the folder it was found in (its base name
	// when it was named itself): where its signature goes below -out, so
	// that documents of the same name in different folders do not
	// overwrite each other's signatures.
	Name string
}

// Inputs lists the regular files of args, walking folders, leaving out
// what a run of this client wrote: the output folder out, and a file that
// is another input's signature (doc.txt.p7s beside doc.txt). So a second
// run over the same folder signs the documents again, not their
// signatures.
//
// Inside a folder, hidden files and folders (a name starting with a dot:
// .DS_Store, .git, .env) are left out unless hidden is set: they are what
// the system or a tool keeps beside the documents, and signing a
// repository's objects or a secrets file is not what "sign this folder"
// asks. They are returned in left (a hidden folder once, not its
// contents) for the caller to say so. A hidden file or folder named itself
// is signed.
//
// A link to a file is signed as that file, its signature beside the link;
// a link to a folder is walked when named itself and refused inside a
// folder, where following it could loop: a document is never left out
// without a word. A document named twice (itself and through its folder)
// is signed once, and two documents whose signatures would land on the
// same name below out are refused before anything is signed.
func Inputs(args []string, out string, hidden bool) (files []Input, left []string, err error) {
	// The output folder is compared as an absolute path: -out given as
	// /abs/in/out and the input as "in" (or "./in") name the same folder.
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return filepath.Clean(p)
	}
	skipDir := ""
	if out != "" {
		skipDir = abs(out)
	}
	listed := map[string]bool{}
	for _, a := range args {
		root := a
		if fi, err := os.Lstat(a); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(a); err == nil && st.IsDir() {
				root = a + string(filepath.Separator) // walk the folder the link names
			}
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != root && skipDir != "" && abs(p) == skipDir {
				return filepath.SkipDir
			}
			if !hidden && p != root && strings.HasPrefix(d.Name(), ".") {
				left = append(left, p)
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				st, err := os.Stat(p)
				if err != nil {
					return fmt.Errorf("%s is a link to a file that cannot be read: %w", p, err)
				}
				if st.IsDir() {
					return fmt.Errorf("%s is a link to a folder, which is not followed inside a folder: name it as an input of its own", p)
				}
				if !st.Mode().IsRegular() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			name, err := filepath.Rel(root, p)
			if err != nil || name == "." {
				name = filepath.Base(p)
			}
			if key := abs(p); !listed[key] {
				listed[key] = true
				files = append(files, Input{Path: p, Name: name})
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	kept := files[:0]
	for _, f := range files {
		if slices.ContainsFunc(outputExts, func(ext string) bool {
			return strings.HasSuffix(f.Path, ext) && listed[abs(strings.TrimSuffix(f.Path, ext))]
		}) {
			continue
		}
		kept = append(kept, f)
	}
	if out != "" {
		byName := map[string]string{}
		for _, f := range kept {
			if prev, dup := byName[f.Name]; dup {
				return nil, nil, fmt.Errorf("%s and %s would both write their signature to %s below -out: sign them in separate runs, or without -out", prev, f.Path, f.Name)
			}
			byName[f.Name] = f.Path
		}
	}
	return kept, left, nil
}

// outputExts are the extensions of what the client writes, by answer type.
var outputExts = []string{extDetached, extEnveloped, extPDF, extOther}

const (
	extDetached  = ".p7s" // application/pkcs7-signature
	extEnveloped = ".p7m" // application/pkcs7-mime
	// extPDF is a PDF signed inside (application/pdf): it ends in .pdf, so
	// that it opens as the PDF it is.
	extPDF   = ".signed.pdf"
	extOther = ".sig" // anything else (raw signatures)
)

// WorkerURL is the raw-body worker servlet URL with metadata in the query.
func WorkerURL(base, worker string, meta map[string]string) string {
	q := url.Values{}
	for k, v := range meta {
		q.Set("REQUEST_METADATA."+k, v)
	}
	u := strings.TrimRight(base, "/") + "/signserver/worker/" + url.PathEscape(worker)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// post sends body and returns the response body, or an error with the
// server's sentence.
func post(ctx context.Context, hc *http.Client, u, contentType string, body io.Reader) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	return data, resp.Header.Get("Content-Type"), nil
}

// outputName is where a signature of in goes.
func outputName(c *Options, in Input, contentType string) string {
	ext := extOther
	switch {
	case strings.HasPrefix(contentType, workers.ContentTypeSignature):
		ext = extDetached
	case strings.HasPrefix(contentType, workers.ContentTypeMime):
		ext = extEnveloped
	case strings.HasPrefix(contentType, workers.ContentTypePDF):
		ext = extPDF
	}
	if c.Out == "" {
		return in.Path + ext
	}
	return filepath.Join(c.Out, in.Name+ext)
}

func signOne(ctx context.Context, hc *http.Client, c *Options, meta map[string]string, h crypto.Hash, in Input) error {
	f, err := os.Open(in.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	var body io.Reader = f
	if c.ClientSide {
		hh := h.New()
		if _, err := io.Copy(hh, f); err != nil {
			return err
		}
		body = bytes.NewReader(hh.Sum(nil))
	}
	sig, ct, err := post(ctx, hc, WorkerURL(c.URL, c.Worker, meta), "application/octet-stream", body)
	if err != nil {
		return err
	}
	return writeOutput(c, in, ct, sig)
}

func writeOutput(c *Options, in Input, ct string, data []byte) error {
	name := outputName(c, in, ct)
	if c.Out != "" {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
	}
	// Whole or not at all: a failed write leaves an earlier signature as it was.
	return atomicfile.Write(name, data, 0o644)
}

// signBatch sends one batch of files, whose contents are in contents, and
// writes each signature; it returns how many were written.
func signBatch(ctx context.Context, hc *http.Client, c *Options, meta map[string]string, h crypto.Hash, files []Input, contents [][]byte) (int, error) {
	req := workers.BatchRequest{SignatureRequests: make([]workers.BatchItem, len(files))}
	for i, in := range files {
		data := contents[i]
		if c.ClientSide {
			hh := h.New()
			hh.Write(data)
			data = hh.Sum(nil)
		}
		req.SignatureRequests[i] = workers.BatchItem{
			Data:             base64.StdEncoding.EncodeToString(data),
			CustomIdentifier: in.Path,
		}
		if c.ClientSide || c.Digest != "" {
			req.SignatureRequests[i].HashingAlgorithm = cms.HashName(h)
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	out, _, err := post(ctx, hc, WorkerURL(c.URL, c.Worker, meta), "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	var resp workers.BatchResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, fmt.Errorf("batch response: %w", err)
	}
	if len(resp.Signatures) != len(files) {
		return 0, fmt.Errorf("batch response has %d signatures for %d files", len(resp.Signatures), len(files))
	}
	for i, s := range resp.Signatures {
		if s.CustomIdentifier != files[i].Path {
			return i, fmt.Errorf("batch response item %d is for %q, not %q", i, s.CustomIdentifier, files[i].Path)
		}
		if err := writeOutput(c, files[i], batchContentType(s.Signature), s.Signature); err != nil {
			return i, err
		}
	}
	return len(files), nil
}

// batchContentType is the content type of a batch signature, which the
// batch response does not give per item: one that encapsulates its
// document is application/pkcs7-mime (.p7m), as a single request's answer
// says, and not a detached signature (.p7s) beside the document; a PDF
// signer's is the PDF signed inside (.signed.pdf).
func batchContentType(sig []byte) string {
	if bytes.HasPrefix(sig, []byte("%PDF-")) { // a PDF signer's answer: the PDF signed inside
		return workers.ContentTypePDF
	}
	if sd, err := cms.Parse(sig); err == nil && sd.Content != nil {
		return workers.ContentTypeMime
	}
	return workers.ContentTypeSignature
}
