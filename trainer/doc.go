// Package trainer is the researcher's train.py in Go: the epoch loop, optimiser and
// learning-rate schedules (warmup, cosine LambdaLR), AMP, evaluation and metrics, logging
// (DDR.txt, TensorBoard, CSV/JSON) and checkpoints.
//
// Run is the whole script (what `drgrade train` calls). To write the loop yourself, as the
// Python does, use the same pieces: RunLocked, ManualSeed, NewAdam, schedule.NewScript,
// TrainOneEpoch, Evaluate and the metrics package; examples/train_ddr is that loop, and
// docs/porting.md maps every PyTorch call to its drgrade counterpart. RegisterMetric adds a
// --best_metric choice (docs/extending.md).
//
// Threading: all tensor work of one training or evaluation loop runs on a single goroutine
// that called runtime.LockOSThread (RunLocked does both), because libtorch's grad mode and
// autocast state are thread-local. Data loading happens on other goroutines and hands over
// plain Go buffers.
//
// Ownership: the function that creates a tensor owns it and frees it (with defer where it
// reads clearly); returning a tensor hands it to the caller; arguments are borrowed.
package trainer
