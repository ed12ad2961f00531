// Package pades signs PDF documents with PAdES baseline signatures (ETSI EN
// 319 142-1) and reads the signatures and the Document Security Store of a
// signed PDF for validation.
//
// The PDF structure is read with pdfcpu, which bounds what a hostile file
// may make it allocate and can be cancelled. The signature itself is
// written by this package as an incremental update: digitorus/pdfsign and
// pdfcpu both build the CMS with their own PKCS#7 code and write SubFilter
// adbe.pkcs7.detached, and neither can reserve /Contents, hand out the
// digest of the ByteRange and take back a CMS made elsewhere — which is
// what PAdES with Signet's own CAdES encoder (formats/cms) needs. The
// incremental update leaves every earlier byte as it was, so earlier
// signatures stay valid.
package pades

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// ErrInvalidPDF is wrapped by the errors about a document that is not a PDF
// this package can sign or read: truncated, damaged, encrypted, too large
// in its structure. Its message says what is wrong; callers answer 4xx.
var ErrInvalidPDF = errors.New("pades: invalid PDF")

// Limits bound what reading one document may cost.
type Limits struct {
	// MaxObjects is the largest number of objects a document may declare
	// (its cross-reference /Size) or have; more is a TooManyObjectsError.
	// Zero means pdfcpu's own bound (10,000,000): Signet's default is
	// declared once, in config's schema (MAX_PDF_OBJECTS), which every
	// reader of a client's or a user's PDF passes.
	MaxObjects int
	// MaxDecodeBytes bounds the decoded size of any one stream (object
	// streams, xref streams, DSS entries); zero means 64 MiB.
	MaxDecodeBytes int64
	// Reserve, when set, is called before the document is parsed with the
	// memory its parsing is estimated to take (Cost), and may wait for it
	// (until ctx is done) or refuse it: what a server uses to bound the
	// memory of all the PDFs it parses at once. Its release is called
	// once the parsed document is dropped, when Prepare, Inspect or
	// AppendDSS returns. Its error is returned as it is.
	Reserve func(ctx context.Context, bytes int64) (release func(), err error)
}

const (
	defaultMaxDecodeBytes = 64 << 20
	maxDepth              = 64 // object graph traversal (form field kids, page tree)
)

// BytesPerObject is what pdfcpu's parse of a PDF keeps on the heap for
// each object, rounded up: TestParseCostPerObject measures 1.5 KB live per
// top-level object (a small dictionary, "4 0 obj <</N 4>> endobj", behind
// a classic cross-reference table) and 0.3 KB per object packed in an
// object stream, and allocates about 9 KB per top-level object on the way
// (garbage the collector takes back between collections, hence the
// margin). The reading cannot tell cheaply which kind a file holds, so
// the estimate takes the dearer one.
const BytesPerObject = 2048

// Cost is the memory the parsing of a document of size bytes declaring
// objects objects is estimated to take: BytesPerObject for each object,
// and the bytes once more, for pdfcpu's copies of the streams.
// It saturates at math.MaxInt64 rather than wrap, for a MaxObjects set
// absurdly high.
func Cost(objects, size int) int64 {
	if int64(objects) > (math.MaxInt64-int64(size))/BytesPerObject {
		return math.MaxInt64
	}
	return int64(objects)*BytesPerObject + int64(size)
}

// TooManyObjectsError is the refusal of a document with more objects than
// Limits.MaxObjects. It wraps ErrInvalidPDF; its message names no setting
// (this package knows none), so that the caller's sentence names its own.
type TooManyObjectsError struct {
	Objects, Limit int
}

func (e *TooManyObjectsError) Error() string {
	return fmt.Sprintf("%v: the PDF has %d objects, more than the limit of %d", ErrInvalidPDF, e.Objects, e.Limit)
}

func (e *TooManyObjectsError) Unwrap() error { return ErrInvalidPDF }

