package loadgen

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The key-level APIs -api drives besides the worker endpoints: they sign
// client-side digests and answer raw signatures, so that the same client
// measures Signet's vendor APIs, a peer (OpenBao transit) and the bench
// harness's floor server alike.
const (
	apiDSM     = "dsm"     // Fortanix DSM: /crypto/v1/keys/batch/sign, /crypto/v1/sign
	apiNetHSM  = "nethsm"  // Nitrokey NetHSM: /api/v1/keys/{key}/sign
	apiTransit = "transit" // OpenBao / Vault transit: /v1/transit/sign/{key}
	apiFloor   = "floor"   // the bench harness's minimal net/http signer
)

var apis = []string{apiDSM, apiNetHSM, apiTransit, apiFloor}

// checkAPI reports the first -api combination that cannot run.
func (f *Options) checkAPI() error {
	switch {
	case f.api == "":
		return nil
	case !slices.Contains(apis, f.api):
		return fmt.Errorf("-api %q: use one of %s", f.api, strings.Join(apis, ", "))
	case f.rest:
		return errors.New("-api replaces -rest: leave -rest out")
	case f.file != "":
		return errors.New("-api sends digests: leave -file out")
	case f.api == apiNetHSM && f.batch > 0:
		return errors.New("the NetHSM API signs one digest per request: leave -batch out")
	case f.api == apiFloor && f.batch > 0 && !f.clientSide:
		return errors.New("-api floor -batch signs digests: add -clientside")
	}
	return nil
}

// apiHashNames are the digest names of each API, by hash.
var apiHashNames = map[string]map[crypto.Hash]string{
	apiDSM:     {crypto.SHA256: "SHA256", crypto.SHA384: "SHA384", crypto.SHA512: "SHA512"},
	apiTransit: {crypto.SHA256: "sha2-256", crypto.SHA384: "sha2-384", crypto.SHA512: "sha2-512"},
}

// apiEndpoint returns the URL of the API's sign call.
func (f *Options) apiEndpoint() string {
	base := strings.TrimRight(f.url, "/")
	key := url.PathEscape(f.key)
	switch f.api {
	case apiDSM:
		if f.batch > 0 {
			return base + "/crypto/v1/keys/batch/sign"
		}
		return base + "/crypto/v1/sign"
	case apiNetHSM:
		return base + "/api/v1/keys/" + key + "/sign"
	case apiTransit:
		return base + "/v1/transit/sign/" + key
	}
	if f.clientSide {
		return base + "/sign?items=" + strconv.Itoa(max(f.batch, 1))
	}
	return base + "/sign"
}

// PasswordEnv is the environment variable that holds the -user's password
// of -api dsm and nethsm when no -password-file is given.
const PasswordEnv = "SIGNET_BENCH_PASSWORD"

// apiHeaders returns the credentials header of the API: HTTP basic for
// Signet's vendor APIs (user -user, password from -password-file or
// $SIGNET_BENCH_PASSWORD), X-Vault-Token ($BAO_TOKEN or $VAULT_TOKEN) for
// transit, none for the floor server.
func (f *Options) apiHeaders() (map[string]string, error) {
	switch f.api {
	case apiDSM, apiNetHSM:
		pw := os.Getenv(PasswordEnv)
		if f.passwordFile != "" {
			b, err := os.ReadFile(f.passwordFile)
			if err != nil {
				return nil, err
			}
			pw = strings.TrimSpace(string(b))
		}
		if f.user == "" || pw == "" {
			return nil, errors.New("-api " + f.api + " needs -user and a password (-password-file or $" + PasswordEnv + ")")
		}
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(f.user+":"+pw))}, nil
	case apiTransit:
		tok := os.Getenv("BAO_TOKEN")
		if tok == "" {
			tok = os.Getenv("VAULT_TOKEN")
		}
		if tok == "" {
			return nil, errors.New("-api transit needs the token in $BAO_TOKEN")
		}
		return map[string]string{"X-Vault-Token": tok}, nil
	}
	return nil, nil
}

// apiItem appends one sign request for digest to w, as the API spells it.
func apiItem(w []byte, api, key string, h crypto.Hash, digest []byte) []byte {
	switch api {
	case apiDSM:
		w = append(w, `{"key":{"name":`...)
		w = strconv.AppendQuote(w, key)
		w = append(w, `},"hash_alg":"`...)
		w = append(w, apiHashNames[apiDSM][h]...)
		w = append(w, `","hash":"`...)
	case apiNetHSM:
		w = append(w, `{"mode":"ECDSA","message":"`...)
	case apiTransit:
		w = append(w, `{"input":"`...)
	}
	w = base64.StdEncoding.AppendEncode(w, digest)
	return append(w, `"}`...)
}

// apiWire builds the request body of an API call from its digests (or,
// for the floor server without -clientside, the document).
func apiWire(w []byte, api, key string, h crypto.Hash, payloads [][]byte, batch bool) []byte {
	w = w[:0]
	switch {
	case api == apiFloor:
		for _, p := range payloads {
			w = append(w, p...)
		}
		return w
	case api == apiTransit:
		w = append(w, `{"prehashed":true,"hash_algorithm":"`...)
		w = append(w, apiHashNames[apiTransit][h]...)
		w = append(w, `",`...)
		if !batch {
			item := apiItem(nil, api, key, h, payloads[0])
			return append(w, item[1:]...) // {"input":"…"} spliced in
		}
		w = append(w, `"batch_input":[`...)
		for i, p := range payloads {
			if i > 0 {
				w = append(w, ',')
			}
			w = apiItem(w, api, key, h, p)
		}
		return append(w, "]}"...)
	case batch:
		w = append(w, '[')
		for i, p := range payloads {
			if i > 0 {
				w = append(w, ',')
			}
			w = apiItem(w, api, key, h, p)
		}
		return append(w, ']')
	}
	return apiItem(w, api, key, h, payloads[0])
}

// apiSignatures counts the signatures in an API answer, so that a 200 with
// failed items is not counted as signed.
func apiSignatures(api string, answer []byte) int {
	switch api {
	case apiDSM:
		return bytes.Count(answer, []byte(`"signature":"`))
	case apiNetHSM:
		return bytes.Count(answer, []byte(`"signature":"`))
	case apiTransit:
		return bytes.Count(answer, []byte(`"signature":"vault:`))
	}
	return -1 // the floor: raw signatures, not counted
}
