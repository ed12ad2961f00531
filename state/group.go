package state

import "context"

// The stores write in groups: callers hand a request to one writer
// goroutine, which commits every request waiting at that moment in one
// transaction or round trip (group commit), so that durable writes do not
// serialise signing. Submit and Gather are the two halves every store and
// every log of a store share; NextGroup is the writer's wait for its next
// group.

// Submit hands r to the writer that reads reqs and waits until the writer
// closes done. It returns closed when quit is closed first, and ctx's error
// when ctx ends before the writer takes r. Once the writer has taken r it
// waits for the answer whatever ctx does: the caller must know whether r
// was stored.
func Submit[T any](ctx context.Context, reqs chan<- T, quit <-chan struct{}, r T, done <-chan struct{}, closed error) error {
	select {
	case reqs <- r:
	case <-quit:
		return closed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// Gather returns first with the requests already waiting on ch, up to max
// in all: the group a writer commits together.
func Gather[T any](first T, ch <-chan T, max int) []T {
	group := []T{first}
	for len(group) < max {
		select {
		case r := <-ch:
			group = append(group, r)
		default:
			return group
		}
	}
	return group
}

// NextGroup waits for the next request on ch and returns it with the ones
// already waiting behind it (Gather), up to max; ok is false once quit is
// closed, and the writer then stops.
func NextGroup[T any](ch <-chan T, quit <-chan struct{}, max int) (group []T, ok bool) {
	select {
	case <-quit:
		return nil, false
	case r := <-ch:
		return Gather(r, ch, max), true
	}
}
