package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/signet-project/signet/state"
)

// Put implements state.Archive.
func (s *Store) Put(ctx context.Context, it state.ArchiveItem) error {
	if s.readOnly {
		return fmt.Errorf("archive a request: the state database is open read-only")
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO archive ("+state.ArchiveColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", state.ArchiveArgs(it)...)
	if err != nil {
		return fmt.Errorf("archive request %s: %w", it.RequestID, err)
	}
	return nil
}

// Get implements state.Archive.
func (s *Store) Get(ctx context.Context, requestID string) ([]state.ArchiveItem, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+state.ArchiveColumns+" FROM archive WHERE request_id = ? ORDER BY rowid", requestID)
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	defer rows.Close()
	var out []state.ArchiveItem
	for rows.Next() {
		it, err := state.ScanArchiveItem(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Purge implements state.Archive.
func (s *Store) Purge(ctx context.Context, worker string, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, "DELETE FROM archive WHERE worker = ? AND time < ?", worker, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("purge the archive of %s: %w", worker, err)
	}
	return res.RowsAffected()
}

var _ state.Archive = (*Store)(nil)
