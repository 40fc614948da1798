// Package npy reads and writes NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order)
// in plain Go, so parity tests and pure-Go packages can exchange arrays with Python without
// libtorch. It mirrors numpy.lib.format.read_array / write_array for the dtypes drgrade uses.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/drgrade/drgrade/internal/atomicfile"
)

// Array is a decoded .npy array. Exactly one of the data slices is set, by dtype:
// <f4 → F32, <f8 → F64, <i8/<i4/|u1/|b1 and other integers → I64.
type Array struct {
	Shape []int
	Dtype string // numpy descr as read, e.g. "<f4"
	F32   []float32
	F64   []float64
	I64   []int64
}

// Len is the number of elements.
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Float64s returns the data as float64, whatever the stored dtype.
func (a *Array) Float64s() []float64 {
	switch {
	case a.F64 != nil:
		return a.F64
	case a.F32 != nil:
		out := make([]float64, len(a.F32))
		for i, v := range a.F32 {
			out[i] = float64(v)
		}
		return out
	default:
		out := make([]float64, len(a.I64))
		for i, v := range a.I64 {
			out[i] = float64(v)
		}
		return out
	}
}

var (
	reDescr = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	reOrder = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	reShape = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// ReadFile reads a .npy file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Read decodes one .npy stream.
func Read(r io.Reader) (*Array, error) {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil {
		return nil, fmt.Errorf("npy: reading magic: %w", err)
	}
	if !bytes.Equal(magic[:6], []byte("\x93NUMPY")) {
		return nil, errors.New("npy: not a .npy file (bad magic)")
	}
	var hlen int
	switch magic[6] {
	case 1:
		var n uint16
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, err
		}
		hlen = int(n)
	case 2, 3:
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, err
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d", magic[6])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf("npy: header length %d is implausible", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("npy: reading header: %w", err)
	}
	h := string(hb)
	m := reDescr.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("npy: header has no descr: %q", h)
	}
	a := &Array{Dtype: m[1]}
	if o := reOrder.FindStringSubmatch(h); o != nil && o[1] == "True" {
		return nil, errors.New("npy: fortran_order arrays are not supported")
	}
	s := reShape.FindStringSubmatch(h)
	if s == nil {
		return nil, fmt.Errorf("npy: header has no shape: %q", h)
	}
	a.Shape = []int{}
	for _, p := range strings.Split(s[1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("npy: bad shape %q", s[1])
		}
		a.Shape = append(a.Shape, d)
	}
	n := a.Len()
	if n > 1<<31 {
		return nil, fmt.Errorf("npy: %d elements is too many", n)
	}
	read := func(v any) error { return binary.Read(r, binary.LittleEndian, v) }
	switch a.Dtype {
	case "<f4":
		a.F32 = make([]float32, n)
		return a, read(a.F32)
	case "<f8":
		a.F64 = make([]float64, n)
		return a, read(a.F64)
	case "<i8", "<u8":
		a.I64 = make([]int64, n)
		return a, read(a.I64)
	case "<i4":
		v := make([]int32, n)
		if err := read(v); err != nil {
			return nil, err
		}
		a.I64 = make([]int64, n)
		for i, x := range v {
			a.I64[i] = int64(x)
		}
		return a, nil
	case "|u1", "|b1", "|i1":
		v := make([]byte, n)
		if _, err := io.ReadFull(r, v); err != nil {
			return nil, err
		}
		a.I64 = make([]int64, n)
		for i, x := range v {
			if a.Dtype == "|i1" {
				a.I64[i] = int64(int8(x))
			} else {
				a.I64[i] = int64(x)
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("npy: unsupported dtype %q", a.Dtype)
}

// WriteFile writes data (a []float32, []float64, []int64 or []uint8) with the given shape as
// a version 1.0 .npy file through atomicfile: a failed write leaves the old file, if any, and
// no temporary file behind.
func WriteFile(path string, data any, shape []int) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, data, shape) })
}

// Write encodes one array in .npy format 1.0.
func Write(w io.Writer, data any, shape []int) error {
	var descr string
	n := 0
	switch d := data.(type) {
	case []float32:
		descr, n = "<f4", len(d)
	case []float64:
		descr, n = "<f8", len(d)
	case []int64:
		descr, n = "<i8", len(d)
	case []uint8:
		descr, n = "|u1", len(d)
	default:
		return fmt.Errorf("npy: unsupported data type %T", data)
	}
	want := 1
	dims := make([]string, len(shape))
	for i, s := range shape {
		want *= s
		dims[i] = strconv.Itoa(s)
	}
	if want != n {
		return fmt.Errorf("npy: shape %v needs %d elements, have %d", shape, want, n)
	}
	st := strings.Join(dims, ", ")
	if len(shape) == 1 {
		st += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, st)
	// Pad so that magic(6)+version(2)+len(2)+header+'\n' is a multiple of 64.
	pad := 64 - (10+len(h)+1)%64
	if pad == 64 {
		pad = 0
	}
	h += strings.Repeat(" ", pad) + "\n"
	if len(h) > math.MaxUint16 {
		return errors.New("npy: header too long")
	}
	if _, err := w.Write([]byte("\x93NUMPY\x01\x00")); err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint16(len(h))); err != nil {
		return err
	}
	if _, err := io.WriteString(w, h); err != nil {
		return err
	}
	return binary.Write(w, binary.LittleEndian, data)
}
