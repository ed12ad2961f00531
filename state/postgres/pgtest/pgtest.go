// Package pgtest starts a throw-away PostgreSQL server for tests: the
// Debian binaries (initdb, pg_ctl) of PostgreSQL 15, a cluster initialised
// in a temporary folder, listening on a free loopback port only. Tests that
// need PostgreSQL fail, never skip, when it cannot start: run
// scripts/install-deps.sh (make test does) to install it.
//
// PostgreSQL refuses to run as root. When the tests run as root (as CI
// does), the server runs as the system user "postgres", which the Debian
// package creates; Start creates it when it is missing.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir is where the Debian package installs the PostgreSQL 15 server
// binaries; PGBIN overrides it.
const BinDir = "/usr/lib/postgresql/15/bin"

// RunAs is the user the server runs as when the tests run as root.
const RunAs = "postgres"

// Server is a running PostgreSQL server in a temporary folder. Its
// superuser is "signet", trusted on loopback without a password.
type Server struct {
	dir, data, bin string
	port           int
	cred           *syscall.Credential // nil: run as the current user

	mu      sync.Mutex
	running bool
}

// Start initialises a cluster in a new temporary folder and starts it.
func Start(ctx context.Context) (*Server, error) {
	bin := BinDir
	if b := os.Getenv("PGBIN"); b != "" {
		bin = b
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		return nil, fmt.Errorf("PostgreSQL 15 is not installed (%v): run scripts/install-deps.sh, or set PGBIN to the folder of initdb and pg_ctl", err)
	}
	s := &Server{bin: bin}
	var err error
	if os.Geteuid() == 0 {
		if s.cred, err = runAsUser(); err != nil {
			return nil, err
		}
	}
	if s.dir, err = os.MkdirTemp("", "signet-pgtest-"); err != nil {
		return nil, err
	}
	s.data = filepath.Join(s.dir, "data")
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			s.remove()
			return nil, err
		}
	}
	if err := s.run(ctx, "initdb", "-D", s.data, "-U", "signet", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		s.remove()
		return nil, err
	}
	if s.port, err = freePort(); err != nil {
		s.remove()
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

// runAsUser returns the credentials of RunAs, creating the system user
// when it does not exist.
func runAsUser() (*syscall.Credential, error) {
	u, err := user.Lookup(RunAs)
	if err != nil {
		out, aerr := exec.Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", RunAs).CombinedOutput()
		if aerr != nil {
			return nil, fmt.Errorf("PostgreSQL does not run as root and user %s cannot be created: %v: %s", RunAs, aerr, bytes.TrimSpace(out))
		}
		if u, err = user.Lookup(RunAs); err != nil {
			return nil, err
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run runs one of the server binaries as the server's user.
func (s *Server) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// Start starts the server (again, after Stop) on its port and waits until
// it accepts connections.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB", s.port)
	if err := s.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", s.data, "-l", filepath.Join(s.dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("start PostgreSQL: %w\n%s", err, log)
	}
	s.running = true
	return nil
}

// Stop stops the server, closing every connection (mode fast). The data
// stay; Start brings the server back.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	if err := s.run(ctx, "pg_ctl", "stop", "-w", "-m", "fast", "-D", s.data); err != nil {
		return err
	}
	s.running = false
	return nil
}

// Close stops the server and removes its folder.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.Stop(ctx)
	s.remove()
	return err
}

func (s *Server) remove() { os.RemoveAll(s.dir) }

// URL returns the connection URL of database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://signet@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates an empty database named name and returns its URL,
// so that tests sharing one server share nothing else.
func (s *Server) NewDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.URL(name), nil
}
