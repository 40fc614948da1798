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
