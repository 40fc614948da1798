// Package torchext is drgrade's one cgo package: the few libtorch 2.1 entry points gotch v0.9.1
// does not wrap or gets wrong (autocast state, grad mode, error-returning copies, the Adam step,
// GradScaler kernels, RNG state, threads), compiled against the libtorch that
// setup-libtorch.sh wired into third_party/, plus JPEG decoding through libjpeg-turbo (the
// decoder Pillow uses, so decoded pixels match Pillow's bit for bit).
//
// Threading: libtorch's autocast (like grad mode) is thread-local. Every function here acts on
// the calling OS thread, so callers must run on a goroutine that called runtime.LockOSThread
// and do all the tensor work of that loop there; Autocast checks nothing it cannot see, so
// that rule is the caller's.
//
// Ownership: this package creates no tensors.
package torchext