// errEncrypted is open's refusal of an encrypted document, whether it opens
// without a password or not: the client cannot give one, and an update
// would have to encrypt its strings. What to do about it depends on the
// caller: a document to sign can be decrypted first, but a signed one
// cannot, since that rewrites it and breaks its signatures (see
// callerError).
var errEncrypted = errors.New("the PDF is encrypted")

// callerError gives open's error, when it is errEncrypted or a
// *damagedError, the sentence of the caller: signing (Prepare, AppendDSS)
// or validating (Inspect). A document to sign can be decrypted or
// rewritten first; a signed one cannot, since either rewrites it and
// breaks its signatures.
func callerError(err error, validating bool) error {
	var de *damagedError
	switch {
	case errors.As(err, &de) && validating:
		return invalid("%s; rewriting it would break its signatures: check them with a PDF reader such as poppler's pdfsig", de.what)
	case errors.As(err, &de):
		return invalid("%s; %s", de.what, de.fix)
	case !errors.Is(err, errEncrypted):
		return err
	case validating:
		return invalid("the PDF is encrypted, which Signet does not validate, and removing the encryption would rewrite it and break its signatures: validate it with a PDF reader such as poppler's pdfsig")
	}
	return invalid("the PDF is encrypted; remove the encryption before signing it (for example with qpdf --decrypt)")
}

// damagedError is open's refusal of a file it cannot read as it is. What
// to do depends on the caller (callerError): a document to sign can be
// rewritten first (fix), a signed one cannot.
type damagedError struct {
	what string // what is wrong: "the PDF's cross-reference sections overlap; it is damaged"
	fix  string // what to do before signing it: "rewrite it first (…)"
}

// Error is the signing sentence, as callerError gives it.
func (e *damagedError) Error() string {
	return fmt.Sprintf("%v: %s; %s", ErrInvalidPDF, e.what, e.fix)
}

func (e *damagedError) Unwrap() error { return ErrInvalidPDF }

// rewriteFirst is a damaged file's fix before signing.
const rewriteFirst = "rewrite it first (for example qpdf in.pdf out.pdf)"

// readerOrRewrite is the fix before signing of a file the parser could not
// read: it may be no PDF at all.
const readerOrRewrite = "check that it opens in a PDF reader, or rewrite it (for example qpdf in.pdf out.pdf)"

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPDF, fmt.Sprintf(format, args...))
}

// document is a parsed PDF and the facts an incremental update needs.
type document struct {
	raw       []byte
	ctx       *model.Context
	startxref int64 // offset of the last cross-reference section (/Prev)
	xrefStm   bool  // the last section is a cross-reference stream
	maxDecode int64
	release   func() // gives back the reservation of Limits.Reserve
}

// close gives back the memory reserved for d's parsing.
func (d *document) close() {
	if d.release != nil {
		d.release()
	}
}

