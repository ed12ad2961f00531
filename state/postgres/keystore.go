package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Keystore is a soft token's keystore in the database: one encrypted
// PKCS#12 file per key alias, as SignServer's keystore-in-database crypto
// token keeps it, so that a key generated or a chain stored on one node
// signs on every node. The files are encrypted with the token's PIN, which
// the database never sees.
type Keystore struct {
	s     *Store
	token string
}

// KeystoreChannel is the LISTEN/NOTIFY channel on which a changed key of a
// database keystore is announced; the payload is "token/alias".
const KeystoreChannel = "signet_keystore"

// Keystore returns the keystore of the soft token named token.
func (s *Store) Keystore(token string) *Keystore { return &Keystore{s: s, token: token} }

// List returns every key file of the keystore by alias.
func (k *Keystore) List(ctx context.Context) (map[string][]byte, error) {
	rows, err := k.s.pool.Query(ctx, "SELECT alias, data FROM keystore WHERE token = $1", k.token)
	if err != nil {
		return nil, fmt.Errorf("read keystore %s from the database: %w", k.token, k.s.hide(err))
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var alias string
		var data []byte
		if err := rows.Scan(&alias, &data); err != nil {
			return nil, fmt.Errorf("read keystore %s from the database: %w", k.token, k.s.hide(err))
		}
		out[alias] = data
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read keystore %s from the database: %w", k.token, k.s.hide(err))
	}
	return out, nil
}

// Get returns the key file of alias; found is false when there is none.
func (k *Keystore) Get(ctx context.Context, alias string) (data []byte, found bool, err error) {
	err = k.s.pool.QueryRow(ctx, "SELECT data FROM keystore WHERE token = $1 AND alias = $2", k.token, alias).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read key %s of keystore %s from the database: %w", alias, k.token, k.s.hide(err))
	}
	return data, true, nil
}

// Replace stores data as the key file of alias in place of old (a new
// chain) and tells every node; replaced is false, nothing stored and no one
// told, when alias no longer holds old: an upsert brought a key removed
// through another node meanwhile back, on every node, and put an old key in
// place of one made anew under its alias. One statement.
func (k *Keystore) Replace(ctx context.Context, alias string, old, data []byte) (bool, error) {
	var n int
	err := k.s.pool.QueryRow(ctx, `WITH up AS (UPDATE keystore SET data = $3, updated = now() WHERE token = $1 AND alias = $2 AND data = $6 RETURNING alias)
		SELECT count(pg_notify($4, $5)) FROM up`, k.token, alias, data, KeystoreChannel, k.token+"/"+alias, old).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store key %s of keystore %s in the database: %w", alias, k.token, k.s.hide(err))
	}
	return n == 1, nil
}

// Add stores the key file of a new alias and tells every node; added is
// false, nothing stored and no one told, when the alias is taken. One
// statement, so that two nodes adding one alias at once cannot both.
func (k *Keystore) Add(ctx context.Context, alias string, data []byte) (bool, error) {
	var n int
	err := k.s.pool.QueryRow(ctx, `WITH ins AS (INSERT INTO keystore (token, alias, data) VALUES ($1, $2, $3)
		ON CONFLICT (token, alias) DO NOTHING RETURNING alias)
		SELECT count(pg_notify($4, $5)) FROM ins`, k.token, alias, data, KeystoreChannel, k.token+"/"+alias).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store key %s of keystore %s in the database: %w", alias, k.token, k.s.hide(err))
	}
	return n == 1, nil
}

// Delete removes the key file of alias and tells every node.
func (k *Keystore) Delete(ctx context.Context, alias string) error {
	if err := k.change(ctx, "DELETE FROM keystore WHERE token = $1 AND alias = $2", alias); err != nil {
		return fmt.Errorf("remove key %s of keystore %s from the database: %w", alias, k.token, k.s.hide(err))
	}
	return nil
}

// change runs a change of alias and its notification in one round trip
// and one transaction.
func (k *Keystore) change(ctx context.Context, sql, alias string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(sql, append([]any{k.token, alias}, args...)...)
	b.Queue("SELECT pg_notify($1, $2)", KeystoreChannel, k.token+"/"+alias)
	return k.s.pool.SendBatch(ctx, b).Close()
}
