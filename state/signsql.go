package state

import (
	"fmt"
	"strings"
)

// SignSQL is how a store spells the signing log in SQL: its column names,
// its parameters and its hash lookup. Where turns a query's conditions into
// SQL with it, so that SQLite and PostgreSQL search by the one definition of
// SignQuery.Where.
type SignSQL struct {
	// Columns names the column of each field but FieldHashes.
	Columns map[SignField]string
	// Param spells the nth parameter (from 1) holding v: "?1", "$1::text".
	Param func(n int, v any) string
	// Has is the condition "the record signed the hash in the parameter
	// %s" (lower-case hex).
	Has string
}

// Where returns the WHERE clause (without the keyword) of q's conditions
// and their arguments.
func (d SignSQL) Where(q SignQuery) (string, []any) {
	var parts []string
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return d.Param(len(args), v)
	}
	for _, c := range q.Where() {
		if c.Field == FieldHashes {
			parts = append(parts, fmt.Sprintf(d.Has, param(c.Value)))
			continue
		}
		col := d.Columns[c.Field]
		switch c.Op {
		case OpAbove:
			parts = append(parts, col+" > "+param(c.Value))
		case OpAtLeast:
			parts = append(parts, col+" >= "+param(c.Value))
		case OpBelow:
			parts = append(parts, col+" < "+param(c.Value))
		case OpEqual:
			parts = append(parts, col+" = "+param(c.Value))
		case OpNotEqual:
			parts = append(parts, col+" <> "+param(c.Value))
		case OpNameOrPath:
			// substr and length mean the same in SQLite and PostgreSQL:
			// the last length(v)+1 characters of the column are "/" + v.
			p := param(c.Value)
			parts = append(parts, fmt.Sprintf("(%[1]s = %[2]s OR substr(%[1]s, length(%[1]s) - length(%[2]s)) = '/' || %[2]s)", col, p))
		}
	}
	return strings.Join(parts, " AND "), args
}