// open parses raw. It refuses encrypted documents (an update would have to
// encrypt its strings) and turns every failure of the parser, including a
// panic on garbage, into an ErrInvalidPDF error.
func open(ctx context.Context, raw []byte, lim Limits) (d *document, err error) {
	if !bytes.HasPrefix(bytes.TrimLeft(raw[:min(len(raw), 1024)], "\x00\t\r\n "), []byte("%PDF-")) {
		return nil, invalid("the document does not start with %%PDF-; send a PDF file")
	}
	start, err := lastStartXref(raw)
	if err != nil {
		return nil, err
	}
	// A startxref that points to no cross-reference section (a table, or
	// an object whose dictionary says /Type /XRef) is refused
	// before pdfcpu reads the file: pdfcpu would repair it for reading,
	// but an update's /Prev would point other readers at the damage; and
	// its repair reads every object header in a time quadratic in the
	// file's size that does not heed ctx, holding the memory reservation
	// (TestObjectLimitAndReservation).
	at := bytes.TrimLeft(raw[start:], "\x00\t\r\n\f ")
	xrefStm := isXRefStream(raw, start)
	if !xrefStm && !bytes.HasPrefix(at, []byte("xref")) {
		return nil, &damagedError{"the startxref offset does not point to a cross-reference section; the PDF is damaged", rewriteFirst}
	}
	if lim.MaxObjects <= 0 {
		lim.MaxObjects = model.DefaultResourceLimits().MaxObjectCount
	}
	objects, err := estimateObjects(raw, start, lim.MaxObjects)
	if err != nil {
		return nil, err
	}
	release := func() {}
	if lim.Reserve != nil {
		if release, err = lim.Reserve(ctx, Cost(objects, len(raw))); err != nil {
			return nil, err
		}
	}
	defer func() {
		if d == nil {
			release()
		}
	}()
	if lim.MaxDecodeBytes <= 0 {
		lim.MaxDecodeBytes = defaultMaxDecodeBytes
	}
	conf := &model.Configuration{
		Reader15:                  true,
		ValidationMode:            model.ValidationRelaxed,
		UnsupportedResourcePolicy: model.UnsupportedResourceSkip,
		Eol:                       types.EolLF,
		Offline:                   true,
		Limits: model.ResourceLimits{
			MaxStreamBytes:       int64(len(raw)),
			MaxDecodeBytes:       lim.MaxDecodeBytes,
			MaxImagePixels:       1,
			MaxImageBytes:        1,
			MaxObjectCount:       lim.MaxObjects,
			MaxObjectStreamCount: lim.MaxObjects,
			MaxObjectStreamFirst: 1 << 20,
			MaxXRefEntries:       lim.MaxObjects,
			MaxRecursionDepth:    maxDepth,
		},
	}
	defer func() {
		// The panic's value is Go's words (a nil pointer, an index), not
		// the client's: it stays out of the sentence.
		if recover() != nil {
			d, err = nil, errDamaged
		}
	}()
	rs := &noRepair{Reader: bytes.NewReader(raw)}
	c, err := pdfcpu.ReadWithContext(ctx, rs, conf)
	switch {
	case ctx.Err() != nil && err != nil:
		return nil, fmt.Errorf("%w: reading the PDF took too long: %w", ErrInvalidPDF, ctx.Err())
	case rs.refused:
		return nil, errDamaged
	}
	if err != nil {
		if errors.Is(err, pdfcpu.ErrWrongPassword) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, errEncrypted)
		}
		return nil, &damagedError{"the PDF cannot be read (" + parserDetail(err) + ")", readerOrRewrite}
	}
	// pdfcpu's own bound (MaxObjectCount, a cross-reference stream's
	// /Size) only sends it to a repair, which reads every object of the
	// file; nor does it bound a classic table's entries: the count is held
	// here, for what estimateObjects could not see.
	if n := max(len(c.XRefTable.Table)-1, *c.XRefTable.Size-1); n > lim.MaxObjects {
		return nil, &TooManyObjectsError{Objects: n, Limit: lim.MaxObjects}
	}
	if c.XRefTable.Encrypt != nil || c.XRefTable.E != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, errEncrypted)
	}
	if c.XRefTable.Root == nil {
		return nil, invalid("the PDF has no document catalog (/Root)")
	}
	if _, err := c.Catalog(); err != nil {
		return nil, invalid("the PDF's document catalog cannot be read (%s)", parserDetail(err))
	}
	if err := c.EnsurePageCount(); err != nil || c.PageCount < 1 {
		return nil, invalid("the PDF's page tree cannot be read")
	}
	return &document{raw: raw, ctx: c, startxref: start, xrefStm: xrefStm, maxDecode: lim.MaxDecodeBytes, release: release}, nil
}

// maxSections bounds the cross-reference sections estimateObjects follows
// (an incremental update adds one).
const maxSections = 256

