package auth

import "github.com/signet-project/signet/config"

// AdminRoles are the roles of the admin API.
func AdminRoles() []string {
	return []string{config.RoleAdmin, config.RoleOperator, config.RoleAuditor}
}
