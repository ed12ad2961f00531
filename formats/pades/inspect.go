package pades

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Signature is one signature field's signature, as found in a PDF.
type Signature struct {
	Field        string // the field's fully qualified name
	SubFilter    string
	Contents     []byte // the CMS, zero padding removed where it is DER
	ByteRange    [4]int64
	Time         time.Time // /M; zero if absent
	Name         string
	Reason       string
	Location     string
	Contact      string
	DocMDP       int // certification level, 0 for an approval signature
	WholeFile    bool
	Revision     int64  // end of the signed revision: ByteRange[2]+ByteRange[3]
	RangeProblem string // why the ByteRange is not a sound one; "" if it is
	raw          []byte
}

// SignedContent returns a reader over the signed bytes, or nil when the
// ByteRange does not lie inside the file.
func (s *Signature) SignedContent() io.Reader {
	if s.RangeProblem != "" {
		return nil
	}
	br := s.ByteRange
	return io.MultiReader(bytes.NewReader(s.raw[br[0]:br[0]+br[1]]), bytes.NewReader(s.raw[br[2]:br[2]+br[3]]))
}

// ValidationData is what a Document Security Store holds (ETSI EN 319
// 142-1, 5.4): DER certificates, CRLs and OCSP responses.
type ValidationData struct {
	Certs, CRLs, OCSPs [][]byte
}

// Empty reports whether v holds nothing.
func (v ValidationData) Empty() bool { return len(v.Certs)+len(v.CRLs)+len(v.OCSPs) == 0 }

// Inspection is what validation needs of a signed PDF.
type Inspection struct {
	Signatures []Signature
	DSS        *ValidationData // nil when the document has no /DSS
}

// Inspect reads the signatures and the DSS of doc.
func Inspect(ctx context.Context, doc []byte, lim Limits) (*Inspection, error) {
	d, err := open(ctx, doc, lim)
	if err != nil {
		return nil, callerError(err, true)
	}
	defer d.close()
	fields, _, err := d.signatureFields()
	if err != nil {
		return nil, err
	}
	in := &Inspection{}
	for _, f := range fields {
		in.Signatures = append(in.Signatures, d.signature(f))
	}
	if dss, err := d.dict(d.catalog()["DSS"]); err != nil {
		return nil, err
	} else if dss != nil {
		vd := &ValidationData{}
		for key, dst := range map[string]*[][]byte{"Certs": &vd.Certs, "CRLs": &vd.CRLs, "OCSPs": &vd.OCSPs} {
			a, err := d.array(dss[key])
			if err != nil {
				return nil, err
			}
			for _, o := range a {
				b, err := d.streamBytes(o)
				if err != nil {
					return nil, err
				}
				*dst = append(*dst, b)
			}
		}
		in.DSS = vd
	}
	return in, nil
}

// field is a signature field and its signature dictionary.
type field struct {
	name string
	v    types.Dict
}

