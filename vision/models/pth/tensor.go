package pth

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Entry is one tensor of a state_dict.
//
// Data always holds the tensor's values contiguously in C order, little-endian, whatever
// the stored layout was; Stride and Offset record that stored layout (in elements) for
// diagnostics only. Save ignores Stride and Offset.
type Entry struct {
	Name   string
	Dtype  Dtype
	Shape  []int
	Stride []int
	Offset int
	Data   []byte
}

// Numel is the number of elements (1 for a 0-d tensor).
func (e *Entry) Numel() int {
	n := 1
	for _, d := range e.Shape {
		n *= d
	}
	return n
}

// check verifies that Data matches Dtype and Shape.
func (e *Entry) check() error {
	if !e.Dtype.Valid() {
		return fmt.Errorf("tensor %q: unknown dtype %q", e.Name, e.Dtype)
	}
	n := 1
	for _, d := range e.Shape {
		if d < 0 {
			return fmt.Errorf("tensor %q: negative dimension in shape %v", e.Name, e.Shape)
		}
		if d > 0 && n > math.MaxInt/d {
			return fmt.Errorf("tensor %q: shape %v overflows", e.Name, e.Shape)
		}
		n *= d
	}
	if n > math.MaxInt/e.Dtype.ElemSize() || len(e.Data) != n*e.Dtype.ElemSize() {
		return fmt.Errorf("tensor %q: %d bytes of data for shape %v of %s", e.Name, len(e.Data), e.Shape, e.Dtype)
	}
	return nil
}

