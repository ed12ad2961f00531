package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/workers"
)

// tokenOpener maps a token configuration's type to its implementation. It
// lives in the command so that the workers package does not depend on every
// backend.
func tokenOpener() workers.TokenOpener {
	return func(ctx context.Context, tc config.Token) (tokens.Token, error) {
		p := tc.Properties
		switch tc.Type {
		case "soft":
			return soft.Open(soft.Options{
				Name: tc.Name,
				Path: relativeTo(tc.Pos.File, p.String("KEYSTOREPATH")),
				Type: p.String("KEYSTORETYPE"),
			})
		}
		return nil, fmt.Errorf("%s: token type %q is not supported: use soft", tc.Pos, tc.Type)
	}
}

// relativeTo resolves a path from a configuration file relative to that
// file's folder.
func relativeTo(file, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(file), p)
}
