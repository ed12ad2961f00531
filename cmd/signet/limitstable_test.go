package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	srv "github.com/signet-project/signet/internal/server"
	"github.com/signet-project/signet/web"
)

// TestREADMEServerLimits keeps the defaults of the README's "Server
// limits" table equal to those the server applies (web.DefaultLimits,
// web.DefaultMaxUploadSize, server.DefaultMemoryLimit): the table was
// written by hand, and nothing held it to the code.
func TestREADMEServerLimits(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	size := func(n int64) string {
		if n%(1<<20) == 0 {
			return fmt.Sprintf("%dMiB", n>>20)
		}
		return fmt.Sprint(n)
	}
	dur := func(d time.Duration) string {
		switch {
		case d%time.Hour == 0:
			return fmt.Sprintf("%dh", d/time.Hour)
		case d%time.Minute == 0:
			return fmt.Sprintf("%dm", d/time.Minute)
		case d%time.Second == 0:
			return fmt.Sprintf("%ds", d/time.Second)
		}
		return d.String()
	}
	d := web.DefaultLimits
	want := map[string]string{
		"maxUploadSize":     size(web.DefaultMaxUploadSize),
		"maxRequestMemory":  size(d.MaxRequestMemory),
		"bodyTimeout":       dur(d.BodyTimeout),
		"readTimeout":       dur(d.ReadTimeout),
		"readHeaderTimeout": dur(d.ReadHeaderTimeout),
		"writeTimeout":      dur(d.WriteTimeout),
		"idleTimeout":       dur(d.IdleTimeout),
		"maxConnections":    fmt.Sprint(d.MaxConnections),
		"maxInFlight":       fmt.Sprint(d.MaxInFlight),
		"maxWorkerQueue":    fmt.Sprint(d.MaxWorkerQueue),
		"memoryLimit":       size(srv.DefaultMemoryLimit),
	}
	_, table, ok := strings.Cut(string(readme), "### Server limits\n")
	if !ok {
		t.Fatal(`README.md has no "### Server limits" section`)
	}
	got := map[string]string{}
	for line := range strings.Lines(table) {
		if strings.HasPrefix(line, "#") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		got[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
	}
	for name, def := range want {
		if got[name] != def {
			t.Errorf("README's %s default reads %q; the server's is %q", name, got[name], def)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("README's server limits table names %s, which this test does not know: add its default here", name)
		}
	}
}
