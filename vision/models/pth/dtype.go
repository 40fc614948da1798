package pth

import (
	"math"
	"strings"
)

// Dtype is a tensor element type, spelled as torch spells it after "torch." (e.g. "float32").
type Dtype string

// The element types a checkpoint can hold.
const (
	Float32    Dtype = "float32"
	Float64    Dtype = "float64"
	Float16    Dtype = "float16"
	BFloat16   Dtype = "bfloat16"
	Int64      Dtype = "int64"
	Int32      Dtype = "int32"
	Int16      Dtype = "int16"
	Int8       Dtype = "int8"
	Uint8      Dtype = "uint8"
	Bool       Dtype = "bool"
	Complex64  Dtype = "complex64"
	Complex128 Dtype = "complex128"
)

// dtypeInfo describes one dtype: its size, torch's legacy storage class name and the names
// torch.dtype objects pickle under.
type dtypeInfo struct {
	size    int
	storage string   // e.g. "FloatStorage" (torch._utils._pickle_storage_type)
	names   []string // attribute names on the torch module, e.g. "float32", "float"
}

var dtypes = map[Dtype]dtypeInfo{
	Float32:    {4, "FloatStorage", []string{"float32", "float"}},
	Float64:    {8, "DoubleStorage", []string{"float64", "double"}},
	Float16:    {2, "HalfStorage", []string{"float16", "half"}},
	BFloat16:   {2, "BFloat16Storage", []string{"bfloat16"}},
	Int64:      {8, "LongStorage", []string{"int64", "long"}},
	Int32:      {4, "IntStorage", []string{"int32", "int"}},
	Int16:      {2, "ShortStorage", []string{"int16", "short"}},
	Int8:       {1, "CharStorage", []string{"int8"}},
	Uint8:      {1, "ByteStorage", []string{"uint8"}},
	Bool:       {1, "BoolStorage", []string{"bool"}},
	Complex64:  {8, "ComplexFloatStorage", []string{"complex64", "cfloat"}},
	Complex128: {16, "ComplexDoubleStorage", []string{"complex128", "cdouble"}},
}

// ElemSize is the size of one element in bytes, or 0 for an unknown dtype.
func (d Dtype) ElemSize() int { return dtypes[d].size }

// Valid reports whether d is one of the dtypes this package knows.
func (d Dtype) Valid() bool { _, ok := dtypes[d]; return ok }

// storageClass is torch's legacy storage class name for d ("FloatStorage"), or "".
func (d Dtype) storageClass() string { return dtypes[d].storage }

// isFloat reports whether d is a real floating-point dtype.
func (d Dtype) isFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// isInt reports whether d is an integer or bool dtype.
func (d Dtype) isInt() bool {
	switch d {
	case Int64, Int32, Int16, Int8, Uint8, Bool:
		return true
	}
	return false
}

// dtypeFromStorageClass maps a storage class name to its dtype, mirroring
// torch.serialization.StorageType (which accepts any global whose name contains "Storage",
// whatever its module, e.g. torch.cuda.FloatStorage). "UntypedStorage" and the legacy
// "_UntypedStorage"/"ByteStorage" map to uint8.
func dtypeFromStorageClass(name string) (Dtype, bool) {
	if name == "UntypedStorage" || name == "_UntypedStorage" {
		return Uint8, true
	}
	for d, info := range dtypes {
		if info.storage == name {
			return d, true
		}
	}
	return "", false
}

// dtypeFromTorchName maps an attribute of the torch module naming a dtype ("float32",
// "half", ...) to the dtype, as pickled by torch.dtype.__reduce__.
func dtypeFromTorchName(name string) (Dtype, bool) {
	for d, info := range dtypes {
		for _, n := range info.names {
			if n == name {
				return d, true
			}
		}
	}
	return "", false
}

// isStorageName mirrors the `'Storage' in name` test of torch's find_class override.
func isStorageName(name string) bool { return strings.Contains(name, "Storage") }

// halfToFloat32 converts IEEE 754 binary16 bits to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN: keep the payload bits
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: normalise the mantissa.
	e := uint32(113)
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
}

// bfloat16ToFloat32 converts bfloat16 bits to float32 exactly (bfloat16 is the top half).
func bfloat16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }
