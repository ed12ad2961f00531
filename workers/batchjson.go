package workers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/internal/plainjson"
)

// batchShape is the request shape named in the errors of decodeBatch.
const batchShape = `{"signatureRequests":[{"data":…,"hashingAlgorithm":…,"customIdentifier":…}]}`

// readBatch decodes the batch of req, whose body, when it is one, must be
// JSON: SignServer's batch protocol names application/json.
func readBatch(req *Request, limit int) ([]BatchItem, error) {
	return readBatchBlocks(req, limit, nil)
}

// readBatchBlocks is readBatch that calls emit, when not nil, with each
// batchBlock items as soon as they are read (see decodeBatchBlocks).
func readBatchBlocks(req *Request, limit int, emit func([]BatchItem)) ([]BatchItem, error) {
	if err := req.requireType(ContentTypeJSON, "A batch request"); err != nil {
		return nil, err
	}
	return decodeBatchBlocks(req.Data, limit, req.memoryLimit(), emit)
}

// batchBlock is how many items decodeBatchBlocks hands over at a time.
const batchBlock = 64

// decodeBatch reads a batch request from r item by item and stops reading
// as soon as it has seen more than limit items: a request of a million items
// costs the memory of limit+1 of them, not of the whole body and its decoded
// copy. It accepts what encoding/json accepts for BatchRequest with unknown
// fields disallowed, with two refusals of its own: a key given twice, of
// the request or of an item (encoding/json would keep the last), and a
// customIdentifier whose bytes encoding/json would alter (invalid UTF-8, a
// lone surrogate escape), because the identifier is echoed to the client and
// must come back byte for byte. The common item shape of plain ASCII strings
// is decoded by hand in one pass; any other item goes through encoding/json,
// whose error the client sees.
//
// The items kept may total at most memory bytes of JSON; a larger batch is
// refused with ErrTooLarge as soon as the item (or key) being read passes
// what is left, so that one item as large as the body costs no more.
func decodeBatch(r io.Reader, limit int, memory int64) ([]BatchItem, error) {
	return decodeBatchBlocks(r, limit, memory, nil)
}

// decodeBatchBlocks is decodeBatch that calls emit, when not nil, with
// items 0 to batchBlock-1, then the next batchBlock, and so on, as soon as
// each block is read, whatever follows (a later syntax error included):
// the caller can work on a block while the next ones are read. An emitted
// block is not written again; the items past the last whole block are
// only in the result.
func decodeBatchBlocks(r io.Reader, limit int, memory int64, emit func([]BatchItem)) ([]BatchItem, error) {
	d := &batchDecoder{r: bufio.NewReaderSize(r, 32<<10), memory: memory, emit: emit}
	items, err := d.request(limit)
	if err != nil {
		return nil, err
	}
	return items, nil
}

// batchDecoder is a byte scanner over a batch request body.
type batchDecoder struct {
	r   *bufio.Reader
	off int64  // bytes consumed
	raw []byte // the current value, reused between items
	err error  // the read error that stopped the scan

	memory int64 // bytes of item JSON that may still be kept
	emit   func([]BatchItem)
	over   bool // d.raw outgrew memory: the scan stopped there
}

// tooLarge is the error of a batch whose JSON outgrows the request memory
// bound, found while an item (or key) is read or once it is kept.
func tooLarge() error {
	return TooLarge("The batch's items exceed the server's request memory bound (server.maxRequestMemory): split it, or send digests with client-side hashing.")
}

// grown reports whether d.raw has outgrown the memory left, and stops the
// scan if so: a single item (or key) larger than the bound is refused
// while it is read, not once the body has been copied whole into d.raw.
func (d *batchDecoder) grown() bool {
	if int64(len(d.raw)) > d.memory {
		d.over = true
	}
	return d.over
}

func (d *batchDecoder) syntax() error {
	if d.err != nil {
		return readError(d.err)
	}
	return Illegal("The batch request is not valid JSON of the form %s: syntax error at byte %d.", batchShape, d.off)
}

func (d *batchDecoder) readByte() (byte, bool) {
	c, err := d.r.ReadByte()
	if err != nil {
		if err != io.EOF {
			d.err = err
		}
		return 0, false
	}
	d.off++
	return c, true
}

