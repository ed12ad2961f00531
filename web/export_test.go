package web

// WatchPlaces makes s tell the returned channel after every change of the
// counts behind signet_requests_in_flight and signet_requests_awaiting_body
// (and the worker queues): the event a test waits on for a gauge to read a
// value, instead of polling /metrics. The channel holds one token and the
// server never waits on it: a token stands for any number of changes since
// it was taken, so a test reads the gauges again after each. Call it before
// Serve.
func (s *Server) WatchPlaces() <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.placesChanged = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return ch
}
