package ui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
)

// workerRow is one line of the dashboard.
type workerRow struct {
	admin.WorkerStatus
	// Days is the signer certificate's days to expiry; Expiry is "ok",
	// "warning" (under 30 days) or "error" (expired).
	Days   int
	Expiry string
	// UsageLeft is "" without a limit, otherwise the signatures left.
	UsageLeft string
	Series    Series
}

// expiryWarning is when the dashboard warns of a certificate's expiry.
const expiryWarning = 30 * 24 * time.Hour

func rows(ws []admin.WorkerStatus, series map[string]Series) []workerRow {
	now := time.Now()
	out := make([]workerRow, 0, len(ws))
	for _, w := range ws {
		r := workerRow{WorkerStatus: w, Series: series[w.Name]}
		if c := w.Certificate; c != nil {
			left := c.NotAfter.Sub(now)
			r.Days = int(left.Hours() / 24)
			switch {
			case left <= 0:
				r.Expiry = "error"
			case left < expiryWarning:
				r.Expiry = "warning"
			default:
				r.Expiry = "ok"
			}
		}
		if k := w.KeyUsage; k != nil && k.Limit >= 0 {
			r.UsageLeft = strconv.FormatInt(max(k.Limit-k.Used, 0), 10) + " of " + strconv.FormatInt(k.Limit, 10)
		}
		out = append(out, r)
	}
	return out
}

type dashboardData struct {
	Workers []workerRow
	Tokens  []admin.TokenStatus
	Charts  bool
}

// CN returns the common name of a subject DN as Go prints it ("CN=x,O=y"),
// or the whole DN without one: the dashboard shows the full DN on hover.
func (dashboardData) CN(subject string) string {
	for _, part := range strings.Split(subject, ",") {
		if cn, ok := strings.CutPrefix(part, "CN="); ok {
			return cn
		}
	}
	return subject
}

func (u *UI) dashboard(c echo.Context) error {
	var ws []admin.WorkerStatus
	if err := u.call(c, http.MethodGet, "/workers", nil, &ws); err != nil {
		return err
	}
	var ts []admin.TokenStatus
	if err := u.call(c, http.MethodGet, "/tokens", nil, &ts); err != nil {
		return err
	}
	var series map[string]Series
	if u.opts.Metrics != nil {
		series = u.opts.Metrics.Series()
	}
	return u.render(c, http.StatusOK, "dashboard", "Dashboard", dashboardData{Workers: rows(ws, series), Tokens: ts, Charts: u.opts.Metrics != nil})
}

// bulk handles the dashboard's actions on the selected workers: activate
// or deactivate their crypto tokens, or reload the configuration.
func (u *UI) bulk(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return u.done(c, "/dashboard", "", &admin.APIError{Status: 400, Message: "The form could not be read: send it again."})
	}
	action := form.Get("action")
	if action == "reload" {
		var res admin.ReloadResult
		err := u.call(c, http.MethodPost, "/reload", nil, &res)
		return u.done(c, "/dashboard", reloaded("The configuration was reloaded.", res.RestartNote()), err)
	}
	if action != "activate" && action != "deactivate" {
		return u.done(c, "/dashboard", "", &admin.APIError{Status: 400, Message: "Choose activate, deactivate or reload."})
	}
	var ws []admin.WorkerStatus
	if err := u.call(c, http.MethodGet, "/workers", nil, &ws); err != nil {
		return err
	}
	chosen := form["worker"]
	var toks []string
	for _, w := range ws {
		if slices.Contains(chosen, w.Name) && w.Token != "" && !slices.Contains(toks, w.Token) {
			toks = append(toks, w.Token)
		}
	}
	if len(toks) == 0 {
		return u.done(c, "/dashboard", "", &admin.APIError{Status: 400, Message: "Select at least one worker with a crypto token."})
	}
	var done []string
	for _, t := range toks {
		var in any
		if action == "activate" {
			in = admin.ActivateRequest{PIN: form.Get("pin")}
		}
		if err := u.call(c, http.MethodPost, "/tokens/"+url.PathEscape(t)+"/"+action, in, nil); err != nil {
			var ae *admin.APIError
			if len(done) > 0 && errors.As(err, &ae) {
				// The tokens changed before are said: the refusal alone
				// read as if nothing had been done.
				err = &admin.APIError{Status: ae.Status, Problems: ae.Problems,
					Message: fmt.Sprintf("Crypto token %s: %sd; then crypto token %s: %s", strings.Join(done, ", "), action, t, ae.Message)}
			}
			return u.done(c, "/dashboard", "", err)
		}
		done = append(done, t)
	}
	return u.done(c, "/dashboard", fmt.Sprintf("Crypto token %s: %sd.", strings.Join(done, ", "), action), nil)
}