// estimateObjects returns how many objects parsing raw, whose last
// cross-reference section is at start, is charged for, before pdfcpu
// allocates anything, or a TooManyObjectsError when the file says it has
// more than limit. It costs a pass over the file and one over its
// cross-reference tables. The cheapest honest estimate is the largest of
//
//   - the /Size of the last section, which a writer sets to one more than
//     the highest object number (ISO 32000-1, 7.5.5 and 7.5.8.2), and of
//     each cross-reference stream along /Prev (pdfcpu's objects of a
//     stream are numbered below its /Size);
//   - the entries of the classic tables along /Prev, counted as pdfcpu
//     reads them, a line of three fields each, whatever /Size and the
//     subsection headers claim (pdfcpu reads on past them);
//   - the "N G obj" headers in the file, which is what pdfcpu reads when it
//     repairs a damaged cross-reference.
//
// A file whose /Size (of its last section, or of any cross-reference
// stream) or whose tables' entries exceed limit is refused here. The entries are counted once for each object number, as pdfcpu
// keeps only the newest entry of an object: an incremental update that
// rewrites objects adds none. The header count only weighs the charge,
// capped at limit: it counts every revision of an object an incremental
// update rewrote, and so it is not what the file has. A file that pdfcpu
// repairs may thus hold more objects than it is charged for; its real
// count is held to limit after parsing.
func estimateObjects(raw []byte, start int64, limit int) (int, error) {
	declared := declaredSize(raw, start) - 1 // object 0 is the free list's head
	if declared > limit {
		return 0, &TooManyObjectsError{Objects: declared, Limit: limit}
	}
	entries, streamSize, err := xrefChain(raw, start, declared, limit)
	if err != nil {
		return 0, err
	}
	// An older cross-reference stream's /Size over limit is refused too:
	// pdfcpu's MaxObjectCount refuses it by repairing the file, which
	// reads every object header in a time quadratic in the file's size.
	if n := max(entries, streamSize-1); n > limit {
		return 0, &TooManyObjectsError{Objects: n, Limit: limit}
	}
	return min(max(declared, entries, streamSize-1, objectHeaders(raw)), limit), nil
}

// sectionEntry is an integer entry of a trailer or cross-reference stream
// dictionary.
var sectionEntry = map[string]*regexp.Regexp{}

func init() {
	for _, key := range []string{"Size", "Prev", "XRefStm"} {
		sectionEntry[key] = regexp.MustCompile(`/` + key + `[\x00\t\n\f\r ]*([0-9]{1,12})[^0-9]`)
	}
}

// intEntry returns the integer of /key in dict, -1 when there is none.
func intEntry(dict []byte, key string) int {
	m := sectionEntry[key].FindSubmatch(dict)
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		return -1
	}
	return n
}

// sectionDict returns the dictionary of the cross-reference section at
// start: the trailer after a classic table (the bytes from the trailer
// keyword to startxref), or a cross-reference stream's (to its stream
// keyword), at most 4 KiB of it; and, for a classic table, the bytes of
// its entries. ok is false when there is no section there, or a table
// without a trailer. scanned is how many bytes of raw finding the
// trailer read: a table's, or the rest of the file when it has none.
func sectionDict(raw []byte, start int64) (dict, table []byte, scanned int, ok bool) {
	if start < 0 || start >= int64(len(raw)) {
		return nil, nil, 0, false
	}
	at := bytes.TrimLeft(raw[start:], "\x00\t\r\n\f ")
	end := "stream"
	if bytes.HasPrefix(at, []byte("xref")) {
		i := bytes.Index(at, []byte("trailer"))
		if i < 0 {
			return nil, nil, len(at), false // damaged: what pdfcpu's repair reads is counted by objectHeaders
		}
		table, at, end, scanned = at[:i], at[i:], "startxref", i
	} else if !isObjectHeader(at) {
		return nil, nil, 0, false
	}
	at = at[:min(len(at), 4096)]
	if i := bytes.Index(at, []byte(end)); i >= 0 {
		at = at[:i+1]
	}
	return at, table, scanned, true
}

// declaredSize returns the /Size of the section at start, 0 when it has
// none.
func declaredSize(raw []byte, start int64) int {
	dict, _, _, _ := sectionDict(raw, start)
	return max(intEntry(dict, "Size"), 0)
}