// next returns the next byte that is not JSON white space.
func (d *batchDecoder) next() (byte, bool) {
	for {
		c, ok := d.readByte()
		if !ok {
			return 0, false
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, true
	}
}

// request reads the whole request object.
func (d *batchDecoder) request(limit int) ([]BatchItem, error) {
	c, ok := d.next()
	if !ok {
		if d.err != nil {
			return nil, readError(d.err)
		}
		return nil, Illegal("The batch request is not valid JSON of the form %s: the body is empty.", batchShape)
	}
	var items []BatchItem
	switch c {
	case 'n':
		if !d.literal("ull") {
			return nil, d.syntax()
		}
	case '{':
		seen := false
		for first := true; ; first = false {
			c, ok := d.next()
			if !ok {
				return nil, d.syntax()
			}
			if c == '}' && first {
				break
			}
			if c != '"' {
				return nil, d.syntax()
			}
			key, err := d.key()
			if err != nil {
				return nil, err
			}
			if !strings.EqualFold(key, "signatureRequests") {
				return nil, Illegal("The batch request is not valid JSON of the form %s: unknown field %s.", batchShape, clienttext.Quote(key))
			}
			if seen {
				return nil, twice("The batch request", "signatureRequests")
			}
			seen = true
			if c, ok := d.next(); !ok || c != ':' {
				return nil, d.syntax()
			}
			if items, err = d.list(limit); err != nil {
				return nil, err
			}
			c, ok = d.next()
			if !ok {
				return nil, d.syntax()
			}
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, d.syntax()
			}
		}
	default:
		return nil, Illegal("The batch request is not valid JSON of the form %s: the body is not a JSON object.", batchShape)
	}
	if _, ok := d.next(); ok {
		return nil, Illegal("The batch request has data after its JSON object: send one object.")
	}
	if d.err != nil {
		return nil, readError(d.err)
	}
	return items, nil
}

// literal consumes the rest of a JSON literal.
func (d *batchDecoder) literal(rest string) bool {
	for i := 0; i < len(rest); i++ {
		if c, ok := d.readByte(); !ok || c != rest[i] {
			return false
		}
	}
	return true
}

// key reads an object key whose opening quote was consumed.
func (d *batchDecoder) key() (string, error) {
	d.raw = append(d.raw[:0], '"')
	if !d.str() {
		if d.over {
			return "", tooLarge()
		}
		return "", d.syntax()
	}
	var k string
	if err := json.Unmarshal(d.raw, &k); err != nil {
		return "", d.syntax()
	}
	return k, nil
}

// str appends the rest of a string whose opening quote is in d.raw. It
// copies the reader's buffered bytes up to the closing quote or an escape
// in one go (bytes.IndexByte) instead of a ReadByte call per byte: the
// strings (base64 data, most of a batch) were most of the decoder's time,
// which runs before the batch's work is shared out between the cores.
func (d *batchDecoder) str() bool {
	for {
		buf, err := d.r.Peek(max(d.r.Buffered(), 1))
		if len(buf) == 0 {
			if err != io.EOF {
				d.err = err
			}
			return false
		}
		n := len(buf)
		if q := bytes.IndexByte(buf, '"'); q >= 0 {
			n = q + 1
		}
		if e := bytes.IndexByte(buf[:n], '\\'); e >= 0 {
			n = e + 1
		}
		last := buf[n-1]
		d.raw = append(d.raw, buf[:n]...)
		d.r.Discard(n) // n bytes are buffered: no read, no error
		d.off += int64(n)
		if d.grown() {
			return false
		}
		switch last {
		case '"':
			return true
		case '\\':
			c, ok := d.readByte()
			if !ok {
				return false
			}
			d.raw = append(d.raw, c)
		}
	}
}

// list reads the value of signatureRequests: null or an array of items.
func (d *batchDecoder) list(limit int) ([]BatchItem, error) {
	c, ok := d.next()
	if !ok {
		return nil, d.syntax()
	}
	if c == 'n' {
		if !d.literal("ull") {
			return nil, d.syntax()
		}
		return nil, nil
	}
	if c != '[' {
		return nil, Illegal("The batch request is not valid JSON of the form %s: field \"signatureRequests\" has the wrong type.", batchShape)
	}
	items := make([]BatchItem, 0, min(limit, 64))
	for first := true; ; first = false {
		c, ok := d.next()
		if !ok {
			return nil, d.syntax()
		}
		if c == ']' && first {
			return items, nil
		}
		if len(items) == limit {
			return nil, TooLarge("The batch has more than %d items but this worker signs at most %d per request (MAX_BATCH_SIZE): split it.", limit, limit)
		}
		var it BatchItem
		switch c {
		case 'n':
			if !d.literal("ull") {
				return nil, d.syntax()
			}
			return nil, noData(len(items))
		case '{':
			start := d.off - 1
			if !d.object() {
				if d.over {
					return nil, tooLarge()
				}
				return nil, d.syntax()
			}
			d.memory -= int64(len(d.raw)) // object kept it within d.memory
			if err := decodeItem(d.raw, &it); err != nil {
				return nil, refusedItem(err, len(items), start)
			}
		default:
			return nil, Illegal("The batch request is not valid JSON of the form %s: item %d is not an object.", batchShape, len(items))
		}
		items = append(items, it)
		if d.emit != nil && len(items)%batchBlock == 0 {
			d.emit(items[len(items)-batchBlock:])
		}
		c, ok = d.next()
		if !ok {
			return nil, d.syntax()
		}
		if c == ']' {
			return items, nil
		}
		if c != ',' {
			return nil, d.syntax()
		}
	}
}

// object reads into d.raw a JSON object whose '{' was consumed, keeping
// track of nesting and strings only: encoding/json checks it in full.
func (d *batchDecoder) object() bool {
	d.raw = append(d.raw[:0], '{')
	depth := 1
	for depth > 0 {
		c, ok := d.readByte()
		if !ok {
			return false
		}
		d.raw = append(d.raw, c)
		if d.grown() {
			return false
		}
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			if !d.str() {
				return false
			}
		}
	}
	return true
}