type workerData struct {
	Status admin.WorkerStatus
	Config admin.WorkerConfig
	Edit   admin.Property // the property in the edit form
	Names  []string       // every property name, for the form's suggestions
}

func (u *UI) workerPage(c echo.Context) error {
	name := param(c, "name")
	var d workerData
	err := u.call(c, http.MethodGet, "/workers/"+url.PathEscape(name)+"/properties", nil, &d.Config)
	var ae *admin.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return u.notFound(c)
	}
	if err != nil {
		return err
	}
	if err := u.call(c, http.MethodGet, "/workers/"+url.PathEscape(name), nil, &d.Status); err != nil && !errors.As(err, &ae) {
		return err
	}
	edit := c.QueryParam("edit")
	var refused map[string]string // a refused change, to show again
	if s := sessionOf(c); s != nil {
		if f := s.PeekFlash(); f != nil && f.Error && f.Form != nil {
			refused, edit = f.Form, f.Form["name"]
			d.Edit.Name = edit // a name no property has is shown as typed
		}
	}
	for _, p := range d.Config.Properties {
		d.Names = append(d.Names, p.Name)
		if p.Name == edit {
			d.Edit = p
		}
	}
	// A secret's value is not written into the page: a property secret
	// for any kind (config's schema says), whether this worker has it.
	if decl, _ := config.LookupProperty(edit); refused != nil && !d.Edit.Secret && !decl.Secret {
		d.Edit.Value = refused["value"]
	}
	return u.render(c, http.StatusOK, "worker", "Worker "+d.Config.Name, d)
}

func (u *UI) setProperty(c echo.Context) error {
	name := param(c, "name")
	prop := strings.ToUpper(strings.TrimSpace(c.FormValue("name")))
	back := "/workers/" + url.PathEscape(name)
	if prop == "" {
		return u.done(c, back, "", &admin.APIError{Status: 400, Message: "Name the property to set."})
	}
	var res admin.ConfigChange
	err := u.call(c, http.MethodPut, "/workers/"+url.PathEscape(name)+"/properties/"+url.PathEscape(prop), admin.PropertyRequest{Value: c.FormValue("value")}, &res)
	return u.doneKeeping(c, back, reloaded(fmt.Sprintf("%s was set, written to the file and the configuration reloaded.", prop), res.RestartNote()), err,
		map[string]string{"name": prop, "value": c.FormValue("value")})
}

func (u *UI) removeProperty(c echo.Context) error {
	name, prop := param(c, "name"), c.FormValue("name")
	var res admin.ConfigChange
	err := u.call(c, http.MethodDelete, "/workers/"+url.PathEscape(name)+"/properties/"+url.PathEscape(prop), nil, &res)
	return u.done(c, "/workers/"+url.PathEscape(name), reloaded(fmt.Sprintf("%s was removed, the file written and the configuration reloaded.", prop), res.RestartNote()), err)
}

// reloaded is the message of an action that reloaded the configuration:
// its own sentence, then the reload's restart note (admin's RestartNote)
// when settings wait for a restart; every such action says it alike.
func reloaded(sentence, restartNote string) string {
	return strings.TrimSpace(sentence + " " + restartNote)
}

// kindForm is the properties a worker kind needs, for the new-worker form.
type kindForm struct {
	Kind     string
	Required []config.Property
}

type newWorkerData struct {
	Kinds  []kindForm
	Tokens []admin.TokenStatus
	NextID int
	Form   map[string]string // the values sent, when the form comes back
}

func (u *UI) newWorkerData(c echo.Context) (newWorkerData, error) {
	d := newWorkerData{Form: map[string]string{}}
	for _, k := range config.Kinds() {
		kf := kindForm{Kind: k}
		for _, p := range config.Schema() {
			if p.Required && p.AppliesTo(k) {
				kf.Required = append(kf.Required, p)
			}
		}
		d.Kinds = append(d.Kinds, kf)
	}
	if err := u.call(c, http.MethodGet, "/tokens", nil, &d.Tokens); err != nil {
		return d, err
	}
	var ws []admin.WorkerStatus
	if err := u.call(c, http.MethodGet, "/workers", nil, &ws); err != nil {
		return d, err
	}
	for _, w := range ws {
		d.NextID = max(d.NextID, w.ID)
	}
	d.NextID++
	return d, nil
}

