package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-project/signet/state"
)

// Put implements state.Archive: one round trip, the item stored when it
// returns nil.
func (s *Store) Put(ctx context.Context, it state.ArchiveItem) error {
	args := append(state.ArchiveArgs(it), s.node)
	_, err := s.pool.Exec(ctx, "INSERT INTO archive ("+state.ArchiveColumns+", node) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", args...)
	if err != nil {
		return fmt.Errorf("archive request %s: %w", it.RequestID, err)
	}
	return nil
}

// Get implements state.Archive.
func (s *Store) Get(ctx context.Context, requestID string) ([]state.ArchiveItem, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+state.ArchiveColumns+" FROM archive WHERE request_id = $1 ORDER BY seq", requestID)
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.ArchiveItem, error) {
		return state.ScanArchiveItem(row.Scan)
	})
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	return out, nil
}

// Purge implements state.Archive. Nodes purging together delete each item
// once.
func (s *Store) Purge(ctx context.Context, worker string, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM archive WHERE worker = $1 AND time < $2", worker, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("purge the archive of %s: %w", worker, err)
	}
	return tag.RowsAffected(), nil
}

var _ state.Archive = (*Store)(nil)
