package cms

import "errors"

// RFC 5652 lets a SignedData be BER: NSS (poppler's pdfsig, LibreOffice,
// Okular), Bouncy Castle's streaming generators and openssl cms -stream
// write indefinite lengths and chunked eContent. Only the signed
// attributes must be DER, and DER they stay: re-encoding a BER element as
// DER changes no content byte, only lengths and the chunking of constructed
// OCTET STRINGs.

// maxBERDepth bounds the nesting of a BER input (a SignedData with its
// certificates nests about 20 deep), so that a hostile one cannot exhaust
// the stack.
const maxBERDepth = 64

var errBER = errors.New("not BER")

// berToDER re-encodes a BER element as DER. What follows the element may
// only be zero bytes (the padding of a PDF signature's /Contents).
func berToDER(in []byte) ([]byte, error) {
	out, rest, err := berElement(in, 0)
	if err != nil {
		return nil, err
	}
	for _, c := range rest {
		if c != 0 {
			return nil, errBER
		}
	}
	return out, nil
}

// berElement re-encodes the BER element at the start of in as DER and
// returns it with the bytes after it.
func berElement(in []byte, depth int) (out, rest []byte, err error) {
	if depth > maxBERDepth || len(in) < 2 {
		return nil, nil, errBER
	}
	i := 1
	if in[0]&0x1f == 0x1f { // high tag number form
		for {
			if i >= len(in) || i > 4 {
				return nil, nil, errBER
			}
			i++
			if in[i-1]&0x80 == 0 {
				break
			}
		}
	}
	tag := in[:i]
	constructed := in[0]&0x20 != 0
	if i >= len(in) {
		return nil, nil, errBER
	}
	l := in[i]
	i++
	var body []byte
	switch {
	case l == 0x80: // indefinite: constructed, up to the end-of-contents octets
		if !constructed {
			return nil, nil, errBER
		}
		rest = in[i:]
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			var child []byte
			if child, rest, err = berElement(rest, depth+1); err != nil {
				return nil, nil, err
			}
			body = append(body, child...)
		}
	default:
		n := int(l)
		if l&0x80 != 0 {
			k := int(l & 0x7f)
			if k > 4 || i+k > len(in) {
				return nil, nil, errBER
			}
			n = 0
			for _, c := range in[i : i+k] {
				n = n<<8 | int(c)
			}
			i += k
		}
		if n < 0 || n > len(in)-i {
			return nil, nil, errBER
		}
		content := in[i : i+n]
		rest = in[i+n:]
		if !constructed {
			body = content
			break
		}
		for len(content) > 0 {
			var child []byte
			if child, content, err = berElement(content, depth+1); err != nil {
				return nil, nil, err
			}
			body = append(body, child...)
		}
	}
	if in[0] == 0x24 { // a constructed OCTET STRING: DER has the primitive one
		var joined []byte
		for len(body) > 0 {
			var part []byte
			if body[0] != tagOctetString {
				return nil, nil, errBER
			}
			if part, body, err = derContent(body); err != nil {
				return nil, nil, err
			}
			joined = append(joined, part...)
		}
		return append(appendHeader(nil, tagOctetString, int64(len(joined))), joined...), rest, nil
	}
	out = appendHeader(append([]byte(nil), tag[:len(tag)-1]...), tag[len(tag)-1], int64(len(body)))
	return append(out, body...), rest, nil
}

// derContent splits the DER element at the start of b (as berElement
// writes it) into its content and what follows.
func derContent(b []byte) (content, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, errBER
	}
	n, i := int(b[1]), 2
	if b[1]&0x80 != 0 {
		k := int(b[1] & 0x7f)
		if k > 4 || 2+k > len(b) {
			return nil, nil, errBER
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		i = 2 + k
	}
	if n > len(b)-i {
		return nil, nil, errBER
	}
	return b[i : i+n], b[i+n:], nil
}
