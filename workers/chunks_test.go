package workers

import (
	"runtime"
	"sync"
	"testing"
)

// inChunks calls f on ranges that cover [0, n) once each, whatever n.
func TestInChunks(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 63, 64, 127, 128, 129, 1000, 1001, 4097} {
		var mu sync.Mutex
		seen := make([]int, n)
		calls := 0
		inChunks(n, func(lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if lo < 0 || hi > n || lo >= hi && n > 0 {
				t.Errorf("n=%d: range [%d, %d)", n, lo, hi)
				return
			}
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, c := range seen {
			if c != 1 {
				t.Errorf("n=%d: item %d done %d times", n, i, c)
				break
			}
		}
		if n >= 1000 && runtime.GOMAXPROCS(0) > 1 && calls < 2 {
			t.Errorf("n=%d: %d ranges, want the work split", n, calls)
		}
	}
}
