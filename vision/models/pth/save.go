package pth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
	"strconv"

	"github.com/drgrade/drgrade/internal/atomicfile"
)

// archiveName is the zip directory torch.save uses when writing to a buffer.
const archiveName = "archive"

// fieldAlignment is caffe2::serialize::kFieldAlignment: record data starts on 64 bytes.
const fieldAlignment = 64

// Save writes entries as a PyTorch zip checkpoint (what torch.save(OrderedDict) writes),
// atomically: a temporary file in the same directory is written, fsynced and renamed, so an
// existing file at path is replaced only by a complete one, and a failed write (a full disk)
// leaves it as it was and removes the temporary file. Every error starts with path (not the
// temporary file's name, which would mean nothing to the user).
func Save(path string, entries []*Entry) error {
	err := save(path, entries)
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("%s: cannot write: %w", path, pe.Err)
	case errors.As(err, &le):
		return fmt.Errorf("%s: cannot write: %w", path, le.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

func save(path string, entries []*Entry) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Encode(w, entries) })
}

// Encode writes entries to w in the PyTorch zip format. The records and their order match
// torch.save in PyTorch 2.1 (data.pkl, byteorder, data/<key> in sorted key order, version);
// only the random .data/serialization_id record is left out (torch.load does not need it).
func Encode(w io.Writer, entries []*Entry) error {
	names := map[string]bool{}
	for _, e := range entries {
		if err := e.check(); err != nil {
			return err
		}
		if e.Dtype.storageClass() == "" {
			return fmt.Errorf("tensor %q: dtype %s cannot be saved", e.Name, e.Dtype)
		}
		if names[e.Name] {
			return fmt.Errorf("duplicate tensor name %q", e.Name)
		}
		names[e.Name] = true
	}
	zw := &zipWriter{w: w}
	zw.record("data.pkl", encodePickle(entries))
	zw.record("byteorder", []byte("little"))
	keys := make([]string, len(entries))
	for i := range entries {
		keys[i] = strconv.Itoa(i)
	}
	sort.Strings(keys) // torch: for key in sorted(serialized_storages.keys())
	for _, k := range keys {
		i, _ := strconv.Atoi(k)
		zw.record("data/"+k, entries[i].Data)
	}
	zw.record("version", []byte("3\n"))
	zw.finish()
	return zw.err
}

// encodePickle writes the data.pkl that Python's pickle (protocol 2) produces for torch.save
// of an OrderedDict of contiguous tensors, memo indices included, so the bytes match.
func encodePickle(entries []*Entry) []byte {
	p := &pickler{}
	p.buf.WriteByte(opProto)
	p.buf.WriteByte(2)
	odict := p.global("collections", "OrderedDict")
	p.buf.WriteByte(opEmptyTuple)
	p.buf.WriteByte(opReduce)
	p.put()
	rebuild, storageStr, cpu := -1, -1, -1
	classes := map[string]int{}
	saveEntry := func(i int, e *Entry) {
		p.str(e.Name)
		if rebuild < 0 {
			rebuild = p.global("torch._utils", "_rebuild_tensor_v2")
		} else {
			p.get(rebuild)
		}
		p.buf.WriteByte(opMark) // the REDUCE arguments
		p.buf.WriteByte(opMark) // the persistent id
		if storageStr < 0 {
			storageStr = p.str("storage")
		} else {
			p.get(storageStr)
		}
		cls := e.Dtype.storageClass()
		if idx, ok := classes[cls]; ok {
			p.get(idx)
		} else {
			classes[cls] = p.global("torch", cls)
		}
		p.str(strconv.Itoa(i))
		if cpu < 0 {
			cpu = p.str("cpu")
		} else {
			p.get(cpu)
		}
		p.int(int64(e.Numel()))
		p.buf.WriteByte(opTuple)
		p.put()
		p.buf.WriteByte(opBinpersid)
		p.int(0) // storage offset
		stride := make([]int64, len(e.Shape))
		acc := int64(1)
		for d := len(e.Shape) - 1; d >= 0; d-- { // torch's contiguous strides treat 0 as 1
			stride[d] = acc
			acc *= int64(max(e.Shape[d], 1))
		}
		size := make([]int64, len(e.Shape))
		for d, s := range e.Shape {
			size[d] = int64(s)
		}
		p.intTuple(size)
		p.intTuple(stride)
		p.buf.WriteByte(opNewfalse) // requires_grad=False
		p.get(odict)                // backward_hooks=OrderedDict()
		p.buf.WriteByte(opEmptyTuple)
		p.buf.WriteByte(opReduce)
		p.put()
		p.buf.WriteByte(opTuple)
		p.put()
		p.buf.WriteByte(opReduce)
		p.put()
	}
	// pickle's _batch_setitems: batches of 1000, SETITEM for a batch of one.
	for start := 0; start < len(entries); start += 1000 {
		end := min(start+1000, len(entries))
		if end-start > 1 {
			p.buf.WriteByte(opMark)
		}
		for i := start; i < end; i++ {
			saveEntry(i, entries[i])
		}
		if end-start > 1 {
			p.buf.WriteByte(opSetitems)
		} else {
			p.buf.WriteByte(opSetitem)
		}
	}
	p.buf.WriteByte(opStop)
	return p.buf.Bytes()
}

