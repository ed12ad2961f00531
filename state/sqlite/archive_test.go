package sqlite

import (
	"testing"

	"github.com/signet-project/signet/state/statetest"
)

func TestArchive(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	statetest.Archive(t, s)
}

func TestLimitLowered(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	statetest.LimitLowered(t, s)
}
