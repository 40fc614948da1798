// Package trainer is the researcher's train.py in Go: the epoch loop, optimiser and
// learning-rate schedules (warmup, cosine LambdaLR), AMP, evaluation and metrics, logging
// (DDR.txt, TensorBoard, CSV/JSON) and checkpoints.
//
// Threading: all tensor work of one training or evaluation loop runs on a single goroutine
// that called runtime.LockOSThread, because libtorch's grad mode and autocast state are
// thread-local. Data loading happens on other goroutines and hands over plain Go buffers.
//
// Ownership: the function that creates a tensor owns it and frees it (with defer where it
// reads clearly); returning a tensor hands it to the caller; arguments are borrowed.
package trainer