// pickler emits protocol-2 opcodes the way CPython's Pickler does for the few object kinds
// a state_dict needs; it returns memo indices so repeated objects become BINGETs.
type pickler struct {
	buf  bytes.Buffer
	memo int
}

func (p *pickler) put() int {
	idx := p.memo
	p.memo++
	if idx < 256 {
		p.buf.WriteByte(opBinput)
		p.buf.WriteByte(byte(idx))
	} else {
		p.buf.WriteByte(opLongBinput)
		binary.Write(&p.buf, binary.LittleEndian, uint32(idx))
	}
	return idx
}

func (p *pickler) get(idx int) {
	if idx < 256 {
		p.buf.WriteByte(opBinget)
		p.buf.WriteByte(byte(idx))
	} else {
		p.buf.WriteByte(opLongBinget)
		binary.Write(&p.buf, binary.LittleEndian, uint32(idx))
	}
}

func (p *pickler) global(mod, name string) int {
	p.buf.WriteByte(opGlobal)
	p.buf.WriteString(mod + "\n" + name + "\n")
	return p.put()
}

func (p *pickler) str(s string) int {
	p.buf.WriteByte(opBinunicode)
	binary.Write(&p.buf, binary.LittleEndian, uint32(len(s)))
	p.buf.WriteString(s)
	return p.put()
}

