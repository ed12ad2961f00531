package admin

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/clienttext"
)

// Property is one property of a worker as GET /workers/{name}/properties
// reports it: every property of the worker's kind, set or not.
type Property struct {
	Name string `json:"name"`
	// Value is the value in force: the one set, or the default. A secret
	// property shows its reference (env:NAME or file:PATH), never a value.
	Value   string `json:"value"`
	Default string `json:"default,omitempty"`
	// SetAt is where the value is set, file:line; empty for a default.
	SetAt  string `json:"setAt,omitempty"`
	Secret bool   `json:"secret,omitempty"`
	Doc    string `json:"doc"`
	// OverriddenBy names the property that lets a request override it.
	OverriddenBy string `json:"overriddenBy,omitempty"`
	MetaKey      string `json:"metaKey,omitempty"`
}

// WorkerConfig is the answer of GET /workers/{name}/properties.
type WorkerConfig struct {
	Name       string     `json:"name"`
	ID         int        `json:"id"`
	Kind       string     `json:"kind"`
	Token      string     `json:"token,omitempty"`
	Key        string     `json:"key,omitempty"`
	File       string     `json:"file"` // file:line of the worker
	Problems   []string   `json:"problems,omitempty"`
	Properties []Property `json:"properties"`
}

// configWorker returns the configured worker named in the path.
func (h *Handler) configWorker(c echo.Context) (*config.Config, config.Worker, error) {
	if h.opts.Config == nil || h.opts.Config() == nil {
		return nil, config.Worker{}, errorf(http.StatusConflict, "This server does not edit its configuration: edit the YAML file and reload.")
	}
	cfg := h.opts.Config()
	w, ok := cfg.Worker(param(c, "name"))
	if !ok {
		return nil, config.Worker{}, errorf(http.StatusNotFound, "No worker named or numbered %s in the configuration: see GET %s/workers for the workers.", clienttext.Quote(param(c, "name")), BasePath)
	}
	return cfg, w, nil
}

// ConfigChange is the answer of the routes that edit a worker in the
// configuration files and reload them (PUT and DELETE
// /workers/{name}/properties/{property}, POST /workers): the worker's
// configuration, as GET /workers/{name}/properties answers it, and the
// settings that wait for a restart, as POST /reload answers them (an
// edit's reload is the same reload).
type ConfigChange struct {
	WorkerConfig
	// RestartNeeded is ReloadResult.RestartNeeded of the edit's reload:
	// empty (never null) when none waits, or when the server does not
	// reload (no Options.Reload).
	RestartNeeded []string `json:"restartNeeded"`
}

// RestartNote is ReloadResult.RestartNote, in the same words.
func (r ConfigChange) RestartNote() string { return restartNote(r.RestartNeeded) }

// listProperties handles GET /workers/{name}/properties.
func (h *Handler) listProperties(c echo.Context) error {
	out, err := h.workerConfig(c)
	return h.answer(c, http.StatusOK, out, err)
}

// changed answers an edit of the worker named in the path, whose reload
// returned restartNeeded.
func (h *Handler) changed(c echo.Context, restartNeeded []string) error {
	wc, err := h.workerConfig(c)
	return h.answer(c, http.StatusOK, ConfigChange{WorkerConfig: wc, RestartNeeded: restartNeeded}, err)
}

// workerConfig is the configuration of the worker named in the path, as
// GET /workers/{name}/properties answers it.
func (h *Handler) workerConfig(c echo.Context) (WorkerConfig, error) {
	_, w, err := h.configWorker(c)
	if err != nil {
		return WorkerConfig{}, err
	}
	out := WorkerConfig{Name: w.Name, ID: w.ID, Kind: w.Kind, Token: w.Token, Key: w.Key, File: w.Pos.String(), Properties: []Property{}}
	for _, p := range w.Problems {
		out.Problems = append(out.Problems, p.Error())
	}
	set := w.Properties.Map()
	for _, d := range config.Schema() {
		if !d.AppliesTo(w.Kind) && !w.Properties.IsSet(d.Name) {
			continue
		}
		p := Property{Name: d.Name, Value: w.Properties.String(d.Name), Default: d.Default, Secret: d.Secret, Doc: d.Doc, OverriddenBy: d.OverriddenBy, MetaKey: d.MetaKey}
		if w.Properties.IsSet(d.Name) {
			p.Value, p.SetAt = set[d.Name], w.Properties.Pos(d.Name).String()
		}
		out.Properties = append(out.Properties, p)
	}
	return out, nil
}

