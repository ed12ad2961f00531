package workers

import "context"

// SetPDFReadContext makes the PDFSigner w bound each reading of a PDF with
// the contexts of f instead of pdfReadTimeout, so that a test can end one
// when an event happens.
func SetPDFReadContext(w Worker, f func(context.Context) (context.Context, context.CancelFunc)) {
	w.(*PDFSigner).readContext = f
}
