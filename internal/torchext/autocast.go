package torchext

/*
#cgo CXXFLAGS: -std=c++17 -O2 -Wno-deprecated-declarations
#cgo CXXFLAGS: -I${SRCDIR}/../../third_party -I${SRCDIR}/../../third_party/libtorch/include
#cgo CXXFLAGS: -I${SRCDIR}/../../third_party/libtorch/include/torch/csrc/api/include
#cgo LDFLAGS: -L${SRCDIR}/../../third_party/libtorch/lib -ltorch_cpu -lc10 -lstdc++
#include <stdlib.h>
#include "torchext.h"
*/
import "C"

import (
	"fmt"
	"path/filepath"
	"strings"
	"unsafe"
)

// Device selects which autocast state (libtorch keeps one per device type).
type Device int

// The device types autocast distinguishes.
const (
	CPU  Device = 0
	CUDA Device = 1
)

// ScalarType codes of c10::ScalarType (c10/core/ScalarType.h) that autocast accepts.
const (
	Half     = 5
	Float    = 6
	BFloat16 = 15
)

// Enabled reports whether autocast is on for d on this OS thread.
func Enabled(d Device) bool { return bool(C.tx_autocast_is_enabled(C.int(d))) }

// SetEnabled turns autocast on or off for d on this OS thread.
func SetEnabled(d Device, on bool) { C.tx_autocast_set_enabled(C.int(d), C.bool(on)) }

// DType is the autocast target dtype for d (a c10::ScalarType code).
func DType(d Device) int { return int(C.tx_autocast_get_dtype(C.int(d))) }

// SetDType sets the autocast target dtype for d.
func SetDType(d Device, dtype int) { C.tx_autocast_set_dtype(C.int(d), C.int(dtype)) }

// IncrementNesting and DecrementNesting count nested autocast regions; the cast cache is
// cleared when the outermost one exits (mirrors torch.autocast.__enter__/__exit__).
func IncrementNesting() int { return int(C.tx_autocast_increment_nesting()) }

// DecrementNesting is the counterpart of IncrementNesting; it returns the new depth.
func DecrementNesting() int { return int(C.tx_autocast_decrement_nesting()) }

// ClearCache drops autocast's cache of casted weights.
func ClearCache() { C.tx_autocast_clear_cache() }

// Autocast enters an autocast region for device d with the given dtype and returns the
// function that leaves it, restoring the previous state; use as `defer torchext.Autocast(...)()`.
// It mirrors torch.autocast(device_type, dtype).__enter__/__exit__. Call it on a locked OS thread.
func Autocast(d Device, dtype int) (exit func(), err error) {
	switch {
	case d == CPU && dtype != BFloat16 && dtype != Half:
		return nil, fmt.Errorf("autocast on CPU supports bfloat16 (and float16), not dtype %d", dtype)
	case d == CUDA && dtype != Half && dtype != BFloat16:
		return nil, fmt.Errorf("autocast on CUDA supports float16 and bfloat16, not dtype %d", dtype)
	case d != CPU && d != CUDA:
		return nil, fmt.Errorf("autocast: unknown device %d", d)
	}
	prevOn, prevDType := Enabled(d), DType(d)
	SetEnabled(d, true)
	SetDType(d, dtype)
	IncrementNesting()
	return func() {
		if DecrementNesting() == 0 {
			ClearCache()
		}
		SetEnabled(d, prevOn)
		SetDType(d, prevDType)
	}, nil
}

// TorchVersion is the version of the libtorch headers drgrade was compiled against.
func TorchVersion() string { return C.GoString(C.tx_torch_version()) }

// TorchRuntime describes the libtorch loaded at run time (which may differ from the headers
// TorchVersion names if the rpath points elsewhere): the version and CUDA version its build
// settings (at::show_config) record, and the directory libtorch_cpu.so was loaded from. Empty
// strings when libtorch does not say.
func TorchRuntime() (version, cudaVersion, libDir string) {
	cfg := C.tx_torch_show_config()
	defer C.free(unsafe.Pointer(cfg))
	path := C.tx_torch_library_path()
	defer C.free(unsafe.Pointer(path))
	for _, f := range strings.FieldsFunc(C.GoString(cfg), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
		if v, ok := strings.CutPrefix(f, "TORCH_VERSION="); ok {
			version = v
		}
		if v, ok := strings.CutPrefix(f, "CUDA_VERSION="); ok {
			cudaVersion = v
		}
	}
	if p := C.GoString(path); p != "" {
		libDir = filepath.Dir(p)
	}
	return version, cudaVersion, libDir
}

// CUDACompiled reports whether setup linked a usable CUDA libtorch.
func CUDACompiled() bool { return bool(C.tx_cuda_compiled()) }
