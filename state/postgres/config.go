package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-project/signet/state"
)

// configChannel is the LISTEN/NOTIFY channel on which a new configuration
// version is announced; the payload is its version number.
const configChannel = "signet_config"

// ErrNoConfig reports that no configuration was pushed to the cluster yet.
var ErrNoConfig = errors.New("no configuration was pushed to the cluster yet: run signet config push FILE")

// ConfigVersion is one version of the cluster's configuration.
type ConfigVersion struct {
	Version int64
	YAML    string
	Author  string // who pushed it
	Created time.Time
}

// ErrConfigChanged reports that another version was pushed since the one
// an edit started from.
var ErrConfigChanged = errors.New("the cluster's configuration changed meanwhile: make the change again on the version in force")

// PushConfig stores yaml as the next version of the cluster's configuration
// and notifies every node; the caller has checked it. It returns the new
// version. With after >= 0 it stores nothing unless after is still the
// newest version (ErrConfigChanged), so that two edits made at once on
// two nodes do not undo each other.
func (s *Store) PushConfig(ctx context.Context, yaml, author string, after int64) (int64, error) {
	var v int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if after >= 0 {
			var cur int64
			if _, err := tx.Exec(ctx, "LOCK TABLE config IN EXCLUSIVE MODE"); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, "SELECT COALESCE(max(version), 0) FROM config").Scan(&cur); err != nil {
				return err
			}
			if cur != after {
				return ErrConfigChanged
			}
		}
		if err := tx.QueryRow(ctx, "INSERT INTO config (yaml, author) VALUES ($1, $2) RETURNING version", yaml, author).Scan(&v); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", configChannel, strconv.FormatInt(v, 10))
		return err
	})
	if errors.Is(err, ErrConfigChanged) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("store the configuration: %w", err)
	}
	return v, nil
}

// Config returns the configuration in force: the newest version. Without
// any, the error wraps ErrNoConfig.
func (s *Store) Config(ctx context.Context) (ConfigVersion, error) {
	var c ConfigVersion
	err := s.pool.QueryRow(ctx, "SELECT version, yaml, author, created FROM config ORDER BY version DESC LIMIT 1").Scan(&c.Version, &c.YAML, &c.Author, &c.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNoConfig
	}
	if err != nil {
		return c, fmt.Errorf("read the cluster configuration: %w", s.hide(err))
	}
	return c, nil
}

// Watchers are what a node does when the cluster changes; nil fields are
// not watched. A function that could not act because the database failed
// under it returns an error wrapping state.ErrUnavailable: the watch then
// listens again on a new connection after a pause, calling Config and Keys
// again, so that nothing it was told is lost (another error is the
// function's to report; it does not stop the watch).
type Watchers struct {
	// Config is called with the newest configuration version each time
	// one is pushed, and once each time the watch (re)connects, so that
	// versions pushed while the database was unreachable are not missed;
	// it may be called with a version already seen.
	Config func(version int64) error
	// Key is called with a key of a database keystore that was generated,
	// given a chain or removed through any node.
	Key func(token, alias string) error
	// Keys is called each time the watch (re)connects, once it listens:
	// the keys changed through other nodes while this one was not
	// listening were announced to no one, so every key is read again (a
	// key removed meanwhile would otherwise keep signing here).
	Keys func() error
}

// retry is the error that ends a listen when a watcher could not act on
// what it was told because the database failed under it.
func retry(err error) error {
	if errors.Is(err, state.ErrUnavailable) {
		return fmt.Errorf("acting on a change: %w", err)
	}
	return nil
}

// Watch calls w's functions as the cluster changes (LISTEN/NOTIFY), on its
// own goroutine, until ctx ends or the store closes: its LISTEN connection
// is outside the pool, which Close does not reach, and a server whose start
// fails after the watch began closes the store with ctx still going on.
func (s *Store) Watch(ctx context.Context, w Watchers) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		err := s.listen(ctx, w)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("configuration listener disconnected; reconnecting", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(pingEvery):
		}
	}
}

// listenCheck is how long the watch waits for a notification before it
// asks its connection whether it still answers: one that went silent (a
// fail-over that moved the database's address, a firewall that dropped it;
// no reset reaches the node, and the pool may replace its own connections
// before the monitor sees a failure) would hear nothing until TCP
// keepalive gave up on it, minutes later.
const listenCheck = 2 * time.Second

// watchName is the application_name of the watch's connection.
const watchName = "signet watch"

// errListenAgain ends a listen when the database is back after an outage.
var errListenAgain = errors.New("the database is back after an outage: listening on a new connection")

// listen listens on one connection until it fails, ctx ends or the
// database is back after an outage: the connections of before may have
// gone silent (a fail-over that moved the database's address, a firewall
// that dropped them) without any reset reaching this node, and one that
// listens waits for nothing else; it would hear nothing until TCP
// keepalive gave up on it, minutes later.
func (s *Store) listen(ctx context.Context, w Watchers) error {
	back := s.backAgain()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-back:
			cancel(errListenAgain)
		case <-ctx.Done():
		}
	}()
	err := s.listenOn(ctx, w)
	if context.Cause(ctx) == errListenAgain {
		return errListenAgain
	}
	return err
}

func (s *Store) listenOn(ctx context.Context, w Watchers) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection LISTENs: it never goes back to the pool.
	c := conn.Hijack()
	defer c.Close(context.Background())
	// Named, so that an operator (or a test) finds it in pg_stat_activity:
	// its last query is mostly listenCheck's ping.
	if _, err := c.Exec(ctx, "SET application_name = '"+watchName+"'; LISTEN "+configChannel+"; LISTEN "+KeystoreChannel); err != nil {
		return err
	}
	var v int64
	err = c.QueryRow(ctx, "SELECT COALESCE(max(version), 0) FROM config").Scan(&v)
	if err != nil {
		return err
	}
	if v > 0 && w.Config != nil {
		if err := retry(w.Config(v)); err != nil {
			return err
		}
	}
	if w.Keys != nil {
		if err := retry(w.Keys()); err != nil {
			return err
		}
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, listenCheck)
		n, err := c.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// Quiet for listenCheck: a timeout leaves the connection
			// usable; ask it whether it still answers.
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			err = c.Ping(pctx)
			pcancel()
			if err == nil {
				continue
			}
			return fmt.Errorf("the listening connection does not answer: %w", err)
		}
		if err != nil {
			return err
		}
		switch n.Channel {
		case configChannel:
			if v, err := strconv.ParseInt(n.Payload, 10, 64); err == nil && w.Config != nil {
				if err := retry(w.Config(v)); err != nil {
					return err
				}
			}
		case KeystoreChannel:
			// Aliases hold no "/"; token names might.
			if i := strings.LastIndexByte(n.Payload, '/'); i >= 0 && w.Key != nil {
				if err := retry(w.Key(n.Payload[:i], n.Payload[i+1:])); err != nil {
					return err
				}
			}
		}
	}
}
