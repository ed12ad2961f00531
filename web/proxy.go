package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// proxies are the reverse proxies of server trustedProxies, and the one
// rule of what a request's headers may say about its client: a request
// whose direct peer is one of them is taken at its word for the client's
// address (X-Forwarded-For) and whether the client's request was https
// (X-Forwarded-Proto, Forwarded proto=); any other peer is the client
// itself, whatever headers it sends, since any client can write them.
// No range is trusted by default, loopback and private ones included.
//
// Both are asked on every request (the logs, audit and throttle read the
// address; the admin API's origin check and the UI's cookie the scheme),
// so they parse with net/netip and allocate nothing for IPv4.
type proxies []netip.Prefix

// newProxies converts the configured ranges.
func newProxies(nets []*net.IPNet) proxies {
	var p proxies
	for _, n := range nets {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ones, bits := n.Mask.Size()
		if a.Is4In6() {
			a = a.Unmap()
			if bits == 8*net.IPv6len {
				ones -= 8 * (net.IPv6len - net.IPv4len)
			}
		}
		if pr, err := a.Prefix(ones); err == nil {
			p = append(p, pr)
		}
	}
	return p
}

// trusts reports whether a is a trusted proxy.
func (p proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// peer returns the host of the request's direct peer (RemoteAddr without
// its port) and whether it is a trusted proxy.
func (p proxies) peer(r *http.Request) (host string, trusted bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		if _, perr := netip.ParseAddr(r.RemoteAddr); perr != nil {
			return "", false
		}
		host = r.RemoteAddr
	}
	if len(p) == 0 {
		return host, false
	}
	a, err := netip.ParseAddr(host)
	return host, err == nil && a.Zone() == "" && p.trusts(a)
}

// clientIP is echo's IPExtractor (RealIP): the peer's address, or, from a
// trusted proxy, the nearest address of X-Forwarded-For that is not a
// trusted proxy (the farthest when all are). A hop that is no address
// makes the whole header untrustworthy: the peer's address, then.
func (p proxies) clientIP(r *http.Request) string {
	host, trusted := p.peer(r)
	if !trusted {
		return host
	}
	xffs := r.Header[echo.HeaderXForwardedFor]
	if len(xffs) == 0 {
		return host
	}
	var hop string
	for i := len(xffs) - 1; i >= 0; i-- {
		v := xffs[i]
		for more := true; more; {
			j := strings.LastIndexByte(v, ',')
			hop, v, more = v[j+1:], v[:max(j, 0)], j >= 0
			hop = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(hop), "["), "]")
			a, err := netip.ParseAddr(hop)
			if err != nil || a.Zone() != "" {
				return host
			}
			if !p.trusts(a) {
				if a.Is4() {
					return hop // netip parses IPv4 in its canonical form only
				}
				return a.Unmap().String()
			}
		}
	}
	return hop
}

// scheme is echo's SchemeExtractor (Scheme): "https" when the client's
// request was, over TLS to this server or, said by a trusted proxy, to
// the proxy; else "http". Of the proxy's headers the nearest value
// counts, X-Forwarded-Proto's when it sends one, else the proto= of the
// last element of Forwarded (RFC 7239).
func (p proxies) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if _, trusted := p.peer(r); !trusted {
		return "http"
	}
	var proto string
	if vs := r.Header.Values(echo.HeaderXForwardedProto); len(vs) > 0 {
		proto = lastElement(vs)
	} else if vs := r.Header.Values("Forwarded"); len(vs) > 0 {
		for pair := range strings.SplitSeq(lastElement(vs), ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(pair), "="); ok && strings.EqualFold(k, "proto") {
				proto = strings.Trim(v, `"`)
			}
		}
	}
	if strings.EqualFold(strings.TrimSpace(proto), "https") {
		return "https"
	}
	return "http"
}

// lastElement is the last element of a comma-separated header, the one
// the nearest proxy added.
func lastElement(vs []string) string {
	v := vs[len(vs)-1]
	return v[strings.LastIndexByte(v, ',')+1:]
}
