package loadgen

import (
	"crypto"
	"encoding/json"
	"testing"
)

// TestAPIItemIsJSON: a DSM sign request names any key in JSON's quoting
// (strconv.Quote wrote \x01 and \a, which JSON does not have).
func TestAPIItemIsJSON(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"p256", "a\x01b", "bell\a", `q"uote`, "é", "\xff"} {
		var got struct {
			Key struct{ Name string }
		}
		w := apiItem(nil, apiDSM, key, crypto.SHA256, make([]byte, 32))
		if err := json.Unmarshal(w, &got); err != nil {
			t.Errorf("key %q: %s is not JSON: %v", key, w, err)
		} else if got.Key.Name != key && key != "\xff" {
			t.Errorf("key %q reads back as %q", key, got.Key.Name)
		}
	}
}
