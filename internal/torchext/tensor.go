package torchext

// #include <stdlib.h>
// #include "torchext.h"
import "C"

import (
	"errors"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch/ts"
)

// cerr turns a message returned by our C functions into an error (and frees it).
func cerr(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	s := C.GoString(msg)
	// libtorch appends a C++ backtrace after the first line; users get the first line.
	if i := strings.Index(s, "\nException raised from"); i >= 0 {
		s = s[:i]
	}
	return errors.New(strings.TrimSpace(s))
}

// CopyInto copies src into dst in place, converting dtype and broadcasting as copy_ does,
// without recording it for autograd (p.data.copy_(src)). Both are borrowed. Unlike gotch's
// Tensor.Copy_, a shape mismatch is returned as an error instead of ending the process.
func CopyInto(dst, src *ts.Tensor) error {
	return cerr(C.tx_copy_(dst.Ctensor(), src.Ctensor()))
}

// AdamStep applies one torch.optim.Adam step (see tx_adam_step) to params, whose gradients
// must already be computed, with the moment buffers expAvg and expAvgSq (same shapes, updated
// in place). step is the 1-based step count after incrementing. All tensors are borrowed.
func AdamStep(params, expAvg, expAvgSq []*ts.Tensor, step int64, lr, beta1, beta2, eps, weightDecay float64) error {
	n := len(params)
	if len(expAvg) != n || len(expAvgSq) != n {
		return errors.New("AdamStep: params and moment buffers differ in length")
	}
	if n == 0 {
		return nil
	}
	// C arrays of torch::Tensor*; the pointers are C memory (gotch's ctensors), so they may
	// be stored in C-allocated arrays without breaking cgo's pointer rules.
	mk := func(ts []*ts.Tensor) unsafe.Pointer {
		arr := C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(uintptr(0))))
		s := unsafe.Slice((*unsafe.Pointer)(arr), n)
		for i, t := range ts {
			s[i] = t.Ctensor()
		}
		return arr
	}
	p, m, v := mk(params), mk(expAvg), mk(expAvgSq)
	defer C.free(p)
	defer C.free(m)
	defer C.free(v)
	return cerr(C.tx_adam_step((*unsafe.Pointer)(p), (*unsafe.Pointer)(m), (*unsafe.Pointer)(v), C.int(n),
		C.double(step), C.double(lr), C.double(beta1), C.double(beta2), C.double(eps), C.double(weightDecay)))
}
