package server

import (
	"strconv"
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// TestPDFBudgetFitsDefaults holds the memory figures of PDF reading
// together, each declared in its own place: the largest PDF a worker
// accepts at the default limits (maxRequestMemory's bytes, MAX_PDF_OBJECTS
// objects) is estimated within the budget of the PDFs read at once, which
// is at most half the default soft memory limit, which is under the
// README's 256 MiB of RSS.
func TestPDFBudgetFitsDefaults(t *testing.T) {
	t.Parallel()
	p, _ := config.LookupProperty(config.PropMaxPDFObjects)
	objects, err := strconv.Atoi(p.Default)
	if err != nil {
		t.Fatalf("MAX_PDF_OBJECTS's default %q: %v", p.Default, err)
	}
	largest := pades.Cost(objects, int(web.DefaultLimits.MaxRequestMemory))
	for _, c := range []struct {
		what        string
		size, bound int64
	}{
		{"the largest PDF at the default limits, in the PDF budget", largest, workers.PDFMemoryBudget},
		{"the PDF budget, in half the default memory limit", workers.PDFMemoryBudget, DefaultMemoryLimit / 2},
		{"the default memory limit, in the README's 256 MiB", DefaultMemoryLimit, 256 << 20},
	} {
		if c.size > c.bound {
			t.Errorf("%s: %d bytes, over %d", c.what, c.size, c.bound)
		}
	}
}
