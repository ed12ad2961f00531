// Package signserver reads and writes SignServer worker property files, the
// form that `signserver dumpproperties` writes and `signserver
// setproperties` reads, so that an organisation running SignServer can bring
// its workers and crypto tokens to Signet (Import) and take them back
// (Export).
//
// A property file is a Java properties file whose keys name a worker and a
// property: WORKERGENID<n>.<PROPERTY> for a worker that setproperties creates
// with the next free ID, WORKER<id>.<PROPERTY> for a worker with a known ID,
// a leading "-" to remove a property, and GLOB.<...> for global settings.
// Signet's property names are SignServer's, so most properties carry over as
// they are; every one that does not is reported with the reason, never
// dropped silently.
package signserver

import (
	"errors"
	"fmt"
	"io"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/properties"
)

// entry is one key=value of a properties file, with where it was written.
type entry struct {
	key, value string
	pos        config.Pos
}

// maxFileSize bounds a property file: dumpproperties of a large
// installation is a few hundred KiB.
const maxFileSize = 16 << 20

// readProperties reads a property file (Java properties syntax, as
// formats/properties parses it) with the position of each entry.
func readProperties(name string, r io.Reader) ([]entry, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxFileSize {
		// Cut at the limit, the last property would be read short.
		return nil, fmt.Errorf("%s is larger than %d MiB: split it into several files", name, maxFileSize>>20)
	}
	entries, err := properties.Parse(string(b), 0)
	var se *properties.SyntaxError
	switch {
	case errors.As(err, &se) && se.Line > 0:
		return nil, fmt.Errorf("%s:%d: %s", name, se.Line, se.Msg)
	case err != nil:
		return nil, fmt.Errorf("%s: %w: save it as UTF-8, with \\u escapes for other characters", name, err)
	}
	out := make([]entry, len(entries))
	for i, e := range entries {
		out[i] = entry{key: e.Key, value: e.Value, pos: config.Pos{File: name, Line: e.Line}}
	}
	return out, nil
}
