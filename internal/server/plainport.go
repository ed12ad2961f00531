package server

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// splitPlain divides the connections of l: those that open with a TLS
// handshake are accepted from the returned TLS listener, the others (plain
// HTTP) from the plain one. The demo's certificates name a CRL at an http://
// URL on the server's own port (CRLs are signed; fetchers do not speak TLS
// to get them), so the demo serves that CRL, and only it, in clear on the
// port it serves HTTPS on.
func splitPlain(l net.Listener) (tlsL, plainL net.Listener) {
	s := &splitter{Listener: l, tls: make(chan net.Conn), plain: make(chan net.Conn), done: make(chan struct{})}
	go s.run()
	return &side{s: s, ch: s.tls, owner: true}, &side{s: s, ch: s.plain}
}

type splitter struct {
	net.Listener
	tls, plain chan net.Conn
	done       chan struct{}
	once       sync.Once
	err        error
}

func (s *splitter) run() {
	for {
		c, err := s.Listener.Accept()
		if err != nil {
			s.err = err
			s.once.Do(func() { close(s.done) })
			return
		}
		go s.route(c)
	}
}

// route peeks at the first byte: 0x16 starts a TLS handshake record.
func (s *splitter) route(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	b, err := br.Peek(1)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	to := s.plain
	if b[0] == 0x16 {
		to = s.tls
	}
	select {
	case to <- &peeked{Conn: c, r: br}:
	case <-s.done:
		c.Close()
	}
}

// peeked is a connection whose first bytes were read into r.
type peeked struct {
	net.Conn
	r *bufio.Reader
}

func (p *peeked) Read(b []byte) (int, error) { return p.r.Read(b) }

// side is one of the two listeners; the owner (the TLS side, which the
// main server closes when it stops) closes the real one.
type side struct {
	s     *splitter
	ch    chan net.Conn
	owner bool
}

func (d *side) Accept() (net.Conn, error) {
	select {
	case c := <-d.ch:
		return c, nil
	case <-d.s.done:
		return nil, d.s.err
	}
}

func (d *side) Close() error {
	if !d.owner {
		return nil
	}
	d.s.once.Do(func() {
		d.s.err = net.ErrClosed
		close(d.s.done)
	})
	return d.s.Listener.Close()
}

func (d *side) Addr() net.Addr { return d.s.Listener.Addr() }

// servePlainCRL serves the demo CRL alone, over plain HTTP on l, until ctx
// ends; anything else is told to use HTTPS.
func servePlainCRL(ctx context.Context, l net.Listener, path string, crl http.Handler) {
	mux := http.NewServeMux()
	mux.Handle(path, crl)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "This port speaks HTTPS: use https:// (only the demo CRL is served in clear).", http.StatusBadRequest)
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(l)
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
}
