package pades

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// SubFilter is the signature dictionary's /SubFilter of PAdES baseline
// signatures (ETSI EN 319 142-1, 5.2).
const SubFilter = "ETSI.CAdES.detached"

// Appearance is a visible signature: a rectangle on a page with text.
type Appearance struct {
	Page int        // 1-based; 0 or less: the last page
	Rect [4]float64 // lower-left x, y, upper-right x, y in default user space
	Text string     // lines separated by \n
}

// Options describe one signature.
type Options struct {
	// Time is the claimed signing time, written as /M (PAdES keeps it out
	// of the CMS).
	Time                            time.Time
	Name, Reason, Location, Contact string
	// CertificationLevel 0 makes an approval signature; 1, 2 or 3 a
	// certification signature whose DocMDP /P is that value (1: no
	// changes, 2: form filling and signing, 3: also annotations).
	CertificationLevel int
	// FieldName is the signature field's /T; default "Signature<n>".
	FieldName string
	// Appearance, when set, makes the signature visible.
	Appearance *Appearance
	// ContentsSize is the number of bytes reserved for the CMS.
	ContentsSize int
	Limits       Limits
}

// Prepared is a document with an incremental update holding an empty
// signature: hash its ByteRange, sign, and Finish with the CMS.
type Prepared struct {
	out        []byte
	byteRange  [4]int64
	contentsAt int // offset of the first hex digit of /Contents
	size       int // bytes reserved
}

const byteRangePlaceholder = "/ByteRange [0 0000000000 0000000000 0000000000]"

// Prepare parses doc and appends an incremental update with a signature
// field, its widget, a signature dictionary with /Contents reserved, and the
// catalog (and page) rewritten to reach them.
func Prepare(ctx context.Context, doc []byte, opts Options) (*Prepared, error) {
	if opts.ContentsSize <= 0 {
		return nil, fmt.Errorf("pades: ContentsSize must be positive")
	}
	d, err := open(ctx, doc, opts.Limits)
	if err != nil {
		return nil, callerError(err, false)
	}
	defer d.close()
	cat := d.catalog().Clone().(types.Dict)
	sigs, names, err := d.signatureFields()
	if err != nil {
		return nil, err
	}
	if lvl, ok := d.docMDP(); ok && lvl == 1 {
		return nil, invalid("the PDF is certified with no changes allowed (DocMDP P=1); it cannot be signed again")
	}
	if opts.CertificationLevel != 0 {
		if opts.CertificationLevel < 1 || opts.CertificationLevel > 3 {
			return nil, fmt.Errorf("pades: certification level %d is not 1, 2 or 3", opts.CertificationLevel)
		}
		if len(sigs) > 0 {
			return nil, invalid("the PDF is signed already; a certification signature must be the first one, so sign it as an approval signature")
		}
	}
	pageNr := 1
	var rect [4]float64
	if a := opts.Appearance; a != nil {
		pageNr, rect = a.Page, a.Rect
		if pageNr <= 0 {
			pageNr = d.ctx.PageCount
		}
		if rect[2] <= rect[0] || rect[3] <= rect[1] {
			return nil, invalid("the signature rectangle %v is empty; give lower-left x,y then upper-right x,y", rect)
		}
	}
	if pageNr > d.ctx.PageCount {
		return nil, invalid("the PDF has %d page(s); there is no page %d for the signature", d.ctx.PageCount, pageNr)
	}
	page, pageRef, _, err := d.ctx.PageDict(pageNr, false)
	if err != nil || page == nil || pageRef == nil {
		return nil, invalid("page %d of the PDF cannot be read", pageNr)
	}
	page = page.Clone().(types.Dict)

	u := newUpdate(d, opts.ContentsSize*2+8192)
	sigRef, fieldRef, apRef := u.alloc(), u.alloc(), u.alloc()

	// The appearance: a form XObject, empty for an invisible signature.
	w, h := rect[2]-rect[0], rect[3]-rect[1]
	var content string
	res := ""
	if opts.Appearance != nil {
		content = appearanceStream(w, h, opts.Appearance.Text)
		res = " /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >> >> >>"
	}
	u.putStream(apRef, fmt.Sprintf(" /Type /XObject /Subtype /Form /BBox [0 0 %s %s]%s", num(w), num(h), res), []byte(content))

	// The signature dictionary, /ByteRange and /Contents filled in later.
	var sd strings.Builder
	sd.WriteString("<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /" + SubFilter + " ")
	sd.WriteString(byteRangePlaceholder)
	sd.WriteString(" /Contents <")
	contentsRel := sd.Len()
	sd.WriteString(strings.Repeat("0", opts.ContentsSize*2))
	sd.WriteString(">")
	sd.WriteString(" /M " + pdfDate(opts.Time))
	for _, kv := range [][2]string{{"Name", opts.Name}, {"Reason", opts.Reason}, {"Location", opts.Location}, {"ContactInfo", opts.Contact}} {
		if kv[1] != "" {
			sd.WriteString(" /" + kv[0] + " " + pdfText(kv[1]))
		}
	}
	if opts.CertificationLevel != 0 {
		fmt.Fprintf(&sd, " /Reference [<< /Type /SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P %d /V /1.2 >> >>]", opts.CertificationLevel)
	}
	sd.WriteString(" /Prop_Build << /App << /Name /Signet >> >> >>")
	sigOff := u.out.Len() + len(fmt.Sprintf("%d 0 obj\n", sigRef.ObjectNumber.Value()))
	u.put(sigRef, sd.String())
	contentsAt := sigOff + contentsRel

	// The field and its widget, merged in one dictionary.
	name := opts.FieldName
	if name == "" {
		name = freeFieldName(sigs, names)
	} else if names[name] {
		return nil, invalid("the PDF has a field named %q already, the name this signer gives its signature field; a second field of that name would be the same field", name)
	}
	u.put(fieldRef, fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Sig /T %s /V %s /F 132 /Rect [%s %s %s %s] /P %s /AP << /N %s >> >>",
		pdfText(name), sigRef.PDFString(), num(rect[0]), num(rect[1]), num(rect[2]), num(rect[3]), pageRef.PDFString(), apRef.PDFString()))

	// The page lists the widget among its annotations.
	annots, err := d.array(page["Annots"])
	if err != nil {
		return nil, err
	}
	annots = append(annots.Clone().(types.Array), fieldRef)
	page["Annots"] = annots
	u.put(*pageRef, page.PDFString())

	// The AcroForm lists the field and says signatures exist, append only.
	formObj := cat["AcroForm"]
	form, err := d.dict(formObj)
	if err != nil {
		return nil, err
	}
	if form == nil {
		form = types.Dict{}
	} else {
		form = form.Clone().(types.Dict)
	}
	fields, err := d.array(form["Fields"])
	if err != nil {
		return nil, err
	}
	form["Fields"] = append(fields.Clone().(types.Array), fieldRef)
	form["SigFlags"] = types.Integer(3)
	if ref, ok := formObj.(types.IndirectRef); ok {
		u.put(ref, form.PDFString())
	} else {
		cat["AcroForm"] = form
	}
	if opts.CertificationLevel != 0 {
		perms, err := d.dict(cat["Perms"])
		if err != nil {
			return nil, err
		}
		if perms == nil {
			perms = types.Dict{}
		} else {
			perms = perms.Clone().(types.Dict)
		}
		perms["DocMDP"] = sigRef
		cat["Perms"] = perms
	}
	root := *d.ctx.XRefTable.Root
	root.GenerationNumber = types.Integer(d.generation(root.ObjectNumber.Value()))
	u.put(root, cat.PDFString())

	out := u.finish()
	p := &Prepared{out: out, contentsAt: contentsAt, size: opts.ContentsSize}
	lt := int64(contentsAt - 1)
	gt := int64(contentsAt + 2*opts.ContentsSize + 1)
	p.byteRange = [4]int64{0, lt, gt, int64(len(out)) - gt}
	br := fmt.Sprintf("/ByteRange [0 %d %d %d]", p.byteRange[1], p.byteRange[2], p.byteRange[3])
	br += strings.Repeat(" ", len(byteRangePlaceholder)-len(br))
	at := bytes.Index(out[sigOff:], []byte(byteRangePlaceholder))
	copy(out[sigOff+at:], br)
	return p, nil
}

