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
	if it.Time.IsZero() {
		it.Time = time.Now()
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO archive (request_id, time, worker, request, response) VALUES (?, ?, ?, ?, ?)",
		it.RequestID, it.Time.UnixNano(), it.Worker, it.Request, it.Response)
	if err != nil {
		return fmt.Errorf("archive request %s: %w", it.RequestID, err)
	}
	return nil
}

// Get implements state.Archive.
func (s *Store) Get(ctx context.Context, requestID string) ([]state.ArchiveItem, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT request_id, time, worker, request, response FROM archive WHERE request_id = ? ORDER BY rowid", requestID)
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	defer rows.Close()
	var out []state.ArchiveItem
	for rows.Next() {
		var it state.ArchiveItem
		var nanos int64
		if err := rows.Scan(&it.RequestID, &nanos, &it.Worker, &it.Request, &it.Response); err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		it.Time = time.Unix(0, nanos).UTC()
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