// errDamaged refuses a file that pdfcpu cannot read as it is: its parser
// panicked, or it would have had to repair the file (noRepair).
var errDamaged = &damagedError{"the PDF structure is damaged and cannot be read", readerOrRewrite}

// errRepairRefused is noRepair's answer to pdfcpu's repair.
var errRepairRefused = errors.New("pades: pdfcpu's repair of a damaged cross-reference is not run")

// noRepair is the file as pdfcpu reads it, refusing pdfcpu's repair of a
// damaged file. pdfcpu (v0.15.0, read.go) repairs, by bypassXrefSection,
// what it cannot read through the cross-reference: an object offset where
// no object number comes before "obj", a cross-reference stream (the last
// section, a /Prev's or a trailer's /XRefStm) that cannot be decoded or
// whose /Index exceeds its /Size, a stream's /DecodeParms or /Filter that
// refers to no object. That repair reads the whole file again from its
// start, in a time quadratic in the number of objects that does not heed
// the context, and registers every object it finds, listed or not, so
// that neither MAX_PDF_OBJECTS nor the reservation bound it: 100,000
// one-line objects (2 MB) behind a table that lists 4 took 53 s against a
// 20 s deadline and allocated 94 GB, holding an 80 MB reservation
// (TestRepairRefused). Its parse otherwise reads from the file's start
// once, for the header (scanForVersion), and no object starts there: the
// second seek to the start is the repair, and is refused, which ends the
// parse with an error at once. open answers errDamaged: an update's /Prev
// would point other readers at the damage anyway.
type noRepair struct {
	*bytes.Reader
	header  bool // the start was read once, for the header
	refused bool // the repair began and was refused
}

func (r *noRepair) Seek(offset int64, whence int) (int64, error) {
	if offset == 0 && whence == io.SeekStart {
		if r.header {
			r.refused = true
			return 0, errRepairRefused
		}
		r.header = true
	}
	return r.Reader.Seek(offset, whence)
}

// errOverlap refuses a file whose cross-reference sections share bytes,
// which those of a file, each written after the last, never do: a hostile
// file could point its /Prev and /XRefStm at many offsets inside one large
// table and have the scan read it as many times.
var errOverlap = &damagedError{"the PDF's cross-reference sections overlap; it is damaged", rewriteFirst}

// errNoSection refuses a file whose /Prev or /XRefStm points to no
// cross-reference section, as open does its startxref: pdfcpu would repair
// it for reading, in a time quadratic in the file's size that does not heed
// the context, and an update's /Prev would point other readers at the
// damage.
var errNoSection = &damagedError{"a cross-reference section's /Prev or /XRefStm does not point to a cross-reference section; the PDF is damaged", rewriteFirst}

// xrefChain follows the cross-reference sections from start along /Prev
// (and a hybrid file's /XRefStm), and returns the entries of their classic
// tables, each object number counted once (tableEntries), and the largest
// /Size of their cross-reference streams. It stops once the entries exceed
// limit, and refuses with errOverlap sections that would have it read
// more bytes of tables than the file has, with errNoSection a /Prev or
// /XRefStm to anything else than a section (open has checked start). declared is the last section's
// /Size less one: a file's object numbers are below it.
func xrefChain(raw []byte, start int64, declared, limit int) (entries, streamSize int, err error) {
	// A bit for each object number up to the last /Size, within the
	// file's size in bytes: entries of higher numbers, which a file of
	// that /Size should not have, are counted each time.
	seenObj := make([]uint64, (min(max(declared, 0)+1, 8*len(raw)+64)+63)/64)
	seen := map[int64]bool{}
	todo := []int64{start}
	scanned := 0
	for len(todo) > 0 && len(seen) < maxSections && entries <= limit {
		off := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[off] {
			continue
		}
		seen[off] = true
		dict, table, n, ok := sectionDict(raw, off)
		if scanned += n; scanned > len(raw) {
			return 0, 0, errOverlap
		}
		if !ok || table == nil && !xrefType.Match(dict) {
			return 0, 0, errNoSection
		}
		if table != nil {
			entries += tableEntries(table, seenObj)
		} else {
			streamSize = max(streamSize, intEntry(dict, "Size"))
		}
		for _, key := range []string{"Prev", "XRefStm"} {
			if n := intEntry(dict, key); n >= 0 {
				todo = append(todo, int64(n))
			}
		}
	}
	return entries, streamSize, nil
}

