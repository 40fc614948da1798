// Package serve is `drgrade serve`: a trained grader behind HTTP in one binary, so a screening
// clinic can run a checkpoint without Python or a model server (TorchServe needs a Java server,
// a handler and a model archive).
//
// It is a library package, beside trainer, so the command stays flags and wiring and the
// server can be tested through real HTTP on loopback. The model is trainer.Grader, the code
// behind `drgrade predict`, so a batch served here gives predict's probabilities bit for bit.
// Requests are decoded concurrently (bounded by Config.Workers), gathered into batches of up to
// Config.MaxBatch images or Config.MaxWait, and run on one locked OS thread (internal/locked),
// where libtorch keeps its per-thread state. Every limit (body size, pixels, timeouts,
// concurrency, queue) is a Config field with a safe default; errors are JSON.
package serve
