package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// TLS is the server's TLS listener: its certificate and key (PEM files),
// and the bundle of CAs whose client certificates it accepts.
type TLS struct {
	Cert, Key string // absolute paths
	ClientCAs string // absolute path; "" for none
	Pos       Pos    // of the tls section
	// Where each file is named, for the problems of the file itself.
	CertPos, KeyPos, ClientCAsPos Pos
}

// WorkerUser is a user a USERNAME_PASSWORD worker accepts: one of its own
// (name and bcrypt hash written on the worker), or a user of the users
// section named by the worker (Shared; its hash is there).
type WorkerUser struct {
	Name         string
	PasswordHash string // empty for a Shared user
	Shared       bool
	Pos          Pos
}

// KeyPolicy is the policy properties of one key of a token (its keys
// section): KEYUSAGELIMIT, DISABLEKEYUSAGECOUNTER and the certificate
// checks, declared in the worker schema with Key set.
type KeyPolicy struct {
	Alias      string
	Properties Properties
	Pos        Pos
}

// Access is how a worker authorizes its clients: its AUTHTYPE and what
// that needs. The web layer enforces it before the worker sees a request.
type Access struct {
	Type    string // AuthNoAuth, AuthClientCert or AuthUsernamePassword
	Clients []AuthorizedClient
	Users   []WorkerUser
}

// keyKind is the propBuilder kind of a key's properties.
const keyKind = "key"

// keySchema is the part of the worker schema a key may set.
func keySchema() []Property {
	var out []Property
	for _, p := range workerSchema() {
		if p.Key {
			out = append(out, p)
		}
	}
	return out
}

// serverTLS reads server.tls: {cert, key, clientCAs}.
func (l *loader) serverTLS(file, dir string, e entry) {
	t := &TLS{Pos: e.pos}
	if e.val.Kind != yaml.MappingNode {
		l.structural.add(e.pos, "Set server tls to a mapping with cert, key and, for client certificates, clientCAs (PEM files).")
		return
	}
	for _, f := range entries(file, e.val, &l.structural) {
		v, ok := scalar(f.val)
		if !ok || v == "" {
			l.structural.add(f.pos, "Set server tls %s to a file path.", f.key)
			continue
		}
		switch f.key {
		case "cert":
			t.Cert, t.CertPos = resolvePath(dir, v), f.pos
		case "key":
			t.Key, t.KeyPos = resolvePath(dir, v), f.pos
		case "clientCAs":
			t.ClientCAs, t.ClientCAsPos = resolvePath(dir, v), f.pos
		default:
			l.structural.add(f.pos, "Unknown server tls setting %q: %s", f.key, hint(f.key, []string{"cert", "key", "clientCAs"}))
		}
	}
	if t.Cert == "" || t.Key == "" {
		l.structural.add(e.pos, "Set both server tls cert and key (PEM files), or remove tls to serve plain HTTP.")
		return
	}
	l.cfg.Server.TLS = t
}

// trustedProxies reads server.trustedProxies: addresses or CIDR ranges.
func (l *loader) trustedProxies(e entry) {
	items, ok := stringList(e.val)
	if !ok {
		l.structural.add(e.pos, "Set server trustedProxies to a list of addresses or ranges, such as [10.0.0.5, 192.168.0.0/24].")
		return
	}
	for _, it := range items {
		n, msg := proxyRange(it)
		if msg != "" {
			l.structural.add(e.pos, "server trustedProxies: %s", msg)
			continue
		}
		l.cfg.Server.TrustedProxies = append(l.cfg.Server.TrustedProxies, n)
	}
}

// proxyRange reads one entry of server trustedProxies, an address or a
// range, or says why it is none. An IPv4-mapped IPv6 address or range
// (::ffff:10.0.0.5, as ss shows an IPv4 peer of a dual-stack socket) is the
// IPv4 one: read as IPv6, the bare address became ::/32 (its /32 taken as
// an IPv6 prefix), trusting ::1 and not the proxy.
func proxyRange(it string) (*net.IPNet, string) {
	var p netip.Prefix
	if strings.Contains(it, "/") {
		var err error
		if p, err = netip.ParsePrefix(it); err != nil {
			return nil, fmt.Sprintf("%q is not an address or a range such as 10.0.0.0/8.", it)
		}
	} else {
		a, err := netip.ParseAddr(it)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Sprintf("%q is not an address or a range such as 10.0.0.0/8.", it)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		const mapped = 96 // the ::ffff:0:0/96 before the IPv4 address
		if p.Bits() < mapped {
			return nil, fmt.Sprintf("%q is an IPv4-mapped range shorter than /96, which holds no IPv4 range: write the IPv4 range, such as %s/%d.", it, a.Unmap(), p.Bits())
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-mapped)
	}
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}, ""
}

// tokenKeys reads a token's keys section: alias → policy properties.
func tokenKeys(file, dir string, pos Pos, n *yaml.Node, ps *Problems) []KeyPolicy {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		ps.add(pos, "Set keys to a mapping of key alias to its properties, such as signer-p256: {KEYUSAGELIMIT: 100000}.")
		return nil
	}
	var out []KeyPolicy
	for _, e := range entries(file, n, ps) {
		b := newPropBuilder(keyKind, dir)
		readProperties(b, file, e.pos, e.val)
		props, kps := b.finish(e.pos)
		*ps = append(*ps, kps...)
		if _, bad := limited(PropKeyUsageLimit)(props); bad && props.Bool(PropDisableKeyUsageCounter) {
			ps.add(props.Pos(PropKeyUsageLimit), "KEYUSAGELIMIT cannot be combined with DISABLEKEYUSAGECOUNTER=true, since uncounted signatures cannot be limited: remove one of them.")
		}
		out = append(out, KeyPolicy{Alias: e.key, Properties: props, Pos: e.pos})
	}
	return out
}

