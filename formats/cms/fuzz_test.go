package cms

import "testing"

// FuzzParse: Parse reads signatures from clients and peers; on any input it
// returns a SignedData or an error, never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x80, 0x00, 0x00}, {0x30, 0x03, 0x06, 0x01, 0x00}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		sd, err := Parse(der)
		if err == nil && sd == nil {
			t.Fatal("Parse returned neither a SignedData nor an error")
		}
	})
}