// tableEntries counts the lines of three fields in a classic table, as
// pdfcpu reads them (a line break is CR, LF or both; fields are separated
// by white space), free ones ("f") too: pdfcpu keeps an entry for each,
// about 180 bytes, and a 16 MB table of free lines held 144 MB charged as
// three objects when they were not counted. As
// pdfcpu does, it numbers them from their subsection's header ("start
// count", a line of two fields) and reads on past its count; an object
// number whose bit in seen is set, an entry of a newer section already
// read, is not counted again, nor is object 0, the free list's head, as
// /Size-1 does not count it. Numbers without a bit in seen are counted
// each time.
func tableEntries(table []byte, seen []uint64) int {
	n, nr := 0, -1
	for len(table) > 0 {
		i := bytes.IndexAny(table, "\r\n")
		line := table
		if i >= 0 {
			line, table = table[:i], table[i+1:]
		} else {
			table = nil
		}
		fields, in := 0, false
		var first []byte // the first field, a header's start
		for j, c := range line {
			space := c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == 0
			if !space && !in {
				fields++
				if fields == 1 {
					first = line[j:]
				}
			}
			if space && in && fields == 1 {
				first = first[:len(first)-(len(line)-j)]
			}
			in = !space
		}
		switch fields {
		case 2:
			nr = -1
			// At most 18 digits are converted: a hostile line may be
			// megabytes of them.
			if start, err := strconv.Atoi(string(first[:min(len(first), 19)])); err == nil && start >= 0 && len(first) <= 18 {
				nr = start
			}
		case 3:
			counted := false
			if nr >= 0 && nr/64 < len(seen) {
				bit := uint64(1) << (nr % 64)
				counted = seen[nr/64]&bit != 0
				seen[nr/64] |= bit
			}
			if !counted && nr != 0 {
				n++
			}
			if nr >= 0 {
				nr++
			}
		}
	}
	return n
}

// objectHeaders counts the "obj" keywords of raw that are not "endobj":
// the indirect objects' headers, and stray ones in stream data or text.
// It is one pass over the file, not bytes.Count of each keyword, which
// every PDF paid before it was parsed: 0.15 → 0.07 ms per MiB of
// compressed stream data (BenchmarkEstimateObjects), 0.18 → 0.02 of text.
func objectHeaders(raw []byte) int {
	n := 0
	for at := 0; ; at += 3 {
		i := bytes.Index(raw[at:], []byte("obj"))
		if i < 0 {
			return n
		}
		at += i
		if at < 3 || string(raw[at-3:at]) != "end" {
			n++
		}
	}
}

// xrefType is the /Type of a cross-reference stream's dictionary.
var xrefType = regexp.MustCompile(`/Type[\x00\t\n\f\r ]*/XRef[^A-Za-z0-9]`)

// isXRefStream reports whether the section at start is an indirect object
// whose dictionary is a cross-reference stream's (ISO 32000-1, 7.5.8.2:
// its /Type is required), not any object a startxref may point to.
func isXRefStream(raw []byte, start int64) bool {
	dict, table, _, ok := sectionDict(raw, start)
	return ok && table == nil && xrefType.Match(dict)
}