// ByteRange returns the /ByteRange: the two signed ranges as offset, length.
func (p *Prepared) ByteRange() [4]int64 { return p.byteRange }

// WriteSigned writes the signed bytes (the document without /Contents).
func (p *Prepared) WriteSigned(w io.Writer) error {
	if _, err := w.Write(p.out[:p.byteRange[1]]); err != nil {
		return err
	}
	_, err := w.Write(p.out[p.byteRange[2]:])
	return err
}

// Digest hashes the signed bytes with h.
func (p *Prepared) Digest(h crypto.Hash) []byte {
	hh := h.New()
	_ = p.WriteSigned(hh)
	return hh.Sum(nil)
}

// Finish writes cms into /Contents and returns the signed document. The
// Prepared must not be used afterwards.
func (p *Prepared) Finish(cms []byte) ([]byte, error) {
	if len(cms) > p.size {
		return nil, fmt.Errorf("pades: the signature is %d bytes but only %d were reserved", len(cms), p.size)
	}
	hex.Encode(p.out[p.contentsAt:], cms)
	return p.out, nil
}

// appearanceStream draws a light frame and the text lines in Helvetica.
func appearanceStream(w, h float64, text string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "q 0.96 g 0 0 %s %s re f 0.4 G 0.5 w 0.25 0.25 %s %s re S Q\n", num(w), num(h), num(w-0.5), num(h-0.5))
	size := 9.0
	b.WriteString("BT /F1 " + num(size) + " Tf 0 g\n")
	y := h - size - 3
	for i, line := range strings.Split(text, "\n") {
		if y < 2 {
			break
		}
		if i == 0 {
			fmt.Fprintf(&b, "4 %s Td\n", num(y))
		} else {
			fmt.Fprintf(&b, "0 %s Td\n", num(-(size + 2)))
		}
		b.WriteString(winAnsi(line) + " Tj\n")
		y -= size + 2
	}
	b.WriteString("ET")
	return b.String()
}

// winAnsi encodes a line for a WinAnsiEncoding font: Latin-1 as is, other
// characters as '?'.
func winAnsi(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r >= 0xa0 && r <= 0xff:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte(')')
	return b.String()
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
