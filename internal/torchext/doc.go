// Package torchext is drgrade's cgo binding of the few libtorch 2.1 entry points gotch v0.9.1
// does not wrap or gets wrong (autocast state, grad mode, error-returning copies, the Adam
// step, GradScaler kernels, RNG state, threads, devices), compiled against the libtorch that
// setup-libtorch.sh wired into third_party/, and of drgrade's caching CPU allocator
// (allocator.cpp). Everything here links libtorch. It is not drgrade's only cgo: c10d is
// bound in internal/torchext/dist, and the image C (JPEG decoding through libjpeg-turbo,
// Pillow's resampling pass) is internal/imagec, which does not link libtorch.
//
// The caching CPU allocator is installed by an explicit call, never by loading the package:
// a program that wants it calls InstallCPUCache at the start of main, before any tensor is
// made (cmd/drgrade, the bench/ programs, and the TestMain of the trainer and vision/models
// tests do). It reads DRGRADE_CPU_CACHE_MB (CPUCacheEnv) and returns a bad value as an error;
// without the call, libtorch keeps c10's default allocator.
//
// Threading: libtorch's autocast (like grad mode) is thread-local. Every function here acts on
// the calling OS thread, so callers must run on a goroutine that called runtime.LockOSThread
// and do all the tensor work of that loop there; Autocast checks nothing it cannot see, so
// that rule is the caller's.
//
// Ownership: tensors passed in are borrowed. FromSlice, FromSliceTo, RNGState and
// CUDARNGState create tensors, which the caller owns and must drop; nothing else here creates
// one.
package torchext