// authorizedClients reads an authorizedClients list (of a worker or a
// user).
func authorizedClients(file string, pos Pos, n *yaml.Node, ps *Problems) []AuthorizedClient {
	if n.Kind != yaml.SequenceNode {
		ps.add(pos, "Set %s to a list of rules with %s, %s and %s.", FieldAuthorizedClients, fieldSubjectType, fieldSubjectValue, fieldIssuerValue)
		return nil
	}
	var out []AuthorizedClient
	for _, item := range n.Content {
		item = deref(item)
		r := AuthorizedClient{Pos: Pos{file, item.Line}}
		if item.Kind != yaml.MappingNode {
			ps.add(r.Pos, "Each authorized client is a mapping with %s, %s and %s.", fieldSubjectType, fieldSubjectValue, fieldIssuerValue)
			continue
		}
		for _, e := range entries(file, item, ps) {
			v, _ := scalar(e.val)
			switch e.key {
			case fieldSubjectType:
				r.SubjectType = v
			case fieldSubjectValue:
				r.SubjectValue = v
			case fieldIssuerType:
				r.IssuerType = v
			case fieldIssuerValue:
				r.IssuerValue = v
			case fieldDescription:
				r.Description = v
			default:
				ps.add(e.pos, "Unknown authorized client field %q: %s", e.key, hint(e.key, AuthorizedClientFields()))
			}
		}
		if msg := r.check(); msg != "" {
			ps.add(r.Pos, "%s", msg)
			continue
		}
		out = append(out, r)
	}
	return out
}

// workerUsers reads a worker's users list: names of users of the users
// section, or {name, passwordHash} of the worker's own.
func workerUsers(file string, pos Pos, n *yaml.Node, ps *Problems) []WorkerUser {
	if n.Kind != yaml.SequenceNode {
		ps.add(pos, "Set users to a list of user names of the users section, or of {name, passwordHash}.")
		return nil
	}
	var out []WorkerUser
	for _, item := range n.Content {
		item = deref(item)
		u := WorkerUser{Pos: Pos{file, item.Line}}
		switch item.Kind {
		case yaml.ScalarNode:
			u.Name, u.Shared = item.Value, true
		case yaml.MappingNode:
			for _, e := range entries(file, item, ps) {
				v, _ := scalar(e.val)
				switch e.key {
				case "name":
					u.Name = v
				case "passwordHash":
					u.PasswordHash = v
				default:
					ps.add(e.pos, "Unknown worker user field %q: %s", e.key, hint(e.key, []string{"name", "passwordHash"}))
				}
			}
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				ps.add(u.Pos, "The passwordHash of worker user %q is not a bcrypt hash: write the hash (signet admin hash-password), never the password.", u.Name)
				continue
			}
		default:
			ps.add(u.Pos, "Each worker user is a user name or {name, passwordHash}.")
			continue
		}
		if u.Name == "" || strings.ContainsRune(u.Name, ':') {
			ps.add(u.Pos, "A worker user needs a name without a colon.")
			continue
		}
		out = append(out, u)
	}
	return out
}

// accessRules are the worker rules of authentication: what AUTHTYPE needs
// from the rest of the configuration.
func accessRules() []workerRule {
	return []workerRule{
		func(w *Worker, c *Config) (Pos, string) {
			if w.Properties.String(PropAuthType) != AuthClientCert {
				return Pos{}, ""
			}
			switch {
			case c.Server.TLS == nil || c.Server.TLS.ClientCAs == "":
				return authPos(w), "AUTHTYPE CLIENTCERT needs TLS with client certificates: set server tls cert, key and clientCAs, or set AUTHTYPE NOAUTH or USERNAME_PASSWORD."
			case len(w.AuthorizedClients) == 0:
				return authPos(w), fmt.Sprintf("AUTHTYPE CLIENTCERT authorizes the clients listed in %s, and the list is empty: add a rule (%s, %s, %s).",
					FieldAuthorizedClients, fieldSubjectType, fieldSubjectValue, fieldIssuerValue)
			}
			return Pos{}, ""
		},
		func(w *Worker, c *Config) (Pos, string) {
			if w.Properties.String(PropAuthType) != AuthUsernamePassword {
				return Pos{}, ""
			}
			if len(w.Users) == 0 {
				return authPos(w), "AUTHTYPE USERNAME_PASSWORD needs users: list user names of the users section, or {name, passwordHash}, under users."
			}
			for _, u := range w.Users {
				if _, ok := c.User(u.Name); u.Shared && !ok {
					return u.Pos, fmt.Sprintf("Worker user %q is not in the users section: add it there, or give it a passwordHash here.", u.Name)
				}
			}
			return Pos{}, ""
		},
	}
}

func authPos(w *Worker) Pos {
	if p := w.Properties.Pos(PropAuthType); p != (Pos{}) {
		return p
	}
	return w.Pos
}

// KeyPolicy returns the policy properties of the key alias of the token,
// and whether the token's keys section sets any.
func (t Token) KeyPolicy(alias string) (Properties, bool) {
	i := slices.IndexFunc(t.Keys, func(k KeyPolicy) bool { return k.Alias == alias })
	if i < 0 {
		p, _ := NewProperties(keyKind, nil)
		return p, false
	}
	return t.Keys[i].Properties, true
}
