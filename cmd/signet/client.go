package main

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
	"strings"
	"sync"
	"sync/atomic"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/workers"
)

const clientUsage = `Usage:
  signet client sign  [flags] FILE|FOLDER...
  signet client batch [flags] FILE|FOLDER...
  signet client bench [flags]
`

// clientFlags are the flags sign and batch share.
type clientFlags struct {
	url        string
	worker     string
	meta       stringList
	clientSide bool
	digest     string
	threads    int
	out        string
	batchSize  int
	tls        tlsFlags
}

func (c *clientFlags) register(fs *flag.FlagSet, batch bool) {
	fs.StringVar(&c.url, "url", "https://"+defaultListen, "Signet base `URL`")
	c.tls.register(fs)
	fs.StringVar(&c.worker, "worker", "CAdESSigner", "worker `name` or id")
	fs.Var(&c.meta, "meta", "request metadata `KEY=VALUE` (repeatable)")
	fs.BoolVar(&c.clientSide, "clientside", false, "hash locally and send only the digest (USING_CLIENTSUPPLIED_HASH)")
	fs.StringVar(&c.digest, "digest", "SHA-256", "digest `algorithm` for -clientside and batch items")
	fs.IntVar(&c.threads, "threads", 4, "parallel requests")
	fs.StringVar(&c.out, "out", "", "output `folder` (default: beside each input)")
	if batch {
		fs.IntVar(&c.batchSize, "size", 100, "items per batch request")
	}
}

// metadata returns the -meta flags as a map.
func (c *clientFlags) metadata() (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range c.meta {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-meta %q: use KEY=VALUE", kv)
		}
		m[strings.ToUpper(k)] = v
	}
	return m, nil
}

func client(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, clientUsage)
		return exitError{2}
	}
	if args[0] == "bench" {
		return clientBench(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("client "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c clientFlags
	switch args[0] {
	case "sign":
		c.register(fs, false)
	case "batch":
		c.register(fs, true)
	default:
		fmt.Fprintf(stderr, "signet client: unknown command %q\n%s", args[0], clientUsage)
		return exitError{2}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return exitError{2}
	}
	files, err := expandFiles(fs.Args())
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "no input files")
		return exitError{2}
	}
	meta, err := c.metadata()
	if err != nil {
		return err
	}
	h, err := cms.ParseHash(c.digest)
	if err != nil {
		return err
	}
	tc, err := c.tls.config()
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.threads, MaxConnsPerHost: c.threads, TLSClientConfig: tc}}
	var failed atomic.Int64
	var done atomic.Int64
	if args[0] == "sign" {
		if c.clientSide {
			meta[config.MetaUsingClientSuppliedHash] = "true"
			meta[config.MetaClientSideHashAlgorithm] = cms.HashName(h)
		}
		parallel(c.threads, len(files), func(i int) {
			if err := signOne(ctx, hc, &c, meta, h, files[i]); err != nil {
				failed.Add(1)
				fmt.Fprintf(stderr, "%s: %v\n", files[i], err)
				return
			}
			done.Add(1)
		})
	} else {
		meta[config.MetaUsingBatchSigning] = "true"
		if c.clientSide {
			meta[config.MetaUsingClientSuppliedHash] = "true"
		}
		n := (len(files) + c.batchSize - 1) / max(c.batchSize, 1)
		parallel(c.threads, n, func(b int) {
			part := files[b*c.batchSize : min((b+1)*c.batchSize, len(files))]
			ok, err := signBatch(ctx, hc, &c, meta, h, part)
			done.Add(int64(ok))
			if err != nil {
				failed.Add(int64(len(part) - ok))
				fmt.Fprintf(stderr, "batch %d: %v\n", b, err)
			}
		})
	}
	fmt.Fprintf(stdout, "%d signed, %d failed\n", done.Load(), failed.Load())
	if failed.Load() > 0 {
		return exitError{1}
	}
	return nil
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

// expandFiles lists the regular files of the arguments, walking folders.
func expandFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// workerURL is the raw-body worker servlet URL with metadata in the query.
func workerURL(base, worker string, meta map[string]string) string {
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
func outputName(c *clientFlags, in, contentType string) string {
	ext := ".sig"
	switch {
	case strings.HasPrefix(contentType, workers.ContentTypeSignature):
		ext = ".p7s"
	case strings.HasPrefix(contentType, workers.ContentTypeMime):
		ext = ".p7m"
	}
	if c.out == "" {
		return in + ext
	}
	return filepath.Join(c.out, filepath.Base(in)+ext)
}

func signOne(ctx context.Context, hc *http.Client, c *clientFlags, meta map[string]string, h crypto.Hash, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	var body io.Reader = f
	if c.clientSide {
		hh := h.New()
		if _, err := io.Copy(hh, f); err != nil {
			return err
		}
		body = bytes.NewReader(hh.Sum(nil))
	}
	sig, ct, err := post(ctx, hc, workerURL(c.url, c.worker, meta), "application/octet-stream", body)
	if err != nil {
		return err
	}
	return writeOutput(c, name, ct, sig)
}

func writeOutput(c *clientFlags, in, ct string, data []byte) error {
	if c.out != "" {
		if err := os.MkdirAll(c.out, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(outputName(c, in, ct), data, 0o644)
}

// signBatch sends one batch of files and writes each signature; it returns
// how many were written.
func signBatch(ctx context.Context, hc *http.Client, c *clientFlags, meta map[string]string, h crypto.Hash, files []string) (int, error) {
	req := workers.BatchRequest{SignatureRequests: make([]workers.BatchItem, len(files))}
	for i, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return 0, err
		}
		if c.clientSide {
			hh := h.New()
			hh.Write(data)
			data = hh.Sum(nil)
		}
		req.SignatureRequests[i] = workers.BatchItem{
			Data:             base64.StdEncoding.EncodeToString(data),
			HashingAlgorithm: cms.HashName(h),
			CustomIdentifier: name,
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	out, _, err := post(ctx, hc, workerURL(c.url, c.worker, meta), "application/json", bytes.NewReader(body))
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
		if s.CustomIdentifier != files[i] {
			return i, fmt.Errorf("batch response item %d is for %q, not %q", i, s.CustomIdentifier, files[i])
		}
		if err := writeOutput(c, files[i], workers.ContentTypeSignature, s.Signature); err != nil {
			return i, err
		}
	}
	return len(files), nil
}