func (u *UI) newWorkerPage(c echo.Context) error {
	d, err := u.newWorkerData(c)
	if err != nil {
		return err
	}
	return u.render(c, http.StatusOK, "newworker", "Add a worker", d)
}

func (u *UI) addWorker(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return u.done(c, "/workers/new", "", &admin.APIError{Status: 400, Message: "The form could not be read: send it again."})
	}
	req := admin.NewWorkerRequest{Name: strings.TrimSpace(form.Get("name")), Kind: form.Get("kind"), Token: form.Get("token"), Key: strings.TrimSpace(form.Get("key")), Properties: map[string]string{}}
	if id := strings.TrimSpace(form.Get("id")); id != "" {
		n, err := strconv.Atoi(id)
		if err != nil || n <= 0 {
			return u.done(c, "/workers/new", "", &admin.APIError{Status: 400, Message: "The id must be a whole number of 1 or more."})
		}
		req.ID = n
	}
	// Fields prop.<KIND>.<NAME> hold the properties a kind needs; only the
	// chosen kind's count.
	for k, v := range form {
		if rest, ok := strings.CutPrefix(k, "prop."+req.Kind+"."); ok && strings.TrimSpace(v[0]) != "" {
			req.Properties[rest] = strings.TrimSpace(v[0])
		}
	}
	for i, line := range strings.Split(form.Get("more"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if !ok {
			return u.done(c, "/workers/new", "", &admin.APIError{Status: 400, Message: fmt.Sprintf("Line %d of the further properties is not NAME=value: write one property per line.", i+1)})
		}
		req.Properties[strings.ToUpper(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	var wc admin.ConfigChange
	if err := u.call(c, http.MethodPost, "/workers", req, &wc); err != nil {
		return u.done(c, "/workers/new", "", err)
	}
	return u.done(c, "/workers/"+url.PathEscape(wc.Name), reloaded(fmt.Sprintf("Worker %s (id %d) was added to %s and the configuration reloaded.", wc.Name, wc.ID, wc.File), wc.RestartNote()), nil)
}

// keyRow is a key on the tokens page.
type keyRow struct {
	admin.Key
	Chain []admin.Certificate
	Usage string // from the workers that count the key's signatures
}

type tokenRow struct {
	admin.TokenStatus
	KeyRows []keyRow
	CanGen  bool
	CanPut  bool
}

func (u *UI) tokensPage(c echo.Context) error {
	var ts []admin.TokenStatus
	if err := u.call(c, http.MethodGet, "/tokens", nil, &ts); err != nil {
		return err
	}
	var ws []admin.WorkerStatus
	if err := u.call(c, http.MethodGet, "/workers", nil, &ws); err != nil {
		return err
	}
	out := make([]tokenRow, 0, len(ts))
	for _, t := range ts {
		tr := tokenRow{TokenStatus: t, CanGen: slices.Contains(t.Capabilities, "generate"), CanPut: slices.Contains(t.Capabilities, "chain")}
		for _, k := range t.Keys {
			kr := keyRow{Key: k}
			if k.HasChain {
				var ch admin.ChainResponse
				if err := u.call(c, http.MethodGet, "/tokens/"+url.PathEscape(t.Name)+"/keys/"+url.PathEscape(k.Alias)+"/chain", nil, &ch); err == nil {
					kr.Chain = ch.Certificates
				}
			}
			for _, w := range ws {
				if w.Token == t.Name && w.Key == k.Alias && w.KeyUsage != nil {
					kr.Usage = strconv.FormatInt(w.KeyUsage.Used, 10) + " signatures"
					if w.KeyUsage.Limit >= 0 {
						kr.Usage += " of " + strconv.FormatInt(w.KeyUsage.Limit, 10)
					}
					break
				}
			}
			tr.KeyRows = append(tr.KeyRows, kr)
		}
		sort.Slice(tr.KeyRows, func(i, j int) bool { return tr.KeyRows[i].Alias < tr.KeyRows[j].Alias })
		out = append(out, tr)
	}
	return u.render(c, http.StatusOK, "tokens", "Tokens and keys", out)
}

func tokenPath(c echo.Context) string { return "/tokens/" + url.PathEscape(param(c, "token")) }
func keyPath(c echo.Context) string {
	return tokenPath(c) + "/keys/" + url.PathEscape(param(c, "alias"))
}

func (u *UI) activate(c echo.Context) error {
	err := u.call(c, http.MethodPost, tokenPath(c)+"/activate", admin.ActivateRequest{PIN: c.FormValue("pin")}, nil)
	return u.done(c, "/tokens", fmt.Sprintf("Crypto token %s is activated.", param(c, "token")), err)
}

func (u *UI) deactivate(c echo.Context) error {
	err := u.call(c, http.MethodPost, tokenPath(c)+"/deactivate", nil, nil)
	return u.done(c, "/tokens", fmt.Sprintf("Crypto token %s is deactivated.", param(c, "token")), err)
}

func (u *UI) generateKey(c echo.Context) error {
	req := admin.GenerateRequest{Alias: strings.TrimSpace(c.FormValue("alias")), Algorithm: c.FormValue("algorithm")}
	switch size := c.FormValue("size"); {
	case strings.HasPrefix(size, "P-"):
		req.Curve = size
	case size != "":
		// A size that is no number was read as 0, the default, and a key
		// of the default size generated: refuse it instead.
		bits, err := strconv.Atoi(size)
		if err != nil || bits <= 0 {
			return u.done(c, "/tokens", "", &admin.APIError{Status: http.StatusBadRequest, Message: "The key size must be a number of bits (2048, 3072 or 4096) or a curve (P-256, P-384 or P-521): choose one from the list."})
		}
		req.Bits = bits
	}
	if req.Algorithm == "Ed25519" || (req.Algorithm == "ECDSA" && req.Bits != 0) || (req.Algorithm == "RSA" && req.Curve != "") {
		req.Bits, req.Curve = 0, "" // the size list offers every algorithm's sizes: keep the one that fits
	}
	var k admin.Key
	err := u.call(c, http.MethodPost, tokenPath(c)+"/keys", req, &k)
	return u.done(c, "/tokens", fmt.Sprintf("Key %s (%s) was generated in crypto token %s.", req.Alias, k.Algorithm, param(c, "token")), err)
}

func (u *UI) testKey(c echo.Context) error {
	var r admin.TestResult
	err := u.call(c, http.MethodPost, keyPath(c)+"/test", nil, &r)
	return u.done(c, "/tokens", fmt.Sprintf("Key %s signed with %s in %.1f ms and the signature verified.", param(c, "alias"), r.Algorithm, r.Duration), err)
}

// csr answers with the PEM request as a download.
func (u *UI) csr(c echo.Context) error {
	var r admin.CSRResponse
	if err := u.call(c, http.MethodPost, keyPath(c)+"/csr", admin.CSRRequest{Subject: c.FormValue("subject")}, &r); err != nil {
		return u.done(c, "/tokens", "", err)
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", param(c, "alias")+".csr.pem"))
	return c.Blob(http.StatusOK, "application/pkcs10", []byte(r.CSR))
}

func (u *UI) uploadChain(c echo.Context) error {
	fh, err := c.FormFile("chain")
	if err != nil {
		return u.done(c, "/tokens", "", &admin.APIError{Status: 400, Message: "Choose the PEM file of the certificate chain, signer first."})
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	pem, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return err
	}
	var r admin.ChainResponse
	err = u.call(c, http.MethodPut, keyPath(c)+"/chain", admin.ChainRequest{Chain: string(pem)}, &r)
	return u.done(c, "/tokens", fmt.Sprintf("The chain of key %s (%d certificates) was stored.", param(c, "alias"), len(r.Certificates)), err)
}

// removeKey removes a key once its name was typed; the admin API refuses
// while a worker uses it.
func (u *UI) removeKey(c echo.Context) error {
	alias := param(c, "alias")
	if c.FormValue("confirm") != alias {
		sessionOf(c).SetFlash(auth.Flash{Error: true, Text: fmt.Sprintf("Key %s was not removed: type its name, %s, to confirm.", alias, alias)})
		return c.Redirect(http.StatusSeeOther, BasePath+"/tokens")
	}
	err := u.call(c, http.MethodDelete, keyPath(c), nil, nil)
	return u.done(c, "/tokens", fmt.Sprintf("Key %s was removed from crypto token %s.", alias, param(c, "token")), err)
}
