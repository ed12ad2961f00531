package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/config/demo"
	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/web/tlsconf"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

const defaultListen = "127.0.0.1:8080"

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var paths stringList
	fs.Var(&paths, "config", "YAML configuration `file` (repeatable); default: the embedded demo configuration")
	listen := fs.String("listen", "", "`address` to listen on (default "+defaultListen+", or server.listen from the configuration)")
	dataDir := fs.String("data", "signet-data", "data `folder` for the demo PKI and run-time state")
	maxUpload := fs.Int64("max-upload", 0, "upload limit in `bytes` (default: server.maxUploadSize from the configuration, 100 MiB)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(handler)

	demoMode := len(paths) == 0
	var files demo.Files
	if demoMode {
		var created bool
		var err error
		files, created, err = demo.Bootstrap(ctx, *dataDir)
		if err != nil {
			return fmt.Errorf("prepare the demo configuration in %s: %w", *dataDir, err)
		}
		if created {
			fmt.Fprintf(stdout, "Created the demo PKI and configuration in %s (root CA: %s).\n", *dataDir, files.CA)
		}
		if files.Password != "" {
			fmt.Fprintf(stdout, "Demo password of the users admin, operator and demo (shown once; set %s to choose it): %s\n", demo.PasswordEnv, files.Password)
		}
		paths = stringList{files.Config}
	}

	cfg, err := config.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	a := newApp(ctx, log, paths, *dataDir)
	a.demo, a.files = demoMode, files
	defer func() {
		if err := a.close(); err != nil {
			log.Error("shutdown", "error", err)
		}
	}()
	if err := a.openState(cfg.Server.AuditKey); err != nil {
		return fmt.Errorf("open the run-time state in %s: %w", *dataDir, err)
	}
	a.build(cfg)

	addr := *listen
	if addr == "" {
		addr = cfg.Server.Listen
	}
	if addr == "" {
		addr = defaultListen
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	limit := cfg.Server.MaxUploadSize
	if *maxUpload > 0 {
		limit = *maxUpload
	}
	tlsFiles := cfg.Server.TLS
	if tlsFiles == nil && demoMode {
		// A demo data folder made before its configuration named the
		// certificate: the demo always serves HTTPS.
		tlsFiles = &config.TLS{Cert: files.TLSCert, Key: files.TLSKey}
	}
	var tc *tlsconf.Server
	if tlsFiles != nil {
		if tc, err = tlsconf.New(tlsconf.Files{Cert: tlsFiles.Cert, Key: tlsFiles.Key, ClientCAs: tlsFiles.ClientCAs}); err != nil {
			l.Close()
			return err
		}
	} else {
		log.Warn("serving plain HTTP: credentials and documents travel in clear text; set server tls cert and key")
	}
	a.tls = tc
	a.srv = web.New(web.Options{Registry: a.reg, MaxUploadSize: limit, Logger: log, Limits: serverLimits(cfg.Server),
		TrustedProxies: cfg.Server.TrustedProxies, Authorizer: a.workerAuthorizer(), OnRefusal: a.auditRefusal})
	if err := a.mountAdmin(); err != nil {
		return err
	}
	if err := a.mountVendorAPIs(); err != nil {
		return err
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = a.reload() // logged; the running configuration stays
				if tc != nil {
					if err := tc.Reload(); err != nil {
						log.Error("TLS certificate reload refused; the one in force stays", "error", err)
					} else {
						log.Info("TLS certificate reloaded", "subject", tc.Leaf().Subject.String(), "notAfter", tc.Leaf().NotAfter)
					}
				}
			}
		}
	}()

	if cfg.Server.HealthListen != "" {
		if err := a.serveHealth(ctx, cfg.Server.HealthListen, stdout); err != nil {
			l.Close()
			return err
		}
	}
	base := "http://" + l.Addr().String()
	var tlsConfig *tls.Config
	if tc != nil {
		base, tlsConfig = "https://"+l.Addr().String(), tc.Config()
	}
	fmt.Fprintf(stdout, "Signet listening on %s\n", base)
	if demoMode {
		fmt.Fprintln(stdout, "The demo workers use AUTHTYPE NOAUTH: whoever reaches this port can sign. Other workers get CLIENTCERT unless they set AUTHTYPE.")
		fmt.Fprintf(stdout, "Sign a file (detached CAdES, verify with openssl cms -verify -cades -binary -inform DER -CAfile %s -content FILE -in FILE.p7s):\n", files.CA)
		fmt.Fprintf(stdout, "  curl -sS --cacert %s --data-binary @FILE '%s/signserver/worker/CAdESSigner?REQUEST_METADATA.USING_BATCHSIGNING=false' -o FILE.p7s\n", files.CA, base)
	}
	return a.srv.ServeTLS(ctx, l, tlsConfig)
}

func configCheck(paths []string, stdout, stderr io.Writer) error {
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "usage: signet config check FILE...")
		return exitError{2}
	}
	problems := config.Check(paths...)
	for _, p := range problems {
		fmt.Fprintln(stderr, p.Error())
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "%d problem(s) found.\n", len(problems))
		return exitError{1}
	}
	fmt.Fprintf(stdout, "%s: OK\n", strings.Join(paths, ", "))
	return nil
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
