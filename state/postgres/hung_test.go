package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	pgurl "net/url"
	"sync"
	"testing"

	"github.com/signet-project/signet/state"
)

// hangProxy forwards TCP connections to a database until hang: from then
// on it forwards nothing on the connections open, in either direction, and
// closes none of them, as a database host that froze or a network that
// drops packets without a reset; resume closes the frozen connections and
// forwards again.
type hangProxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	hung  bool
	conns []net.Conn
}

func startHangProxy(t *testing.T, target string) *hangProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangProxy{l: l, target: target}
	t.Cleanup(func() {
		l.Close()
		p.closeAll()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *hangProxy) serve(c net.Conn) {
	if p.isHung() {
		// A new connection gets no further than the host's kernel: closed
		// here, so that none is left for the driver to wait out (its
		// cancel requests) once the database answers again.
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !p.isHung() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if !p.isHung() {
					dst.Close()
				}
				return
			}
		}
	}
	go pipe(up, c)
	go pipe(c, up)
}

func (p *hangProxy) isHung() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hung
}

func (p *hangProxy) hang() {
	p.mu.Lock()
	p.hung = true
	p.mu.Unlock()
}

func (p *hangProxy) resume() {
	p.closeAll()
	p.mu.Lock()
	p.hung = false
	p.mu.Unlock()
}

func (p *hangProxy) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// urlVia returns url with its host replaced by addr.
func urlVia(t *testing.T, url, addr string) string {
	t.Helper()
	u, err := pgurl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// TestHungDatabase: while the database does not answer (no reset: a
// frozen host, a partition), the store knows it from its monitor, and a
// signing log record or an audit record fails at once with
// state.ErrUnavailable, as a lease does, instead of each group waiting
// out its 10 s timeout: meanwhile every signature of a key without a
// limit (which does not wait for its record past a second) left a record
// queued behind them, so a hung database piled them up without bound.
// Once the database answers again they are written.
func TestHungDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct, err := server.NewDatabase(ctx, fmt.Sprintf("t%d", dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := pgurl.Parse(direct)
	proxy := startHangProxy(t, u.Host)
	s, logged := openLogged(t, urlVia(t, direct, proxy.l.Addr().String()))
	record := func() error {
		_, err := s.Record(t.Context(), state.SignRecord{Surface: "worker/W", Key: "t/k", DigestAlg: "SHA-256", Hashes: []string{"ab"}, Result: "ok"})
		return err
	}
	appendOne := func() error {
		_, err := s.Append(t.Context(), state.Entry{Actor: "system", Action: "test", Target: "server", Outcome: "ok"})
		return err
	}
	writes := []struct {
		name  string
		write func() error
	}{{"signing log record", record}, {"audit record", appendOne}}
	for _, w := range writes {
		if err := w.write(); err != nil {
			t.Fatalf("%s before the database hangs: %v", w.name, err)
		}
	}
	proxy.hang()
	waitHealth(t, s, logged, false)
	for _, w := range writes {
		err := w.write()
		if !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s while the database hangs: %v, want state.ErrUnavailable at once", w.name, err)
		}
	}
	proxy.resume()
	waitHealth(t, s, logged, true)
	for _, w := range writes {
		if err := w.write(); err != nil {
			t.Errorf("%s once the database answers again: %v", w.name, err)
		}
	}
}
