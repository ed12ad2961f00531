package state

import (
	"context"
	"errors"
	"testing"
)

func TestSubmitAndGather(t *testing.T) {
	t.Parallel()
	closed := errors.New("closed")
	type req struct {
		n    int
		done chan struct{}
	}
	reqs := make(chan *req, 8)
	quit := make(chan struct{})

	// Three requests waiting: one group of at most two, then the rest.
	for i := range 3 {
		reqs <- &req{n: i}
	}
	first := <-reqs
	if g := Gather(first, reqs, 2); len(g) != 2 || g[0].n != 0 || g[1].n != 1 {
		t.Fatalf("group %+v, want requests 0 and 1", g)
	}
	if g := Gather(<-reqs, reqs, 2); len(g) != 1 || g[0].n != 2 {
		t.Fatalf("group %+v, want request 2 alone", g)
	}

	// A writer answers: Submit returns once done is closed.
	r := &req{n: 7, done: make(chan struct{})}
	go func() { got := <-reqs; got.n *= 2; close(got.done) }()
	if err := Submit(context.Background(), reqs, quit, r, r.done, closed); err != nil || r.n != 14 {
		t.Fatalf("submit: %v, n=%d; want the writer's answer 14", err, r.n)
	}

	// No writer: a closed store, then an ended context.
	full := make(chan *req)
	close(quit)
	if err := Submit(context.Background(), full, quit, r, r.done, closed); !errors.Is(err, closed) {
		t.Errorf("closed store: %v, want %v", err, closed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Submit(ctx, full, make(chan struct{}), r, r.done, closed); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v, want context.Canceled", err)
	}
}

// TestNextGroup: a writer gets the next request with those waiting behind
// it, up to max, and stops once quit is closed with nothing waiting.
func TestNextGroup(t *testing.T) {
	t.Parallel()
	reqs := make(chan int, 8)
	quit := make(chan struct{})
	for i := range 3 {
		reqs <- i
	}
	if g, ok := NextGroup(reqs, quit, 2); !ok || len(g) != 2 || g[0] != 0 || g[1] != 1 {
		t.Fatalf("group %v, %v; want [0 1], true", g, ok)
	}
	if g, ok := NextGroup(reqs, quit, 2); !ok || len(g) != 1 || g[0] != 2 {
		t.Fatalf("group %v, %v; want [2], true", g, ok)
	}
	close(quit)
	if g, ok := NextGroup(reqs, quit, 2); ok || g != nil {
		t.Fatalf("after quit: %v, %v; want nil, false", g, ok)
	}
}
