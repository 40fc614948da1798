// Package torchext is drgrade's one cgo package: the few libtorch 2.1 entry points gotch v0.9.1
// does not wrap (CPU and CUDA autocast state; later c10d), compiled against the libtorch that
// setup-libtorch.sh wired into third_party/.
//
// Threading: libtorch's autocast (like grad mode) is thread-local. Every function here acts on
// the calling OS thread, so callers must run on a goroutine that called runtime.LockOSThread
// and do all the tensor work of that loop there; Autocast checks nothing it cannot see, so
// that rule is the caller's.
//
// Ownership: this package creates no tensors.
package torchext