// isObjectHeader reports whether b starts an indirect object, "12 0 obj".
func isObjectHeader(b []byte) bool {
	f := bytes.Fields(b[:min(len(b), 64)])
	if len(f) < 3 || !bytes.HasPrefix(f[2], []byte("obj")) {
		return false
	}
	_, err1 := strconv.ParseUint(string(f[0]), 10, 32)
	_, err2 := strconv.ParseUint(string(f[1]), 10, 16)
	return err1 == nil && err2 == nil
}

// lastStartXref finds the offset after the last "startxref" keyword.
func lastStartXref(raw []byte) (int64, error) {
	tail := raw[max(0, len(raw)-tailSize):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		if rest, ok := afterEOF(raw); ok && !bytes.Contains(rest, []byte("obj")) {
			return 0, invalid("the PDF has %d bytes of other data after its %%%%EOF, too many for a PDF reader to find its end; remove them (cut the file after its last %%%%EOF)", len(rest))
		}
		return 0, invalid("the PDF has no startxref at its end; it is truncated")
	}
	f := bytes.Fields(tail[i+len("startxref"):])
	if len(f) == 0 {
		return 0, invalid("the PDF's startxref has no offset; it is truncated")
	}
	n, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || n < 0 || n >= int64(len(raw)) {
		return 0, invalid("the PDF's startxref offset is outside the file; it is damaged")
	}
	if !hasEOF(tail[i+len("startxref")+1:]) {
		return 0, invalid("the PDF has no %%%%EOF after its startxref; it is truncated")
	}
	return n, nil
}

// tailSize is how far from the end of a file lastStartXref looks for its
// startxref: more than the 1024 bytes in which Acrobat and qpdf look for
// %%EOF.
const tailSize = 2048

// afterEOF returns the bytes after the last %%EOF of raw that has a
// startxref before it, less the end of that line. They are data appended
// to a whole PDF (by a mail gateway, a download padded with zeros) when
// they hold no object; when they do, an incremental update cut short, and
// raw is truncated. ok is false when raw has no such %%EOF.
func afterEOF(raw []byte) (rest []byte, ok bool) {
	eof := bytes.LastIndex(raw, []byte("%%EOF"))
	if eof < 0 || !bytes.Contains(raw[max(0, eof-64):eof], []byte("startxref")) {
		return nil, false
	}
	rest = raw[eof+len("%%EOF"):]
	for _, eol := range []string{"\r\n", "\n", "\r"} {
		if bytes.HasPrefix(rest, []byte(eol)) {
			return rest[len(eol):], true
		}
	}
	return rest, true
}

// hasEOF reports whether the bytes after a startxref keyword and the
// character after it hold the %%EOF marker, or end with a part of it: pdfcpu
// takes the startxref's offset only then, and otherwise repairs the file
// (noRepair), reading it in a time quadratic in its objects.
func hasEOF(rest []byte) bool {
	if bytes.Contains(rest, []byte("%%EOF")) {
		return true
	}
	for _, part := range []string{"%%EO", "%%E", "%%", "%"} {
		if bytes.HasSuffix(rest, []byte(part)) {
			return true
		}
	}
	return false
}

// maxDetail bounds the words of pdfcpu's error a client's sentence keeps.
const maxDetail = 160

// parserDetail is what of pdfcpu's error goes into a client's sentence:
// where its parse stopped and why ("xref table: missing trailer Size"),
// but not Go's words (a strconv error's "strconv.ParseInt: parsing") nor
// the file's bytes it quotes (", line = <…>"), which are the client's
// own, often not text, and made the answer's sentence invalid UTF-8. It is
// printable ASCII, at most maxDetail bytes.
func parserDetail(err error) string {
	s := err.Error()
	for _, cut := range []string{"strconv.", ", line =", " line = "} {
		if i := strings.Index(s, cut); i >= 0 {
			s = s[:i]
		}
	}
	b := []byte(strings.TrimRight(strings.TrimSpace(s), ":,; "))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > maxDetail {
		b = append(b[:maxDetail-3], "..."...)
	}
	if len(b) == 0 {
		return "its structure is damaged"
	}
	return string(b)
}

