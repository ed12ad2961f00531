package workers

// fastBatchRequest decodes the common shape of a batch request in one pass
// over body: {"signatureRequests":[{"data":"…","hashingAlgorithm":"…",
// "customIdentifier":"…"},…]} with plain ASCII strings (no escapes) and any
// JSON white space. For anything else, including every malformed request,
// it reports false and the caller decodes with encoding/json, whose errors
// the client sees, so that both paths accept and reject exactly the same
// requests. encoding/json scans a request twice and was the largest serial
// cost of a batch of a thousand digests.
func fastBatchRequest(body []byte) (BatchRequest, bool) {
	var br BatchRequest
	p := jsonScan{b: body}
	if !p.byte('{') {
		return br, false
	}
	key, ok := p.str()
	if !ok || key != "signatureRequests" || !p.byte(':') || !p.byte('[') {
		return br, false
	}
	if !p.peek(']') {
		for {
			var it BatchItem
			if !p.byte('{') {
				return br, false
			}
			if !p.peek('}') {
				for {
					k, ok := p.str()
					if !ok || !p.byte(':') {
						return br, false
					}
					v, ok := p.str()
					if !ok {
						return br, false
					}
					switch k {
					case "data":
						it.Data = v
					case "hashingAlgorithm":
						it.HashingAlgorithm = v
					case "customIdentifier":
						it.CustomIdentifier = v
					default:
						return br, false // unknown or differently cased: encoding/json decides
					}
					if p.peek('}') {
						break
					}
					if !p.byte(',') {
						return br, false
					}
				}
			}
			br.SignatureRequests = append(br.SignatureRequests, it)
			if p.peek(']') {
				break
			}
			if !p.byte(',') {
				return br, false
			}
		}
	}
	if !p.byte('}') {
		return br, false
	}
	p.space()
	return br, p.i == len(p.b)
}

// jsonScan reads the JSON subset fastBatchRequest accepts.
type jsonScan struct {
	b []byte
	i int
}

func (p *jsonScan) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c after white space.
func (p *jsonScan) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek consumes c after white space if it is next.
func (p *jsonScan) peek(c byte) bool { return p.byte(c) }

// str reads a string of printable ASCII without escapes.
func (p *jsonScan) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", false
		}
		p.i++
	}
	return "", false
}