// int mirrors save_long: BININT1, BININT2, BININT, then LONG1.
func (p *pickler) int(v int64) {
	switch {
	case v >= 0 && v < 256:
		p.buf.WriteByte(opBinint1)
		p.buf.WriteByte(byte(v))
	case v >= 0 && v < 65536:
		p.buf.WriteByte(opBinint2)
		binary.Write(&p.buf, binary.LittleEndian, uint16(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.buf.WriteByte(opBinint)
		binary.Write(&p.buf, binary.LittleEndian, int32(v))
	default:
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		n := 8 // shortest two's-complement encoding, as pickle.encode_long
		for n > 1 && ((b[n-1] == 0 && b[n-2]&0x80 == 0) || (b[n-1] == 0xff && b[n-2]&0x80 != 0)) {
			n--
		}
		p.buf.WriteByte(opLong1)
		p.buf.WriteByte(byte(n))
		p.buf.Write(b[:n])
	}
}

// intTuple mirrors save_tuple for a tuple of ints (EMPTY_TUPLE is not memoised).
func (p *pickler) intTuple(v []int64) {
	switch len(v) {
	case 0:
		p.buf.WriteByte(opEmptyTuple)
		return
	case 1, 2, 3:
		for _, x := range v {
			p.int(x)
		}
		p.buf.WriteByte(opTuple1 + byte(len(v)-1))
	default:
		p.buf.WriteByte(opMark)
		for _, x := range v {
			p.int(x)
		}
		p.buf.WriteByte(opTuple)
	}
	p.put()
}

// zipWriter writes stored (uncompressed) zip records laid out as miniz does under
// caffe2::serialize::PyTorchStreamWriter: local header with data-descriptor flag, an "FB"
// extra field padding the data to 64 bytes, a data descriptor, then the central
// directory, a zip64 end record + locator and the classic end record.
type zipWriter struct {
	w   io.Writer
	pos int64
	err error
	cd  bytes.Buffer
	n   int
}

// Zip general-purpose flags as miniz sets them: bit 11 (UTF-8 names) always, bit 3 (sizes
// in a data descriptor after the data) for non-empty records.
const (
	zipFlagUTF8 = 0x0800
	zipFlags    = 0x0808
)

func (z *zipWriter) write(b []byte) {
	if z.err != nil {
		return
	}
	n, err := z.w.Write(b)
	z.pos += int64(n)
	z.err = err
}

func (z *zipWriter) record(name string, data []byte) {
	full := archiveName + "/" + name
	if z.pos+int64(len(data)) >= math.MaxUint32-1<<16 {
		if z.err == nil {
			z.err = errors.New("pth: checkpoints of 4 GiB or more are not supported (zip64 records)")
		}
		return
	}
	// getPadding in caffe2/serialize/inline_container.cc.
	start := z.pos + 30 + int64(len(full)) + 4
	pad := (fieldAlignment - start%fieldAlignment) % fieldAlignment
	extra := make([]byte, 4+pad)
	copy(extra, "FB")
	binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
	for i := 4; i < len(extra); i++ {
		extra[i] = 'Z'
	}
	crc := crc32.ChecksumIEEE(data)
	offset := z.pos
	// miniz writes an empty record without the data-descriptor flag or descriptor.
	flags := uint16(zipFlags)
	if len(data) == 0 {
		flags = zipFlagUTF8
	}

	var h bytes.Buffer
	le := func(v any) { binary.Write(&h, binary.LittleEndian, v) }
	le(uint32(0x04034b50))
	le(uint16(0)) // version needed (miniz writes 0 for stored records)
	le(flags)
	le(uint16(0)) // method: stored
	le(uint16(0)) // time
	le(uint16(0)) // date
	le(uint32(0)) // crc, sizes: in the data descriptor
	le(uint32(0))
	le(uint32(0))
	le(uint16(len(full)))
	le(uint16(len(extra)))
	h.WriteString(full)
	h.Write(extra)
	z.write(h.Bytes())
	z.write(data)
	if len(data) > 0 {
		h.Reset()
		le(uint32(0x08074b50))
		le(crc)
		le(uint32(len(data)))
		le(uint32(len(data)))
		z.write(h.Bytes())
	}

	c := func(v any) { binary.Write(&z.cd, binary.LittleEndian, v) }
	c(uint32(0x02014b50))
	c(uint16(0)) // version made by
	c(uint16(0)) // version needed
	c(flags)
	c(uint16(0))
	c(uint16(0))
	c(uint16(0))
	c(crc)
	c(uint32(len(data)))
	c(uint32(len(data)))
	c(uint16(len(full)))
	c(uint16(0)) // extra
	c(uint16(0)) // comment
	c(uint16(0)) // disk
	c(uint16(0)) // internal attributes
	c(uint32(0)) // external attributes
	c(uint32(offset))
	z.cd.WriteString(full)
	z.n++
}

func (z *zipWriter) finish() {
	cdOff := z.pos
	cdSize := int64(z.cd.Len())
	z.write(z.cd.Bytes())
	eocd64 := z.pos
	var h bytes.Buffer
	le := func(v any) { binary.Write(&h, binary.LittleEndian, v) }
	le(uint32(0x06064b50)) // zip64 end of central directory
	le(uint64(44))
	le(uint16(0x031e)) // version made by (miniz: unix, 3.0)
	le(uint16(0x002d)) // version needed: 4.5
	le(uint32(0))
	le(uint32(0))
	le(uint64(z.n))
	le(uint64(z.n))
	le(uint64(cdSize))
	le(uint64(cdOff))
	le(uint32(0x07064b50)) // zip64 locator
	le(uint32(0))
	le(uint64(eocd64))
	le(uint32(1))
	le(uint32(0x06054b50)) // end of central directory
	le(uint16(0))
	le(uint16(0))
	le(uint16(min(z.n, 0xffff)))
	le(uint16(min(z.n, 0xffff)))
	le(uint32(cdSize))
	le(uint32(cdOff))
	le(uint16(0))
	z.write(h.Bytes())
}
