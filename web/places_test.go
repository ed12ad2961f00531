package web

import (
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestPlaces: a request's places are given back while it stands aside and
// taken again after, at most `most` requests stand aside, and whatever the
// order of hold, leave, standAside and back (a worker may read the body in
// a goroutine of its own), every count ends where it began.
func TestPlaces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		most int64
		// steps run on one request; each checks the counts after it.
		steps []string
		// the in-flight, queue and aside counts after each step
		want [][3]int64
	}{
		{"read between hold and leave", 1,
			[]string{"hold in-flight", "hold queue", "aside", "back", "leave queue", "leave in-flight"},
			[][3]int64{{1, 0, 0}, {1, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0, 0}, {0, 0, 0}}},
		{"no room aside: the places stay", 0,
			[]string{"hold in-flight", "aside", "back", "leave in-flight"},
			[][3]int64{{1, 0, 0}, {1, 0, 0}, {1, 0, 0}, {0, 0, 0}}},
		{"nothing held: nothing to give", 1,
			[]string{"aside", "back"},
			[][3]int64{{0, 0, 0}, {0, 0, 0}}},
		{"left while aside", 1,
			[]string{"hold in-flight", "hold queue", "aside", "leave queue", "leave in-flight", "back"},
			[][3]int64{{1, 0, 0}, {1, 1, 0}, {0, 0, 1}, {0, 0, 1}, {0, 0, 1}, {0, 0, 0}}},
		{"held while aside", 1,
			[]string{"hold in-flight", "aside", "hold queue", "back", "leave queue", "leave in-flight"},
			[][3]int64{{1, 0, 0}, {0, 0, 1}, {0, 0, 1}, {1, 1, 0}, {1, 0, 0}, {0, 0, 0}}},
		{"aside twice counts once", 2,
			[]string{"hold in-flight", "aside", "aside", "back", "back", "leave in-flight"},
			[][3]int64{{1, 0, 0}, {0, 0, 1}, {0, 0, 1}, {1, 0, 0}, {1, 0, 0}, {0, 0, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var inFlight, queue, aside atomic.Int64
			p := &places{aside: &aside, most: tc.most}
			for i, step := range tc.steps {
				switch step {
				case "hold in-flight":
					inFlight.Add(1) // as admit does before it holds
					p.hold(placeInFlight, &inFlight)
				case "hold queue":
					queue.Add(1) // as workerQueues.enter does
					p.hold(placeQueue, &queue)
				case "leave in-flight":
					p.leave(placeInFlight)
				case "leave queue":
					p.leave(placeQueue)
				case "aside":
					p.standAside()
				case "back":
					p.back()
				default:
					t.Fatalf("unknown step %q", step)
				}
				if got := [3]int64{inFlight.Load(), queue.Load(), aside.Load()}; got != tc.want[i] {
					t.Fatalf("after %v: in flight, queue, aside = %v, want %v", tc.steps[:i+1], got, tc.want[i])
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
	p.standAside()
	if n.Load() != 1 {
		t.Errorf("stood aside without a server count: %d", n.Load())
	}
	p.leave(placeQueue)
	if n.Load() != 0 {
		t.Errorf("left, count %d", n.Load())
	}
}
