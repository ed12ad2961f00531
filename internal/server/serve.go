package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/web/tlsconf"
)

// DefaultListen is the address served when neither --listen nor
// server.listen says otherwise, as config declares it (config check
// refuses a healthListen on its port).
const DefaultListen = config.DefaultListen

// LogHandler returns the handler of the server log on w, slog's text
// handler or, when json is set, its JSON handler, through which the web
// layer writes the request log line of each request cheaply
// (web.LogHandler).
func LogHandler(w io.Writer, json bool) slog.Handler { return web.NewLogHandler(w, json) }

// Options say what Run serves.
type Options struct {
	// Configs are the YAML configuration files, loaded again on reload.
	// None: the embedded demo configuration, with its PKI made in DataDir.
	Configs []string
	// Listen is the address to listen on; empty: server.listen from the
	// configuration, else DefaultListen.
	Listen string
	// DataDir holds the run-time state (and the demo PKI).
	DataDir string
	// MaxUpload is the upload limit in bytes; 0: server.maxUploadSize.
	MaxUpload int64
	// Logger receives the server's log.
	Logger *slog.Logger
	// Stdout receives what a person starting the server reads: the address,
	// the demo password (once) and a first command to try.
	Stdout io.Writer
	// Reload asks for a reload of the configuration files and the TLS
	// certificate, one per value received. The signet command sends on it
	// on SIGHUP; tests and a program that embeds the server send on it
	// directly, so that nothing signals the whole process. nil: only the
	// admin API reloads.
	Reload <-chan struct{}
	// Now is the clock by which the PKCS#11, NetHSM and DSM tokens retry
	// and probe (time.Now when nil): a test moves it on to make a retry
	// due instead of waiting for the interval to pass.
	Now func() time.Time
	// PurgeTick, when set, purges the archive on every receive, as of the
	// time received (an injected clock); nil: every ArchivePurgeEvery on
	// the wall clock.
	PurgeTick <-chan time.Time
}