// deref resolves o (an indirect reference or a direct object).
func (d *document) deref(o types.Object) (types.Object, error) {
	o, err := d.ctx.Dereference(o)
	if err != nil {
		return nil, invalid("an object cannot be read (%s)", parserDetail(err))
	}
	return o, nil
}

// dict resolves o to a dictionary; nil when o is absent or null.
func (d *document) dict(o types.Object) (types.Dict, error) {
	if o == nil {
		return nil, nil
	}
	o, err := d.deref(o)
	if err != nil || o == nil {
		return nil, err
	}
	switch v := o.(type) {
	case types.Dict:
		return v, nil
	case types.StreamDict:
		return v.Dict, nil
	}
	return nil, invalid("a dictionary was expected but the PDF has %s", kindOf(o))
}

// array resolves o to an array; nil when o is absent or null.
func (d *document) array(o types.Object) (types.Array, error) {
	if o == nil {
		return nil, nil
	}
	o, err := d.deref(o)
	if err != nil || o == nil {
		return nil, err
	}
	a, ok := o.(types.Array)
	if !ok {
		return nil, invalid("an array was expected but the PDF has %s", kindOf(o))
	}
	return a, nil
}

// streamBytes resolves o to a stream and decodes it, within the limits.
func (d *document) streamBytes(o types.Object) ([]byte, error) {
	o, err := d.deref(o)
	if err != nil {
		return nil, err
	}
	sd, ok := o.(types.StreamDict)
	if !ok {
		return nil, invalid("a stream was expected but the PDF has %s", kindOf(o))
	}
	if err := sd.DecodeWithLimit(d.maxDecode); err != nil {
		return nil, invalid("a stream cannot be decoded (%s)", parserDetail(err))
	}
	return sd.Content, nil
}

// catalog returns the document catalog.
func (d *document) catalog() types.Dict {
	c, _ := d.ctx.Catalog()
	return c
}

// nextObject is the first object number an update may allocate.
func (d *document) nextObject() int {
	n := *d.ctx.XRefTable.Size
	return n
}

// generation returns the generation number of object nr.
func (d *document) generation(nr int) int {
	if e, ok := d.ctx.XRefTable.Table[nr]; ok && e.Generation != nil {
		return *e.Generation
	}
	return 0
}

// text returns a string entry (literal or hex, PDFDocEncoding or UTF-16).
func (d *document) text(dict types.Dict, key string) string {
	o, ok := dict.Find(key)
	if !ok {
		return ""
	}
	o, err := d.deref(o)
	if err != nil {
		return ""
	}
	switch v := o.(type) {
	case types.StringLiteral:
		s, err := types.StringLiteralToString(v)
		if err == nil {
			return s
		}
	case types.HexLiteral:
		s, err := types.HexLiteralToString(v)
		if err == nil {
			return s
		}
	case types.Name:
		return v.Value()
	}
	return ""
}

// rawBytes returns the bytes of a string entry (such as /Contents).
func (d *document) rawBytes(dict types.Dict, key string) ([]byte, bool) {
	o, ok := dict.Find(key)
	if !ok {
		return nil, false
	}
	o, err := d.deref(o)
	if err != nil {
		return nil, false
	}
	switch v := o.(type) {
	case types.HexLiteral:
		b, err := v.Bytes()
		return b, err == nil
	case types.StringLiteral:
		b, err := types.Unescape(v.Value())
		return b, err == nil
	}
	return nil, false
}

// kindOf names the kind of a PDF object in the words of ISO 32000-1 (7.3),
// for a sentence to a client: not pdfcpu's Go type.
func kindOf(o types.Object) string {
	switch o.(type) {
	case types.Dict:
		return "a dictionary"
	case types.StreamDict:
		return "a stream"
	case types.Array:
		return "an array"
	case types.Name:
		return "a name"
	case types.StringLiteral, types.HexLiteral:
		return "a string"
	case types.Integer, types.Float:
		return "a number"
	case types.Boolean:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an object of another kind"
}
