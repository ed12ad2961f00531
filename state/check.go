package state

import (
	"bytes"
	"fmt"
)

// ChainCheck checks an audit log record by record, oldest first, whatever
// stores it: feed every record to Next, then the head stored beside the
// records to End. Its errors are *ChainError naming the first bad record.
type ChainCheck struct {
	last int64
	prev []byte
}

// Checked returns the number of records checked so far.
func (c *ChainCheck) Checked() int64 { return c.last }

// Next checks that e follows the records before it and matches its hash.
func (c *ChainCheck) Next(e Entry) error {
	switch {
	case e.Seq != c.last+1:
		return &ChainError{Seq: c.last + 1, Reason: fmt.Sprintf("is missing: the record after %d is %d (deleted or renumbered)", c.last, e.Seq)}
	case !bytes.Equal(e.Prev, c.prev):
		return &ChainError{Seq: e.Seq, Reason: "does not follow the record before it: its previous-record hash differs (reordered, or the record before was replaced)"}
	case !bytes.Equal(Hash(e), e.Hash):
		return &ChainError{Seq: e.Seq, Reason: "was edited: its content does not match its hash"}
	}
	c.last, c.prev = e.Seq, e.Hash
	return nil
}

// End checks the records seen against the head written with the last of
// them (sequence number and hash; 0 and empty for an empty log), so that
// deleting the newest records is detected too.
func (c *ChainCheck) End(headSeq int64, headHash []byte) error {
	switch {
	case headSeq > c.last:
		return &ChainError{Seq: c.last + 1, Reason: fmt.Sprintf("is missing: the log ends at %d but %d records were written (the last ones were deleted)", c.last, headSeq)}
	case headSeq < c.last:
		return &ChainError{Seq: headSeq + 1, Reason: fmt.Sprintf("was not written by Signet: the log holds %d records but %d were written", c.last, headSeq)}
	case !bytes.Equal(headHash, c.prev) && !(c.last == 0 && len(headHash) == 0):
		return &ChainError{Seq: c.last, Reason: "was replaced: its hash differs from the one recorded when it was written"}
	}
	return nil
}
