package auth

import (
	"slices"

	"github.com/signet-project/signet/config"
)

// DecideAny is Decide for a surface that several roles may use (the admin
// API: admin, operator, auditor), with one password check: Allowed for a
// user who holds one of roles, Forbidden for a user with the right password
// who holds none, Denied for anyone else — in the same time whether the
// user exists or not.
func (a *Authenticator) DecideAny(name, password string, roles ...string) Decision {
	u, found := a.user(name)
	if !found {
		CheckPassword("", password) // the time of a real check
		return Denied
	}
	if !a.password(u, password) {
		return Denied
	}
	if slices.ContainsFunc(roles, u.HasRole) {
		return Allowed
	}
	return Forbidden
}

// AdminRoles are the roles of the admin API.
func AdminRoles() []string {
	return []string{config.RoleAdmin, config.RoleOperator, config.RoleAuditor}
}
