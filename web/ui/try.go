package ui

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/digitorus/timestamp"
	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
	"github.com/signet-project/signet/workers"
)

// maxTryFile bounds a file tried through the UI.
const maxTryFile = 32 << 20

// optionText says what a request option does, for its form field.
func optionText(metaKey string) string {
	switch metaKey {
	case config.MetaUsingBatchSigning:
		return "Send as a batch"
	case config.MetaUsingClientSuppliedHash:
		return "Hash the file here and send only its digest"
	case config.MetaDetachedSignature:
		return "Detached signature (the file is not inside it)"
	case config.MetaContentOID:
		return "Content type OID"
	}
	return metaKey
}

// option is a request option the chosen worker lets a client set.
type option struct {
	MetaKey string
	Text    string // what it does
	Label   string
	Bool    bool     // a yes/no choice
	Choices []string // otherwise a list, or free text when empty
	Value   string   // the worker's own setting
}

type tryData struct {
	Workers []admin.WorkerStatus
	Worker  *admin.WorkerConfig
	Options []option
	TSA     bool
	Hashes  []string // digest algorithms for client-side hashing or a time-stamp query
	Stamp   *stampView
}

// stampView shows a time-stamp token's fields.
type stampView struct {
	File, Worker  string
	Time          string
	Serial        string
	Policy        string
	HashAlgorithm string
	Hash          string
	Accuracy      string
	Ordering      bool
	Nonce         string
	Certificates  []string
	Download      template.URL // data: URL of the .tsr (tsrLink)
}

// tsrLink is the data: URL of a time-stamp response, for the page's
// download link. html/template replaces a data: URL given as a string by
// "#ZgotmplZ" (it lets only http, https and mailto through), which left the
// link dead; this one is trusted because the server writes all of it: a
// fixed media type and base64, whose alphabet holds nothing that could end
// the attribute or name a script.
func tsrLink(answer []byte) template.URL {
	return template.URL("data:application/timestamp-reply;base64," + base64.StdEncoding.EncodeToString(answer))
}