// PropertyRequest is the body of PUT /workers/{name}/properties/{property}.
type PropertyRequest struct {
	Value string `json:"value"`
}

// setProperty handles PUT /workers/{name}/properties/{property}.
func (h *Handler) setProperty(c echo.Context) error {
	var req PropertyRequest
	err := decode(c, &req, false)
	name := strings.ToUpper(strings.TrimSpace(param(c, "property")))
	if err == nil && name == "" {
		err = errorf(http.StatusBadRequest, "Name the property to set.")
	}
	// An empty value is the same as leaving the property out (config):
	// written, it left PROPERTY: "" in the file and was answered as set.
	if err == nil && strings.TrimSpace(req.Value) == "" {
		err = errorf(http.StatusBadRequest, "The value of %s is empty: give one, or remove it with DELETE to return to its default.", clienttext.Quote(name))
	}
	var w config.Worker
	var cfg *config.Config
	var restart []string
	if err == nil {
		cfg, w, err = h.configWorker(c)
	}
	if err == nil {
		restart, err = h.edit(c, cfg, w.Pos.File, config.SetProperty(w.Name, name, req.Value))
	}
	h.record(c, "config.set", "worker/"+w.Name, RestartDetail(map[string]string{"property": name}, restart), err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	return h.changed(c, restart)
}

// removeProperty handles DELETE /workers/{name}/properties/{property}.
func (h *Handler) removeProperty(c echo.Context) error {
	name := strings.ToUpper(param(c, "property"))
	cfg, w, err := h.configWorker(c)
	var restart []string
	if err == nil {
		if !w.Properties.IsSet(name) || w.Properties.Pos(name).File != w.Pos.File {
			err = errorf(http.StatusNotFound, "Worker %s does not set %s in its file: nothing to remove.", w.Name, clienttext.Quote(name))
		} else {
			restart, err = h.edit(c, cfg, w.Pos.File, config.RemoveProperty(w.Name, name))
		}
	}
	h.record(c, "config.remove", "worker/"+w.Name, RestartDetail(map[string]string{"property": name}, restart), err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	return h.changed(c, restart)
}

// NewWorkerRequest is the body of POST /workers.
type NewWorkerRequest struct {
	Name string `json:"name"`
	// ID is the worker's number; 0 chooses the next free one.
	ID         int               `json:"id,omitempty"`
	Kind       string            `json:"kind"`
	Token      string            `json:"token,omitempty"`
	Key        string            `json:"key,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// addWorker handles POST /workers: the worker is appended to the file that
// holds the last worker (or the first file).
func (h *Handler) addWorker(c echo.Context) error {
	var req NewWorkerRequest
	var restart []string
	err := decode(c, &req, false)
	// The name as it is written (without the spaces around it), for the
	// audit row and the answer too: the answer looked it up with them, a
	// 404 for the worker just added.
	req.Name = strings.TrimSpace(req.Name)
	if err == nil && (h.opts.Config == nil || h.opts.Config() == nil) {
		err = errorf(http.StatusConflict, "This server does not edit its configuration: edit the YAML file and reload.")
	}
	if err == nil && req.Name == "" {
		err = errorf(http.StatusBadRequest, "The new worker has no name: give it one.")
	}
	if err == nil && !slices.Contains(config.Kinds(), req.Kind) {
		err = errorf(http.StatusBadRequest, "Unknown worker kind %s: use one of %s.", clienttext.Quote(req.Kind), strings.Join(config.Kinds(), ", "))
	}
	props := map[string]string{}
	spelt := map[string]string{} // the name as sent, of each property
	for _, k := range slices.Sorted(maps.Keys(req.Properties)) {
		if err != nil {
			break
		}
		name := strings.ToUpper(strings.TrimSpace(k))
		if prev, dup := spelt[name]; dup {
			// Which of the two was written depended on a map's order.
			err = errorf(http.StatusBadRequest, "properties has both %s and %s, which name the same property: keep one.", clienttext.Quote(prev), clienttext.Quote(k))
			break
		}
		spelt[name] = k
		if v := req.Properties[k]; strings.TrimSpace(v) != "" {
			props[name] = v
		}
	}
	if err == nil {
		// The ID and the file are chosen under the edit lock, from the
		// configuration the last edit reloaded: chosen before it, workers
		// added at once were given the same ID and all but one refused.
		h.editMu.Lock()
		cfg := h.opts.Config()
		if req.ID == 0 {
			req.ID = cfg.NextWorkerID()
		}
		file := cfg.Files[0]
		if n := len(cfg.Workers); n > 0 {
			file = cfg.Workers[n-1].Pos.File
		}
		restart, err = h.editLocked(c, cfg, file, config.AddWorker(config.NewWorker{
			Name: req.Name, ID: req.ID, Kind: req.Kind, Token: req.Token, Key: req.Key, Properties: props}))
		h.editMu.Unlock()
	}
	h.record(c, "config.add", "worker/"+req.Name, RestartDetail(map[string]string{"kind": req.Kind, "id": strconv.Itoa(req.ID)}, restart), err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	c.SetParamNames("name")
	c.SetParamValues(req.Name)
	return h.changed(c, restart)
}

// edit applies an edit to file and reloads; a refused change is a 400 with
// the problems, and nothing is written. It returns the reload's
// restartNeeded (reloadConfig), which the edit's answer and audit row
// carry as POST /reload's do: empty when the server does not reload.
func (h *Handler) edit(c echo.Context, cfg *config.Config, file string, e config.Edit) (restartNeeded []string, err error) {
	h.editMu.Lock()
	defer h.editMu.Unlock()
	return h.editLocked(c, cfg, file, e)
}

// editLocked is edit for a caller that holds editMu.
func (h *Handler) editLocked(c echo.Context, cfg *config.Config, file string, e config.Edit) ([]string, error) {
	ctx := c.Request().Context()
	var err error
	if h.opts.EditConfig != nil {
		err = h.opts.EditConfig(ctx, user(c), file, e)
	} else {
		err = config.Apply(cfg.Files, file, e)
	}
	var refused *config.Refused
	switch {
	case errors.As(err, &refused):
		ps := make([]string, len(refused.Problems))
		for i, p := range refused.Problems {
			ps[i] = p.Error()
		}
		return nil, &problemsError{statusError{code: http.StatusBadRequest, msg: "The change was refused and nothing was written: " + refused.Problems[0].Error()}, ps}
	case errors.Is(err, config.ErrNotEditable):
		return nil, errorf(http.StatusConflict, "%s: edit the file by hand.", upperFirst(err.Error()))
	case err != nil && strings.Contains(err.Error(), "not in this file"), err != nil && strings.Contains(err.Error(), "does not set"):
		// The running configuration holds what the file no longer does:
		// the loser of two edits that both read it before the winner wrote
		// (two DELETEs of one property), or a file edited by hand since.
		return nil, errorf(http.StatusNotFound, "%s: it was changed since the server read it (by another request, or by hand); read the worker's properties again, after POST /reload if the file was edited by hand.", upperFirst(err.Error()))
	case err != nil:
		return nil, err
	}
	if h.opts.Reload == nil {
		return []string{}, nil
	}
	restartNeeded, rerr := h.reloadConfig(ctx)
	if rerr != nil {
		return nil, errorf(http.StatusConflict, "The file was changed but the server did not reload it: %s", oneLine(rerr.Error()))
	}
	return restartNeeded, nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// problemsError is a refused configuration change: a 400 with its problems.
type problemsError struct {
	statusError
	problems []string
}

func (e *problemsError) Unwrap() error { return &e.statusError }
