package main

// mountAdmin adds the admin API under /admin/api/ to a.srv.
func (a *app) mountAdmin() error { return nil }