func prop(wc *admin.WorkerConfig, name string) string {
	for _, p := range wc.Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// options returns what the worker lets a request override.
func options(wc *admin.WorkerConfig) []option {
	var out []option
	for _, p := range wc.Properties {
		if p.OverriddenBy == "" || !strings.EqualFold(prop(wc, p.OverriddenBy), "true") {
			continue
		}
		o := option{MetaKey: p.MetaKey, Label: p.Name, Value: p.Value, Text: optionText(p.MetaKey)}
		if def, ok := config.LookupProperty(p.Name); ok && def.Type == config.Bool {
			o.Bool = true
		}
		out = append(out, o)
	}
	return out
}

func (u *UI) tryData(c echo.Context, worker string) (tryData, error) {
	var d tryData
	if err := u.call(c, http.MethodGet, "/workers", nil, &d.Workers); err != nil {
		return d, err
	}
	if worker == "" {
		return d, nil
	}
	var wc admin.WorkerConfig
	if err := u.call(c, http.MethodGet, "/workers/"+url.PathEscape(worker)+"/properties", nil, &wc); err != nil {
		return d, err
	}
	d.Worker = &wc
	d.TSA = wc.Kind == config.KindTimeStampSigner
	d.Options = options(&wc)
	d.Hashes = []string{"SHA-256", "SHA-384", "SHA-512"}
	if acc := prop(&wc, "ACCEPTED_HASH_DIGEST_ALGORITHMS"); acc != "" && !d.TSA {
		d.Hashes = strings.Split(acc, ",")
	}
	return d, nil
}

func (u *UI) tryPage(c echo.Context) error {
	d, err := u.tryData(c, c.QueryParam("worker"))
	if err != nil {
		return u.done(c, "/try", "", err)
	}
	return u.render(c, http.StatusOK, "try", "Try it", d)
}

// try signs the uploaded file through the worker endpoint, exactly as a
// client would call it, and answers with the signature as a download (or,
// for a time-stamp worker, a page with the token's fields).
func (u *UI) try(c echo.Context) error {
	worker := c.FormValue("worker")
	back := "/try?worker=" + url.QueryEscape(worker)
	if err := u.opts.Admin.Require(c.Request().Context(), caller(c), tryRole, "POST "+BasePath+"/try"); err != nil {
		return u.done(c, back, "", err)
	}
	d, err := u.tryData(c, worker)
	if err != nil || d.Worker == nil {
		return u.done(c, "/try", "", err)
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return u.done(c, back, "", &admin.APIError{Status: 400, Message: "Choose a file to sign."})
	}
	if fh.Size > maxTryFile {
		return u.done(c, back, "", &admin.APIError{Status: 413, Message: fmt.Sprintf("The file is larger than %d MiB: sign large files with signet client or curl.", maxTryFile>>20)})
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	doc, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	name := path.Base(strings.ReplaceAll(fh.Filename, "\\", "/"))
	if name == "." || name == "/" || name == "" {
		name = "document"
	}
	sum := sha256.Sum256(doc)
	details := map[string]string{"worker": d.Worker.Name, "file": name, "sha256": hex.EncodeToString(sum[:])}
	if d.TSA {
		return u.stamp(c, d, doc, name, details)
	}

	meta := url.Values{}
	batch := strings.EqualFold(prop(d.Worker, "BATCHSIGNING"), "true")
	clientHash := strings.EqualFold(prop(d.Worker, "CLIENTSIDEHASHING"), "true")
	for _, o := range d.Options {
		v := strings.TrimSpace(c.FormValue("meta." + o.MetaKey))
		if o.Bool {
			v = "false"
			if c.FormValue("meta."+o.MetaKey) == "true" {
				v = "true"
			}
		}
		if v == "" {
			continue
		}
		meta.Set("REQUEST_METADATA."+o.MetaKey, v)
		switch o.MetaKey {
		case config.MetaUsingBatchSigning:
			batch = v == "true"
		case config.MetaUsingClientSuppliedHash:
			clientHash = v == "true"
		}
	}
	hashName := c.FormValue("hash")
	if hashName == "" && len(d.Hashes) > 0 {
		hashName = d.Hashes[0]
	}
	data := doc
	if clientHash {
		h, err := cms.ParseHash(hashName)
		if err != nil || !slices.Contains(d.Hashes, hashName) {
			return u.done(c, back, "", &admin.APIError{Status: 400, Message: fmt.Sprintf("Choose one of the digest algorithms %s.", strings.Join(d.Hashes, ", "))})
		}
		hh := h.New()
		hh.Write(doc)
		data = hh.Sum(nil)
		details["clientSideHash"] = hashName
		if !batch {
			meta.Set("REQUEST_METADATA."+config.MetaClientSideHashAlgorithm, hashName)
		}
	}
	body, ctype := data, "application/octet-stream"
	if batch {
		item := workers.BatchItem{Data: base64.StdEncoding.EncodeToString(data), CustomIdentifier: name}
		if clientHash {
			item.HashingAlgorithm = hashName
		}
		body, _ = json.Marshal(workers.BatchRequest{SignatureRequests: []workers.BatchItem{item}})
		ctype = "application/json"
		details["batch"] = "true"
	}
	code, answer := u.forward(c, d.Worker.Name, meta, ctype, body)
	if code != http.StatusOK {
		msg := strings.TrimSpace(string(answer))
		u.record(c, sessionOf(c).User, "worker.try", "worker/"+d.Worker.Name, msg, details)
		return u.done(c, back, "", &admin.APIError{Status: code, Message: msg})
	}
	sig := answer
	if batch {
		var r workers.BatchResponse
		if err := json.Unmarshal(answer, &r); err != nil || len(r.Signatures) != 1 {
			return fmt.Errorf("batch answer of worker %s: %v", d.Worker.Name, err)
		}
		sig = r.Signatures[0].Signature
	}
	u.record(c, sessionOf(c).User, "worker.try", "worker/"+d.Worker.Name, "ok", details)
	ext := ".p7s"
	switch {
	case d.Worker.Kind == config.KindPlainSigner:
		ext = ".sig"
	case meta.Get("REQUEST_METADATA."+config.MetaDetachedSignature) == "false",
		meta.Get("REQUEST_METADATA."+config.MetaDetachedSignature) == "" && !strings.EqualFold(prop(d.Worker, "DETACHEDSIGNATURE"), "true"):
		ext = ".p7m"
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name+ext))
	return c.Blob(http.StatusOK, "application/octet-stream", sig)
}

// forward sends a request to the worker endpoint /signserver/worker/NAME
// in process, from the user's address and as the logged-in user: the
// signing log records the signature as the user's, as for the admin
// test-sign (a worker that authenticates its clients records whom it
// authenticated instead).
func (u *UI) forward(c echo.Context, worker string, meta url.Values, ctype string, body []byte) (int, []byte) {
	target := "/signserver/worker/" + url.PathEscape(worker)
	if len(meta) > 0 {
		target += "?" + meta.Encode()
	}
	ctx := tokens.WithCaller(c.Request().Context(), tokens.Caller{User: sessionOf(c).User})
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	req.RemoteAddr = c.Request().RemoteAddr
	// With the peer's X-Forwarded-For, so that behind a trusted proxy the
	// endpoint finds the user's address as the server did for this request
	// (the address of the UI's audit row), not the proxy's; from a peer
	// that is no trusted proxy the header is ignored there as here.
	if xff := c.Request().Header.Values(echo.HeaderXForwardedFor); len(xff) > 0 {
		req.Header[echo.HeaderXForwardedFor] = xff
	}
	req.Header.Set(echo.HeaderContentType, ctype)
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		req.Header.Set(echo.HeaderXRequestID, id)
	}
	rec := httptest.NewRecorder()
	u.opts.Workers.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// stamp time-stamps doc and shows the token.
func (u *UI) stamp(c echo.Context, d tryData, doc []byte, name string, details map[string]string) error {
	back := "/try?worker=" + url.QueryEscape(d.Worker.Name)
	// No hash is SHA-256; another than the form offers is refused, not
	// replaced by SHA-256 (a crafted form's hash=MD5 was stamped so).
	h := crypto.SHA256
	if name := c.FormValue("hash"); name != "" {
		var err error
		if h, err = cms.ParseHash(name); err != nil || (h != crypto.SHA256 && h != crypto.SHA384 && h != crypto.SHA512) {
			return u.done(c, back, "", &admin.APIError{Status: http.StatusBadRequest, Message: fmt.Sprintf("Choose one of the digest algorithms %s.", strings.Join(d.Hashes, ", "))})
		}
	}
	tsq, err := timestamp.CreateRequest(bytes.NewReader(doc), &timestamp.RequestOptions{Hash: h, Certificates: true})
	if err != nil {
		return fmt.Errorf("make the time-stamp query: %w", err)
	}
	code, answer := u.forward(c, d.Worker.Name, nil, "application/timestamp-query", tsq)
	if code != http.StatusOK {
		msg := strings.TrimSpace(string(answer))
		u.record(c, sessionOf(c).User, "worker.try", "worker/"+d.Worker.Name, msg, details)
		return u.done(c, back, "", &admin.APIError{Status: code, Message: msg})
	}
	ts, err := timestamp.ParseResponse(answer)
	if err != nil {
		msg := "The time-stamp authority refused the query: " + err.Error()
		u.record(c, sessionOf(c).User, "worker.try", "worker/"+d.Worker.Name, msg, details)
		return u.done(c, back, "", &admin.APIError{Status: 400, Message: msg})
	}
	u.record(c, sessionOf(c).User, "worker.try", "worker/"+d.Worker.Name, "ok", details)
	v := &stampView{
		File: name, Worker: d.Worker.Name,
		Time:          ts.Time.UTC().Format("2006-01-02 15:04:05.000 UTC"),
		Serial:        ts.SerialNumber.Text(16),
		Policy:        ts.Policy.String(),
		HashAlgorithm: cms.HashName(ts.HashAlgorithm),
		Hash:          hex.EncodeToString(ts.HashedMessage),
		Accuracy:      ts.Accuracy.String(),
		Ordering:      ts.Ordering,
		Download:      tsrLink(answer),
	}
	if ts.Nonce != nil {
		v.Nonce = ts.Nonce.Text(16)
	}
	for _, cert := range ts.Certificates {
		v.Certificates = append(v.Certificates, cert.Subject.String())
	}
	d.Stamp = v
	if s := sessionOf(c); s != nil {
		s.SetFlash(auth.Flash{Text: fmt.Sprintf("%s was time-stamped by %s.", name, d.Worker.Name)})
	}
	return u.render(c, http.StatusOK, "try", "Try it", d)
}
