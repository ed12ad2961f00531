package state

import "time"

// ArchiveColumns are the columns of an archive item, in the order
// ArchiveArgs gives them and ScanArchiveItem reads them, the same in SQLite
// and PostgreSQL.
const ArchiveColumns = "request_id, time, worker, request, response, request_size, request_sha256, response_size, response_sha256"

// ArchiveArgs returns the values of it for ArchiveColumns, its time as Unix
// nanoseconds (now when it has none).
func ArchiveArgs(it ArchiveItem) []any {
	it = it.stamped()
	return []any{it.RequestID, it.Time.UnixNano(), it.Worker, it.Request, it.Response, it.RequestSize, it.RequestSHA256, it.ResponseSize, it.ResponseSHA256}
}

// ScanArchiveItem reads one row of ArchiveColumns with scan.
func ScanArchiveItem(scan func(dest ...any) error) (ArchiveItem, error) {
	var it ArchiveItem
	var nanos int64
	err := scan(&it.RequestID, &nanos, &it.Worker, &it.Request, &it.Response, &it.RequestSize, &it.RequestSHA256, &it.ResponseSize, &it.ResponseSHA256)
	it.Time = time.Unix(0, nanos).UTC()
	return it, err
}
