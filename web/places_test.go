package web

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestPlaces: a request's places are given back while it stands aside and
// taken again after, the pool takes no more requests than its most nor
// more body than its budget (TestStandAsideBounds), and whatever the order
// of hold, leave, standAside and back (a worker may read the body in a
// goroutine of its own), every count ends where it began.
func TestPlaces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		most, budget int64
		// steps run on one request; "aside:N" stands aside having read N
		// bytes of the body.
		steps []string
		// the in-flight, queue, aside and aside bytes counts after each step
		want [][4]int64
	}{
		{"read between hold and leave", 1, 100,
			[]string{"hold in-flight", "hold queue", "aside:10", "back", "leave queue", "leave in-flight"},
			[][4]int64{{1, 0, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 10}, {1, 1, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}}},
		{"no room aside: the places stay", 0, 100,
			[]string{"hold in-flight", "aside:0", "back", "leave in-flight"},
			[][4]int64{{1, 0, 0, 0}, {1, 0, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}}},
		{"more body than the budget: the places stay", 1, 100,
			[]string{"hold in-flight", "aside:101", "back", "aside:100", "back", "leave in-flight"},
			[][4]int64{{1, 0, 0, 0}, {1, 0, 0, 0}, {1, 0, 0, 0}, {0, 0, 1, 100}, {1, 0, 0, 0}, {0, 0, 0, 0}}},
		{"nothing held: nothing to give", 1, 100,
			[]string{"aside:0", "back"},
			[][4]int64{{0, 0, 0, 0}, {0, 0, 0, 0}}},
		{"left while aside", 1, 100,
			[]string{"hold in-flight", "hold queue", "aside:5", "leave queue", "leave in-flight", "back"},
			[][4]int64{{1, 0, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 5}, {0, 0, 1, 5}, {0, 0, 1, 5}, {0, 0, 0, 0}}},
		{"held while aside", 1, 100,
			[]string{"hold in-flight", "aside:5", "hold queue", "back", "leave queue", "leave in-flight"},
			[][4]int64{{1, 0, 0, 0}, {0, 0, 1, 5}, {0, 0, 1, 5}, {1, 1, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}}},
		{"aside twice counts once", 2, 100,
			[]string{"hold in-flight", "aside:5", "aside:7", "back", "back", "leave in-flight"},
			[][4]int64{{1, 0, 0, 0}, {0, 0, 1, 5}, {0, 0, 1, 5}, {1, 0, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var inFlight, queue atomic.Int64
			pool := &asidePool{most: tc.most, budget: tc.budget}
			p := &places{pool: pool}
			for i, step := range tc.steps {
				switch {
				case step == "hold in-flight":
					inFlight.Add(1) // as admit does before it holds
					p.hold(placeInFlight, &inFlight)
				case step == "hold queue":
					queue.Add(1) // as workerQueues.enter does
					p.hold(placeQueue, &queue)
				case step == "leave in-flight":
					p.leave(placeInFlight)
				case step == "leave queue":
					p.leave(placeQueue)
				case strings.HasPrefix(step, "aside:"):
					n, err := strconv.ParseInt(strings.TrimPrefix(step, "aside:"), 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					p.standAside(n)
				case step == "back":
					p.back()
				default:
					t.Fatalf("unknown step %q", step)
				}
				if got := [4]int64{inFlight.Load(), queue.Load(), pool.n.Load(), pool.bytes.Load()}; got != tc.want[i] {
					t.Fatalf("after %v: in flight, queue, aside, aside bytes = %v, want %v", tc.steps[:i+1], got, tc.want[i])
				}
			}
		})
	}
}

// TestPlacesOutsideObserve: a request that observe did not see holds its
// places and gives them back, and never stands aside.
func TestPlacesOutsideObserve(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	c := echo.New().NewContext(httptest.NewRequest("POST", "/", nil), httptest.NewRecorder())
	p := (&Server{}).placesOf(c)
	n.Add(1)
	p.hold(placeQueue, &n)
	p.standAside(0)
	if n.Load() != 1 {
		t.Errorf("stood aside without a server pool: %d", n.Load())
	}
	p.leave(placeQueue)
	if n.Load() != 0 {
		t.Errorf("left, count %d", n.Load())
	}
}
