package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestStartStop starts a server, creates a database, stops and restarts it.
func TestStartStop(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url, err := s.NewDatabase(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	query := func() error {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		var v string
		return c.QueryRow(ctx, "SHOW server_version").Scan(&v)
	}
	if err := query(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if query() == nil {
		t.Fatal("query succeeded on a stopped server")
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := query(); err != nil {
		t.Fatal(err)
	}
}