// Run serves until ctx ends. A configuration that does not load is
// returned as its config.Problems, before anything listens.
func Run(ctx context.Context, o Options) error {
	log, stdout, paths := o.Logger, o.Stdout, o.Configs
	demoMode := len(paths) == 0
	var files demo.Files
	var created bool          // the demo PKI, by this start
	var dataLock func() error // the data folder's lock, when taken here
	defer func() {
		if dataLock != nil { // not handed to the app: Run failed before
			dataLock()
		}
	}()
	var l net.Listener // bound before the demo PKI is made, on a first start
	served := false
	defer func() {
		if l != nil && !served { // not handed to the server: Run failed before
			l.Close()
		}
	}()
	if demoMode {
		// The data folder is this server's before anything is written in
		// it: a second server on it is refused before it touches the demo
		// files or prints the demo password.
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return fmt.Errorf("prepare the demo configuration in %s: %w", o.DataDir, err)
		}
		unlock, err := state.Lock(o.DataDir)
		if err != nil {
			return err
		}
		dataLock = unlock
		// The demo certificates name this server's CRL (PDFSignerLT embeds
		// it): on the address it is told to listen on, or the default one.
		// On a first start that address is bound before they are made: a
		// busy port then leaves no demo PKI behind that names it, which the
		// next start, on the other address the refusal suggests, would keep
		// (its B-LT signatures and online validation failing on a CRL that
		// nothing serves).
		crlURL := demo.DefaultCRLURL
		if _, err := os.Stat(demo.FilesIn(o.DataDir).Config); errors.Is(err, fs.ErrNotExist) {
			addr := o.Listen
			if addr == "" {
				addr = DefaultListen // the demo configuration names none
			}
			if l, err = listen(addr); err != nil {
				return err
			}
			crlURL = "http://" + l.Addr().String() + demo.CRLPath
		}
		if _, port, err := net.SplitHostPort(o.Listen); err == nil && port != "0" {
			crlURL = "http://" + o.Listen + demo.CRLPath
		}
		files, created, err = demo.BootstrapCRL(ctx, o.DataDir, crlURL)
		if err != nil {
			return fmt.Errorf("prepare the demo configuration in %s: %w", o.DataDir, err)
		}
		if created {
			fmt.Fprintf(stdout, "Created the demo PKI and configuration in %s (root CA: %s).\n", o.DataDir, files.CA)
		}
		if files.Password != "" {
			fmt.Fprintf(stdout, "The demo password of the users admin, operator and demo is in %s (readable by you only; set %s to choose another).\n", files.PasswordFile, demo.PasswordEnv)
		} else {
			fmt.Fprintf(stdout, "This data folder keeps only the hash of its demo password (it was made by an older Signet): set %s to choose a new one.\n", demo.PasswordEnv)
		}
		paths = []string{files.Config}
	}

	cfg, err := config.Load(paths...)
	if err != nil {
		return err
	}
	// The files Run reads at start (the TLS files, the audit and seal
	// keys), checked as config check checks them: refused here, before
	// anything is opened, at the line that names each.
	if ps := append(tlsProblems(cfg.Server.TLS), stateFileProblems(cfg)...); len(ps) > 0 {
		return ps
	}
	a := newApp(ctx, log, paths, o.DataDir)
	if dataLock != nil {
		a.onClose(dataLock)
		a.locked, dataLock = true, nil
	}
	a.opener = tokenOpener(a.keystore, o.Now)
	if o.Now != nil {
		a.now = o.Now
	}
	a.demo, a.files = demoMode, files
	defer func() {
		if err := a.close(); err != nil {
			log.Error("shutdown", "error", err)
		}
	}()
	if err := a.openState(cfg); err != nil {
		return fmt.Errorf("open the run-time state: %w", err)
	}
	if a.node != nil {
		// The cluster's version in force, with the node's files.
		if err := a.node.Apply(ctx, true, a.applyVersion); err != nil {
			return err
		}
		cfg = a.config()
		go a.node.Watch(ctx, a.applyVersion, a.keyChanged, a.keysMissed)
	} else {
		a.build(cfg)
	}

	if l == nil {
		addr := o.Listen
		if addr == "" {
			addr = cfg.Server.Listen
		}
		if addr == "" {
			addr = DefaultListen
		}
		if l, err = listen(addr); err != nil {
			return err
		}
	}
	limit := cfg.Server.MaxUploadSize
	if o.MaxUpload > 0 {
		limit = o.MaxUpload
	}
	tlsFile := cfg.Server.TLS
	if tlsFile == nil && demoMode {
		// A demo data folder made before its configuration named the
		// certificate: the demo always serves HTTPS.
		tlsFile = &config.TLS{Cert: files.TLSCert, Key: files.TLSKey}
	}
	var tc *tlsconf.Server
	if tlsFile != nil {
		if tc, err = tlsconf.New(tlsFiles(tlsFile)); err != nil {
			return err
		}
	} else {
		log.Warn("serving plain HTTP: credentials and documents travel in clear text; set server tls cert and key")
	}
	a.tls = tc
	setMemoryLimit(cfg.Server.MemoryLimit, log)
	SetGCPercent(log)
	wo := web.Options{Registry: a.reg, MaxUploadSize: limit, Logger: log, Limits: serverLimits(cfg.Server),
		Authorizer: a.workerAuthorizer(), OnRefusal: a.auditRefusal}
	switch {
	case a.node != nil:
		wo.Node, wo.Collectors = a.node.Status, a.node.Metrics()
	case a.local != nil:
		wo.Node = a.localStatus
	}
	// Under buildMu, from the configuration in force then: a cluster
	// node's watch may apply a new version meanwhile, whose build sets
	// the proxies of a.srv once it exists.
	a.buildMu.Lock()
	wo.TrustedProxies = a.config().Server.TrustedProxies
	a.srv = web.New(wo)
	a.started, a.startedState = a.config().Server, a.config().State
	a.buildMu.Unlock()
	if err := a.mountAdmin(); err != nil {
		return err
	}
	if err := a.mountVendorAPIs(); err != nil {
		return err
	}
	var crl http.Handler
	if demoMode { // the CRL the demo certificates name (PDFSignerLT embeds it)
		if crl, err = demo.CRLHandler(files); err != nil {
			return err
		}
		// HEAD as GET, as every read of the server (echo does not route
		// HEAD to a GET route; net/http drops the body).
		a.srv.Echo().Match([]string{http.MethodGet, http.MethodHead}, demo.CRLPath, echo.WrapHandler(crl))
	}
	defer a.reloadOn(ctx, o.Reload)()
	tick := o.PurgeTick
	if tick == nil {
		t := time.NewTicker(ArchivePurgeEvery)
		defer t.Stop()
		tick = t.C
	}
	go a.purgeArchive(ctx, tick)

	if cfg.Server.HealthListen != "" {
		if err := a.serveHealth(ctx, cfg.Server.HealthListen, l.Addr(), stdout); err != nil {
			return err
		}
	}
	base := "http://" + l.Addr().String()
	var tlsConfig *tls.Config
	if tc != nil {
		base, tlsConfig = "https://"+l.Addr().String(), tc.Config()
		if crl != nil {
			// The demo certificates' CRL is at an http:// URL on this port.
			var plain net.Listener
			l, plain = splitPlain(l)
			servePlainCRL(ctx, plain, demo.CRLPath, crl)
		}
	}
	if demoMode && !created {
		// Made by an earlier start, the demo certificates name the CRL at
		// that start's address: served nowhere when this one listens on
		// another, and PDFSignerLT then answers 503 naming a URL.
		named, err := demo.NamedCRL(ctx, files)
		if err != nil {
			log.Warn("reading the CRL address the demo certificates name", "error", err)
		} else if named != "" && named != "http://"+l.Addr().String()+demo.CRLPath && named != "http://"+o.Listen+demo.CRLPath {
			fmt.Fprintf(stdout, "The demo certificates name their CRL at %s, made for the address of an earlier start: PDFSignerLT answers 503 and online validation cannot check them until Signet listens there again; for demo certificates of this address, stop Signet, run make clean (or delete %s with the audit key files beside it) and start again.\n", named, o.DataDir)
		}
	}
	fmt.Fprintf(stdout, "Signet listening on %s\n", base)
	// The README's examples use $SIGNET: a reader pastes this line.
	export := "export SIGNET=" + base
	if demoMode && tc != nil {
		export += " SIGNET_CACERT=" + files.CA
	}
	fmt.Fprintf(stdout, "For the README's examples and signet's clients, in another terminal in this folder:\n  %s\n", export)
	if demoMode {
		fmt.Fprintln(stdout, "The demo workers use AUTHTYPE NOAUTH: whoever reaches this port can sign. Other workers get CLIENTCERT unless they set AUTHTYPE.")
		fmt.Fprintf(stdout, "Sign a file (detached CAdES, verify with openssl cms -verify -cades -binary -inform DER -CAfile %s -content FILE -in FILE.p7s):\n", files.CA)
		fmt.Fprintf(stdout, "  curl -fsS --cacert %s --data-binary @FILE '%s/signserver/worker/CAdESSigner?REQUEST_METADATA.USING_BATCHSIGNING=false' -o FILE.p7s\n", files.CA, base)
	}
	served = true
	return a.srv.ServeTLS(ctx, l, tlsConfig)
}

