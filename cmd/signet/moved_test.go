package main

import (
	"github.com/signet-project/signet/internal/client"
	srv "github.com/signet-project/signet/internal/server"
)

// The end-to-end tests drive the binary's commands and reach into the
// packages that now hold what package main used to, under the names they
// had here.
var (
	workerURL   = client.WorkerURL
	tokenOpener = srv.TokenOpener
)

const stateFile = srv.StateFile
