package ui

import (
	"context"
	"strings"
	"testing"

	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/workers"
)

// TestEmptyStatesSayWhatToDo: a server without workers or tokens showed
// a dashboard table with headers only and a tokens page with a title
// only, which read as "still loading" rather than "add one"; each empty
// list now says how to fill it.
func TestEmptyStatesSayWhatToDo(t *testing.T) {
	t.Parallel()
	u, e := serveUI(t, Options{
		Admin: admin.New(admin.Options{
			Workers: workerSource{workers.NewSet(nil, nil)},
			Reload:  func(context.Context) ([]string, error) { return nil, nil },
		}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
	})
	cookies, _ := login(t, u, e)
	tests := []struct {
		page string
		want []string
	}{
		{"/admin/dashboard", []string{`id="no-workers"`, `href="/admin/workers/new"`, "<code>workers:</code>", `id="no-tokens"`, "<code>tokens:</code>"}},
		{"/admin/tokens", []string{`id="no-tokens"`, "<code>tokens:</code>", "signet admin reload"}},
	}
	for _, tt := range tests {
		page := get(e, tt.page, cookies)
		for _, w := range tt.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s without workers or tokens does not say %q:\n%s", tt.page, w, page)
			}
		}
	}
}
