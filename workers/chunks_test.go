package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// A standby's helpers, started before the work is given (as the signing
// goroutines start them) or by give, each call the work once and are gone
// when join returns; end releases helpers given no work.
func TestStandby(t *testing.T) {
	for _, tc := range []struct {
		name        string
		most, early int // helpers at most; started before give
	}{
		{"none early", 3, 0},
		{"all early", 3, 3},
		{"some early", 3, 1},
		{"started again", 3, 5}, // start beyond most starts nothing
		{"fewer than the cores", 1, 3},
		{"none", 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			sb := newStandby(tc.most)
			for range tc.early {
				sb.start()
			}
			var calls atomic.Int32
			sb.give(func() { calls.Add(1) })
			sb.join()
			sb.end()
			if got, want := calls.Load(), int32(1+tc.most); got != want {
				t.Errorf("work called %d times, want %d (the caller and each of %d helpers once)", got, want, tc.most)
			}
			waitGoroutines(t, before)
		})
	}
	t.Run("ended without work", func(t *testing.T) {
		before := runtime.NumGoroutine()
		sb := newStandby(runtime.GOMAXPROCS(0) - 1)
		sb.start()
		sb.start()
		sb.end()
		waitGoroutines(t, before)
	})
}

// A standby's helpers and the caller share chunks' ranges, each once.
func TestChunksOnStandby(t *testing.T) {
	for _, n := range []int{10, 127, 128, 1000, 4097} {
		var mu sync.Mutex
		seen := make([]int, n)
		c := newChunks(n, func(lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		sb := newStandby(c.helpers)
		sb.start()
		sb.give(c.work)
		sb.join()
		sb.end()
		for i, c := range seen {
			if c != 1 {
				t.Errorf("n=%d: item %d done %d times", n, i, c)
				break
			}
		}
	}
}

// waitGoroutines waits until no more goroutines run than before: a
// goroutine that has called its WaitGroup's Done has yet to end.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left running (%d before)", runtime.NumGoroutine(), before)
		}
		runtime.Gosched()
	}
}
