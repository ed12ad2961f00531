package pades

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// update is an incremental update (ISO 32000-1, 7.5.6) being written after
// the bytes of a document: new and replaced objects, then a cross-reference
// section whose /Prev is the document's last one, so that every earlier byte
// stays as it is.
type update struct {
	d       *document
	out     bytes.Buffer
	offsets map[int]int64 // object number → offset of "N G obj"
	gens    map[int]int
	next    int
}

func newUpdate(d *document, extra int) *update {
	u := &update{d: d, offsets: map[int]int64{}, gens: map[int]int{}, next: d.nextObject()}
	u.out.Grow(len(d.raw) + extra + 4096)
	u.out.Write(d.raw)
	if !bytes.HasSuffix(d.raw, []byte("\n")) {
		u.out.WriteByte('\n')
	}
	return u
}

// alloc reserves a new object number.
func (u *update) alloc() types.IndirectRef {
	n := u.next
	u.next++
	return *types.NewIndirectRef(n, 0)
}

// put writes object ref with body (a serialised PDF object).
func (u *update) put(ref types.IndirectRef, body string) {
	n, g := ref.ObjectNumber.Value(), ref.GenerationNumber.Value()
	u.offsets[n] = int64(u.out.Len())
	u.gens[n] = g
	fmt.Fprintf(&u.out, "%d %d obj\n%s\nendobj\n", n, g, body)
}

// putStream writes a stream object holding data, uncompressed.
func (u *update) putStream(ref types.IndirectRef, dict string, data []byte) {
	n, g := ref.ObjectNumber.Value(), ref.GenerationNumber.Value()
	u.offsets[n] = int64(u.out.Len())
	u.gens[n] = g
	fmt.Fprintf(&u.out, "%d %d obj\n<<%s /Length %d>>\nstream\n", n, g, dict, len(data))
	u.out.Write(data)
	u.out.WriteString("\nendstream\nendobj\n")
}

// finish writes the cross-reference section and the trailer: a stream when
// the document's last section is one (a reader of xref-stream files need not
// accept a table after it), else a table.
func (u *update) finish() []byte {
	xt := u.d.ctx.XRefTable
	var trailer strings.Builder
	trailer.WriteString(" /Root " + xt.Root.PDFString())
	if xt.Info != nil {
		trailer.WriteString(" /Info " + xt.Info.PDFString())
	}
	if len(xt.ID) == 2 {
		trailer.WriteString(" /ID " + xt.ID.PDFString())
	}
	trailer.WriteString(" /Prev " + strconv.FormatInt(u.d.startxref, 10))

	if u.d.xrefStm {
		self := u.alloc()
		start := int64(u.out.Len())
		u.offsets[self.ObjectNumber.Value()] = start
		nums := u.numbers()
		var data []byte
		for _, n := range nums {
			data = append(data, 1)
			data = binary.BigEndian.AppendUint32(data, uint32(u.offsets[n]))
			data = binary.BigEndian.AppendUint16(data, uint16(u.gens[n]))
		}
		dict := fmt.Sprintf(" /Type /XRef /Size %d /W [1 4 2] /Index [%s]%s", u.next, subsections(nums), trailer.String())
		u.putStream(self, dict, data)
		fmt.Fprintf(&u.out, "startxref\n%d\n%%%%EOF\n", start)
		return u.out.Bytes()
	}
	start := u.out.Len()
	u.out.WriteString("xref\n")
	nums := u.numbers()
	for i := 0; i < len(nums); {
		j := i + 1
		for j < len(nums) && nums[j] == nums[j-1]+1 {
			j++
		}
		fmt.Fprintf(&u.out, "%d %d\n", nums[i], j-i)
		for _, n := range nums[i:j] {
			fmt.Fprintf(&u.out, "%010d %05d n\r\n", u.offsets[n], u.gens[n])
		}
		i = j
	}
	fmt.Fprintf(&u.out, "trailer\n<< /Size %d%s >>\nstartxref\n%d\n%%%%EOF\n", u.next, trailer.String(), start)
	return u.out.Bytes()
}

func (u *update) numbers() []int {
	nums := make([]int, 0, len(u.offsets))
	for n := range u.offsets {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums
}

// subsections writes the /Index pairs of sorted object numbers.
func subsections(nums []int) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i + 1
		for j < len(nums) && nums[j] == nums[j-1]+1 {
			j++
		}
		fmt.Fprintf(&b, "%d %d ", nums[i], j-i)
		i = j
	}
	return strings.TrimSpace(b.String())
}

// pdfText encodes s as a PDF text string: a literal when it is printable
// ASCII, else UTF-16BE with a byte order mark, in hex.
func pdfText(s string) string {
	ascii := true
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
		return "(" + r.Replace(s) + ")"
	}
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}

// pdfDate encodes t as a PDF date string (ISO 32000-1, 7.9.4), in UTC.
func pdfDate(t time.Time) string {
	return "(D:" + t.UTC().Format("20060102150405") + "Z)"
}

// parsePDFDate reads a PDF date string; the zero time if it is not one.
func parsePDFDate(s string) time.Time {
	s = strings.TrimPrefix(s, "D:")
	s = strings.ReplaceAll(s, "'", "")
	for _, layout := range []string{"20060102150405Z0700", "20060102150405Z07", "20060102150405Z", "20060102150405-0700", "20060102150405"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