// listen binds addr; a busy port is refused with the sentence that says how
// to choose another address.
func listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s is in use by another program: start Signet on another address with make run LISTEN=%s (or signet serve --listen %[2]s, or server.listen in the configuration): %w", addr, nextPort(addr), err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

// reloadTLS reads the TLS certificate and client CA bundle again; when they
// do not load, the ones in force stay and the error says why. Either way it
// is written to the audit log (tls.reload) and the server log.
func (a *app) reloadTLS() error {
	if a.tls == nil {
		return nil
	}
	if err := a.tls.ReloadFiles(a.nextTLSFiles()); err != nil {
		a.record(a.ctx, "tls.reload", err.Error(), nil)
		a.log.Error("TLS certificate reload refused; the one in force stays", "error", err)
		return fmt.Errorf("the TLS certificate: %w", err)
	}
	leaf := a.tls.Leaf()
	a.record(a.ctx, "tls.reload", "ok", map[string]string{"subject": leaf.Subject.String(), "notAfter": leaf.NotAfter.UTC().Format(time.RFC3339)})
	a.log.Info("TLS certificate reloaded", "subject", leaf.Subject.String(), "notAfter", leaf.NotAfter)
	return nil
}

// nextTLSFiles are the TLS files the reload loads: those the configuration
// files name now, so that a changed clientCAs (a bundle without a
// compromised CA) is in force after the reload, not only after a restart.
// A cluster node's server section is in its own files, loaded with the
// version in force as the reload does. The files in force when the
// configuration does not load (the reload then refuses it) or names no
// TLS (plain HTTP needs a restart).
func (a *app) nextTLSFiles() tlsconf.Files {
	var cfg *config.Config
	var err error
	if a.node != nil {
		cfg, _, err = a.node.Load(a.ctx)
	} else {
		cfg, err = config.Load(a.paths...)
	}
	if err == nil && cfg.Server.TLS != nil {
		return tlsFiles(cfg.Server.TLS)
	}
	return a.tls.Files()
}