// refusedItem is the refusal of the batch whose item i, starting at byte
// start of the body, decodeItem refused with err. It is kept out of list,
// which reads every item: only a refused item pays for it.
func refusedItem(err error, i int, start int64) error {
	switch err := err.(type) {
	case repeatedKey:
		return twice("Item "+strconv.Itoa(i)+" of the batch", string(err))
	}
	if err == errNoData {
		return noData(i)
	}
	return Illegal("The batch request is not valid JSON of the form %s: %v.", batchShape, itemErrorText(err, start))
}

// itemErrorText words an encoding/json error on one item, with offsets
// counted from the start of the body.
func itemErrorText(err error, start int64) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at byte " + strconv.FormatInt(start+se.Offset, 10)
	}
	return jsonErrorText(err)
}

// twice is the refusal of a key given twice in where (the request, or one
// of its items), the same for every key: encoding/json would keep the last
// silently, a document other than the one the client meant to send first.
func twice(where, key string) error {
	return Illegal("%s has %s twice: send it once.", where, key)
}

// repeatedKey is decodeItem's error for an item that gives a member (named
// as itemKeys spells it) twice.
type repeatedKey string

func (k repeatedKey) Error() string { return "repeated key " + string(k) }

// errNoData is decodeItem's error for an item without data (or with data
// null): signing it as an empty document would answer a client's mistake
// with a signature of nothing.
var errNoData = errors.New("no data")

// noData is the refusal of a batch whose item i has no data.
func noData(i int) error {
	return Illegal("Item %d of the batch has no data: send each document (or its digest) base64-encoded in \"data\" (\"\" for an empty document).", i)
}

// itemWire is BatchItem as encoding/json reads it when the fast path does
// not: the identifier keeps its raw bytes to be checked, data is nil when
// absent or null.
type itemWire struct {
	Data             *string     `json:"data"`
	HashingAlgorithm string      `json:"hashingAlgorithm"`
	CustomIdentifier exactString `json:"customIdentifier"`
}

// exactString is a JSON string that must decode to exactly the text the
// client wrote: encoding/json would replace invalid UTF-8 and unpaired
// surrogate escapes with U+FFFD.
type exactString string

// errInexact is the sentence of a refused exactString.
var errInexact = errors.New("customIdentifier is not valid UTF-8 text (or has an unpaired \\u surrogate escape) and could not be echoed unchanged: send UTF-8")

func (s *exactString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if !plainjson.Exact(b) {
		return errInexact
	}
	*s = exactString(v)
	return nil
}

// decodeItem decodes one item object: by hand when it is the common shape,
// else with encoding/json.
func decodeItem(raw []byte, it *BatchItem) error {
	if fastItem(raw, it) {
		return nil
	}
	*it = BatchItem{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var w itemWire
	if err := dec.Decode(&w); err != nil {
		return err
	}
	if k, ok := repeated(raw); ok {
		return repeatedKey(k)
	}
	if w.Data == nil {
		return errNoData
	}
	*it = BatchItem{Data: *w.Data, HashingAlgorithm: w.HashingAlgorithm, CustomIdentifier: string(w.CustomIdentifier)}
	return nil
}

// repeated reports the first member of itemKeys that the item raw (which
// encoding/json accepted) gives twice, as encoding/json matches keys to
// fields: by bytes.EqualFold. Only items off the fast path are walked
// again: fastItem takes each key once, exactly so spelt.
func repeated(raw []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return "", false
	}
	seen := make([]bool, len(itemKeys))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		key, _ := t.(string)
		for i, name := range itemKeys {
			if strings.EqualFold(key, name) {
				if seen[i] {
					return name, true
				}
				seen[i] = true
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

// itemKeys are the members of a batch item, as fastItem reads them.
var itemKeys = []string{"data", "hashingAlgorithm", "customIdentifier"}

// fastItem decodes {"data":"…","hashingAlgorithm":"…","customIdentifier":"…"}
// (any order, any subset, each key once, exactly so spelt) with plain
// strings (plainjson.Object). It reports false for anything else, which
// encoding/json decides: an unknown, repeated or differently cased key, an
// escape, a control byte or one outside ASCII.
func fastItem(b []byte, it *BatchItem) bool {
	var v [3][]byte
	if !plainjson.Object(b, itemKeys, v[:]) || v[0] == nil { // no data: decodeItem refuses it
		*it = BatchItem{}
		return false
	}
	*it = BatchItem{Data: string(v[0]), HashingAlgorithm: algorithmName(v[1]), CustomIdentifier: string(v[2])}
	return true
}

// algorithmName returns the hashingAlgorithm of a batch item as a string,
// the usual names without an allocation per item.
func algorithmName(b []byte) string {
	switch string(b) {
	case "SHA-256":
		return "SHA-256"
	case "SHA-384":
		return "SHA-384"
	case "SHA-512":
		return "SHA-512"
	case "SHA256":
		return "SHA256"
	}
	return string(b)
}