// signatureFields walks the AcroForm's field tree (bounded in depth, each
// object visited once: one listed again, as some producers list a field
// twice in /Fields, is the same field, and is skipped; one that is its own
// ancestor is a loop, and refused) and returns the signed signature fields, and the
// fully qualified names of all fields: a new field must take none of them,
// since fields of one name are one field (ISO 32000-1, 12.7.3.2).
func (d *document) signatureFields() ([]field, map[string]bool, error) {
	names := map[string]bool{}
	form, err := d.dict(d.catalog()["AcroForm"])
	if err != nil || form == nil {
		return nil, names, err
	}
	top, err := d.array(form["Fields"])
	if err != nil {
		return nil, nil, err
	}
	var out []field
	seen, path := map[int]bool{}, map[int]bool{}
	var walk func(o types.Object, parent string, depth int) error
	walk = func(o types.Object, parent string, depth int) error {
		if depth > maxDepth {
			return invalid("the form field tree is deeper than %d levels", maxDepth)
		}
		if ref, ok := o.(types.IndirectRef); ok {
			n := ref.ObjectNumber.Value()
			if path[n] {
				return invalid("the form field tree has a loop (object %d is its own ancestor)", n)
			}
			if seen[n] {
				return nil
			}
			seen[n], path[n] = true, true
			defer delete(path, n)
		}
		f, err := d.dict(o)
		if err != nil || f == nil {
			return err
		}
		name := d.text(f, "T")
		if parent != "" && name != "" {
			name = parent + "." + name
		} else if name == "" {
			name = parent
		}
		if name != "" {
			names[name] = true
		}
		if ft := f.NameEntry("FT"); ft != nil && *ft == "Sig" {
			v, err := d.dict(f["V"])
			if err != nil {
				return err
			}
			if v != nil {
				out = append(out, field{name: name, v: v})
			}
		}
		kids, err := d.array(f["Kids"])
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := walk(k, name, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, o := range top {
		if err := walk(o, "", 0); err != nil {
			return nil, nil, err
		}
	}
	return out, names, nil
}

// freeFieldName returns "Signature<n>" for the first n after the signed
// fields whose name no field has.
func freeFieldName(sigs []field, taken map[string]bool) string {
	for n := len(sigs) + 1; ; n++ {
		if name := fmt.Sprintf("Signature%d", n); !taken[name] {
			return name
		}
	}
}

// docMDP returns the certification level of the document's certification
// signature, if it has one.
func (d *document) docMDP() (int, bool) {
	perms, err := d.dict(d.catalog()["Perms"])
	if err != nil || perms == nil {
		return 0, false
	}
	sig, err := d.dict(perms["DocMDP"])
	if err != nil || sig == nil {
		return 0, false
	}
	return d.referenceLevel(sig), true
}

// referenceLevel reads the DocMDP /P of a signature dictionary's
// /Reference; 2 (the default) when the transform names none, 0 without one.
func (d *document) referenceLevel(sig types.Dict) int {
	refs, err := d.array(sig["Reference"])
	if err != nil {
		return 0
	}
	for _, o := range refs {
		r, err := d.dict(o)
		if err != nil || r == nil {
			continue
		}
		if m := r.NameEntry("TransformMethod"); m == nil || *m != "DocMDP" {
			continue
		}
		// /P may be an indirect object like any other: read past it, or a
		// document locked with P=1 would read as the default 2.
		params, _ := d.dict(r["TransformParams"])
		if params != nil {
			if p, err := d.deref(params["P"]); err == nil {
				if n, ok := p.(types.Integer); ok {
					return n.Value()
				}
			}
		}
		return 2
	}
	return 0
}

// signature reads a signature dictionary and checks its ByteRange: two
// ranges inside the file, the first from 0, the gap exactly the /Contents
// hex string — so that nothing but the signature is left unsigned.
func (d *document) signature(f field) Signature {
	s := Signature{Field: f.name, raw: d.raw}
	if sf := f.v.NameEntry("SubFilter"); sf != nil {
		s.SubFilter = *sf
	}
	s.Contents, _ = d.rawBytes(f.v, "Contents")
	s.Contents = trimDER(s.Contents)
	s.Time = parsePDFDate(d.text(f.v, "M"))
	s.Name, s.Reason = d.text(f.v, "Name"), d.text(f.v, "Reason")
	s.Location, s.Contact = d.text(f.v, "Location"), d.text(f.v, "ContactInfo")
	s.DocMDP = d.referenceLevel(f.v)
	a, err := d.array(f.v["ByteRange"])
	if err != nil || len(a) != 4 {
		s.RangeProblem = "the signature has no ByteRange of four numbers"
		return s
	}
	for i, o := range a {
		n, ok := o.(types.Integer)
		if !ok || n < 0 {
			s.RangeProblem = "the ByteRange holds something other than offsets"
			return s
		}
		s.ByteRange[i] = int64(n)
	}
	br, size := s.ByteRange, int64(len(d.raw))
	switch {
	case br[0] != 0:
		s.RangeProblem = "the ByteRange does not start at the beginning of the file"
	// br[3] against what is left after br[2], not br[2]+br[3] against the
	// size: a hostile sum wraps past the largest int64 and passes.
	case br[1] >= br[2] || br[2] > size || br[3] > size-br[2]:
		s.RangeProblem = "the ByteRange lies outside the file"
	case d.raw[br[1]] != '<' || d.raw[br[2]-1] != '>':
		s.RangeProblem = "the gap of the ByteRange is not the signature's /Contents"
	default:
		gap := d.raw[br[1]+1 : br[2]-1]
		want := strings.ToUpper(hex.EncodeToString(s.Contents))
		if !bytes.HasPrefix(bytes.ToUpper(gap), []byte(want)) || len(bytes.Trim(gap[len(want):], "0")) > 0 {
			s.RangeProblem = "the gap of the ByteRange is not the signature's /Contents"
		}
	}
	s.Revision = br[2] + br[3]
	s.WholeFile = s.RangeProblem == "" && s.Revision == size
	return s
}

// trimDER cuts the zero padding after a DER SEQUENCE.
func trimDER(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x30 {
		return b
	}
	n, hdr := int(b[1]), 2
	if b[1]&0x80 != 0 {
		k := int(b[1] & 0x7f)
		if k == 0 || k > 4 || len(b) < 2+k {
			return b
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		hdr = 2 + k
	}
	if hdr+n <= len(b) {
		return b[:hdr+n]
	}
	return b
}

// AppendDSS adds validation data to doc's Document Security Store in a new
// incremental update (the usual way to reach PAdES-BASELINE-LT: the
// signature's revision stays as signed). Entries the DSS holds already are
// not added twice.
func AppendDSS(ctx context.Context, doc []byte, vd ValidationData, lim Limits) ([]byte, error) {
	d, err := open(ctx, doc, lim)
	if err != nil {
		return nil, callerError(err, false)
	}
	defer d.close()
	cat := d.catalog().Clone().(types.Dict)
	dssObj := cat["DSS"]
	dss, err := d.dict(dssObj)
	if err != nil {
		return nil, err
	}
	if dss == nil {
		dss = types.Dict{"Type": types.Name("DSS")}
	} else {
		dss = dss.Clone().(types.Dict)
	}
	u := newUpdate(d, 0)
	for _, e := range []struct {
		key  string
		data [][]byte
	}{{"Certs", vd.Certs}, {"CRLs", vd.CRLs}, {"OCSPs", vd.OCSPs}} {
		a, err := d.array(dss[e.key])
		if err != nil {
			return nil, err
		}
		a = a.Clone().(types.Array)
		have := map[[32]byte]bool{}
		for _, o := range a {
			if b, err := d.streamBytes(o); err == nil {
				have[sha256.Sum256(b)] = true
			}
		}
		for _, b := range e.data {
			sum := sha256.Sum256(b)
			if have[sum] {
				continue
			}
			have[sum] = true
			ref := u.alloc()
			u.putStream(ref, "", b)
			a = append(a, ref)
		}
		if len(a) > 0 {
			dss[e.key] = a
		}
	}
	if ref, ok := dssObj.(types.IndirectRef); ok {
		u.put(ref, dss.PDFString())
	} else {
		cat["DSS"] = dss
	}
	root := *d.ctx.XRefTable.Root
	root.GenerationNumber = types.Integer(d.generation(root.ObjectNumber.Value()))
	u.put(root, cat.PDFString())
	return u.finish(), nil
}