// reloadAll is what SIGHUP and the admin API's reload do: the TLS
// certificate first, then the configuration. A certificate that does not
// load stops the reload there, so that the admin API's answer ("not
// reloaded, the running one stays") holds for both. It returns what reload
// returns: the settings in force that wait for a restart.
func (a *app) reloadAll() (restartNeeded []string, err error) {
	if err := a.reloadTLS(); err != nil {
		return nil, err
	}
	return a.reload()
}

// reloadOn reloads the configuration and the TLS certificate on every
// value received from reload until ctx ends or the returned function is
// called; that function returns once no reload runs any more, so that none
// runs while the server shuts down.
func (a *app) reloadOn(ctx context.Context, reload <-chan struct{}) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
			}
			_, _ = a.reloadAll() // logged and audited; what is in force stays
		}
	}()
	return func() { cancel(); <-done }
}

// serverLimits are the web server's limits from the server section; what it
// leaves unset takes web.DefaultLimits.
func serverLimits(s config.Server) web.Limits {
	return web.Limits{
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		BodyTimeout:       s.BodyTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxConnections:    s.MaxConnections,
		MaxInFlight:       s.MaxInFlight,
		MaxWorkerQueue:    s.MaxWorkerQueue,
		MaxRequestMemory:  s.MaxRequestMemory,
	}
}

// DefaultMemoryLimit is the Go runtime's soft memory limit when neither
// server.memoryLimit nor GOMEMLIMIT sets one: the garbage collector works
// harder as the heap nears it, so that bursts of large requests (each
// within maxRequestMemory) stay under the README's bound of 256 MiB RSS
// instead of waiting for the heap to double.
const DefaultMemoryLimit = 192 << 20

// setMemoryLimit applies server.memoryLimit, or DefaultMemoryLimit; a
// GOMEMLIMIT in the environment wins over the default, not over the
// configuration.
func setMemoryLimit(configured int64, log *slog.Logger) {
	switch {
	case configured > 0:
		debug.SetMemoryLimit(configured)
	case os.Getenv("GOMEMLIMIT") == "":
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
	log.Debug("memory limit", "bytes", debug.SetMemoryLimit(-1))
}

// DefaultGCPercent is the garbage collector's GOGC when the environment
// sets none. A signing server's live heap is small (a few MiB), so that at
// Go's default of 100 it collected every few MiB of requests: 400 took a
// single 1 KiB CAdES request from 208-234 to 188-202 µs of server CPU,
// measured side by side (32 clients each), for about 18 MiB more peak RSS
// under load (88 against 70 MiB); the memory limit still bounds the heap,
// and a streamed upload's peak RSS did not change (33 MiB).
const DefaultGCPercent = 400

// SetGCPercent applies DefaultGCPercent unless GOGC is set: signet serve
// calls it, and so does make bench's floor server, so that the floor
// compares HTTP paths and not two GC settings.
func SetGCPercent(log *slog.Logger) {
	v, fromEnv := GOGC()
	if !fromEnv {
		debug.SetGCPercent(DefaultGCPercent)
	}
	log.Debug("garbage collector", "GOGC", v)
}

// GOGC is the GOGC signet serve runs with in this environment: the
// environment's GOGC (fromEnv), else DefaultGCPercent. make bench runs its
// in-process cases with it.
func GOGC() (v string, fromEnv bool) {
	if v := os.Getenv("GOGC"); v != "" {
		return v, true
	}
	return strconv.Itoa(DefaultGCPercent), false
}

// nextPort suggests the address after addr, for the message about a busy
// port: the same host, the next port number, passing over a port of taken
// (the server's own listener, for healthListen's).
func nextPort(addr string, taken ...net.Addr) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n <= 0 || n >= 65535 {
		return "127.0.0.1:8081"
	}
	n++
	for _, t := range taken {
		if ta, ok := t.(*net.TCPAddr); ok && ta.Port == n {
			n++
		}
	}
	if n > 65535 {
		return "127.0.0.1:8081"
	}
	return net.JoinHostPort(host, strconv.Itoa(n))
}
