package torchext

// #include "torchext.h"
import "C"

import (
	"regexp"
	"strings"
)

// GradEnabled reports whether autograd records operations on this OS thread.
func GradEnabled() bool { return bool(C.tx_grad_is_enabled()) }

// SetGradEnabled switches autograd recording for this OS thread.
func SetGradEnabled(on bool) { C.tx_grad_set_enabled(C.bool(on)) }

// NoGrad turns autograd off on this OS thread and returns the function restoring the previous
// mode: `defer torchext.NoGrad()()` is Python's `with torch.no_grad():`. (gotch's
// ts.GradSetEnabled misreads the previous mode, so it cannot restore it reliably.)
func NoGrad() (restore func()) {
	prev := GradEnabled()
	SetGradEnabled(false)
	return func() { SetGradEnabled(prev) }
}

var goroutineDump = regexp.MustCompile(`(?s)\n(goroutine \d+ \[|runtime/debug\.Stack\(\)).*`)

// Message is err's text for a user: libtorch's first lines without the C++ frame list
// ("Exception raised from ...") or the Go stack gotch appends, and without gotch's
// "Libtorch API Error: " prefix.
func Message(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\nException raised from"); i >= 0 {
		s = s[:i]
	}
	s = goroutineDump.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "Libtorch API Error: ", "")
	return strings.TrimSpace(s)
}