// Float32s returns the values as float32: exact for float32/float16/bfloat16 and small
// integers, rounded to nearest for float64 and large int64 (as torch's .float() does).
func (e *Entry) Float32s() ([]float32, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	n := e.Numel()
	out := make([]float32, n)
	b := e.Data
	switch e.Dtype {
	case Float32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case Float16:
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BFloat16:
		for i := range out {
			out[i] = bfloat16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	default:
		f, err := e.Float64s()
		if err != nil {
			return nil, err
		}
		for i, v := range f {
			out[i] = float32(v)
		}
	}
	return out, nil
}

// Float64s returns the values as float64 (exact for every real dtype except int64 values
// beyond 2^53).
func (e *Entry) Float64s() ([]float64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	n := e.Numel()
	out := make([]float64, n)
	b := e.Data
	switch e.Dtype {
	case Float64:
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case Float32, Float16, BFloat16:
		f, err := e.Float32s()
		if err != nil {
			return nil, err
		}
		for i, v := range f {
			out[i] = float64(v)
		}
	default:
		if !e.Dtype.isInt() {
			return nil, fmt.Errorf("tensor %q: %s values are not real numbers", e.Name, e.Dtype)
		}
		v, err := e.Int64s()
		if err != nil {
			return nil, err
		}
		for i, x := range v {
			out[i] = float64(x)
		}
	}
	return out, nil
}

// Int64s returns the values of an integer or bool tensor as int64; floating tensors are
// an error rather than silently truncated.
func (e *Entry) Int64s() ([]int64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if !e.Dtype.isInt() {
		return nil, fmt.Errorf("tensor %q: Int64s of a %s tensor", e.Name, e.Dtype)
	}
	n := e.Numel()
	out := make([]int64, n)
	b := e.Data
	for i := range out {
		switch e.Dtype {
		case Int64:
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		case Int32:
			out[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		case Int16:
			out[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		case Int8:
			out[i] = int64(int8(b[i]))
		case Uint8, Bool:
			out[i] = int64(b[i])
		}
	}
	return out, nil
}

// NewFloat32 builds a float32 entry (for Save) from values in C order.
func NewFloat32(name string, shape []int, vals []float32) *Entry {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return &Entry{Name: name, Dtype: Float32, Shape: append([]int{}, shape...), Data: b}
}

// NewInt64 builds an int64 entry (for Save) from values in C order.
func NewInt64(name string, shape []int, vals []int64) *Entry {
	b := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return &Entry{Name: name, Dtype: Int64, Shape: append([]int{}, shape...), Data: b}
}

// storage is a torch (typed) storage: numel elements of dtype. A view (legacy formats)
// aliases root's bytes from byteOff. data stays nil until the storage bytes are read, which
// in the legacy formats happens after the pickle that references them.
type storage struct {
	dtype   Dtype
	numel   int64
	data    []byte
	root    *storage
	byteOff int64
}

// bytes resolves the storage's bytes (following a view to its root).
func (s *storage) bytes() ([]byte, error) {
	nbytes := s.numel * int64(s.dtype.ElemSize())
	if s.root == nil {
		if s.data == nil && nbytes > 0 {
			return nil, fmt.Errorf("storage data is missing from the file")
		}
		if int64(len(s.data)) < nbytes {
			return nil, fmt.Errorf("storage has %d bytes, expected %d", len(s.data), nbytes)
		}
		return s.data[:nbytes], nil
	}
	if s.root.root != nil {
		return nil, fmt.Errorf("storage view of a view")
	}
	rb, err := s.root.bytes()
	if err != nil {
		return nil, err
	}
	if s.byteOff < 0 || nbytes < 0 || s.byteOff > int64(len(rb)) || nbytes > int64(len(rb))-s.byteOff {
		return nil, fmt.Errorf("storage view [%d, +%d) is outside its %d-byte root", s.byteOff, nbytes, len(rb))
	}
	return rb[s.byteOff : s.byteOff+nbytes], nil
}

// tensorRef is a tensor as pickled: a strided view of a storage, materialised into an Entry
// once every storage has its bytes.
type tensorRef struct {
	st     *storage
	dtype  Dtype
	offset int64
	size   []int64
	stride []int64
}

// maxExpandBytes bounds how far a tensor may be larger than its storage (stride-0
// expanded tensors), so a hostile file cannot request an enormous allocation.
const maxExpandBytes = 64 << 20

// materialize copies the tensor's elements into a contiguous C-order buffer, mirroring
// torch.Tensor.set_(storage, offset, size, stride) followed by .contiguous().
func (t *tensorRef) materialize(name string) (*Entry, error) {
	fail := func(format string, args ...any) (*Entry, error) {
		return nil, fmt.Errorf("tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	es := int64(t.dtype.ElemSize())
	if es == 0 {
		return fail("unknown dtype %q", t.dtype)
	}
	if len(t.size) != len(t.stride) {
		return fail("size %v and stride %v differ in length", t.size, t.stride)
	}
	raw, err := t.st.bytes()
	if err != nil {
		return fail("%v", err)
	}
	if t.offset < 0 {
		return fail("negative storage offset %d", t.offset)
	}
	avail := int64(len(raw)) / es // storage length in elements of the tensor's dtype
	numel := int64(1)
	last := t.offset // index of the last element
	for i, d := range t.size {
		s := t.stride[i]
		if d < 0 || s < 0 {
			return fail("negative size or stride (%v, %v)", t.size, t.stride)
		}
		if d > 0 && numel > math.MaxInt64/es/d {
			return fail("size %v overflows", t.size)
		}
		numel *= d
	}
	if numel > 0 {
		for i, d := range t.size {
			s := t.stride[i]
			if s > 0 && d-1 > (math.MaxInt64-last)/s {
				return fail("stride %v overflows", t.stride)
			}
			last += (d - 1) * s
		}
		if last >= avail {
			return fail("view (offset %d, size %v, stride %v) needs %d elements but the storage has %d",
				t.offset, t.size, t.stride, last+1, avail)
		}
	}
	outBytes := numel * es
	if outBytes > int64(len(raw)) && outBytes > maxExpandBytes {
		return fail("expanded view of %d bytes over a %d-byte storage is too large", outBytes, len(raw))
	}
	if outBytes > math.MaxInt {
		return fail("too large")
	}
	e := &Entry{Name: name, Dtype: t.dtype, Shape: make([]int, len(t.size)), Stride: make([]int, len(t.size)),
		Offset: int(t.offset), Data: make([]byte, outBytes)}
	for i := range t.size {
		e.Shape[i], e.Stride[i] = int(t.size[i]), int(t.stride[i])
	}
	if numel == 0 {
		return e, nil
	}
	copyStrided(e.Data, raw, t.offset, t.size, t.stride, es)
	return e, nil
}

// copyStrided gathers a strided view into dst in C order; the caller has bounds-checked it.
func copyStrided(dst, src []byte, offset int64, size, stride []int64, es int64) {
	nd := len(size)
	// Merge the trailing dimensions that are already contiguous into one block copy.
	block := int64(1)
	k := nd
	for k > 0 && (size[k-1] == 1 || stride[k-1] == block) {
		block *= size[k-1]
		k--
	}
	blockBytes := block * es
	if k == 0 {
		copy(dst, src[offset*es:offset*es+blockBytes])
		return
	}
	idx := make([]int64, k)
	pos := offset
	var w int64
	for {
		copy(dst[w:w+blockBytes], src[pos*es:pos*es+blockBytes])
		w += blockBytes
		// Advance the odometer over the outer k dimensions.
		j := k - 1
		for ; j >= 0; j-- {
			idx[j]++
			pos += stride[j]
			if idx[j] < size[j] {
				break
			}
			pos -= stride[j] * size[j]
			idx[j] = 0
		}
		if j < 0 {
			return
		}
	}
}
