// Package dist is drgrade's binding of PyTorch's own distributed engine, c10d, from libtorch
// 2.1: a TCPStore for the rendezvous, ProcessGroupGloo (CPU) or, in CUDA builds,
// ProcessGroupNCCL for the collectives, and c10d::Reducer, the bucketing all-reduce engine
// behind torch.nn.parallel.DistributedDataParallel. It is a cgo package like internal/torchext;
// trainer/ddp is its user.
//
// ProcessGroupGloo is declared in gloo_decl.hpp rather than through the real header, which
// needs gloo's headers (not in the libtorch wheel); see that file for how its layout is pinned.
//
// Threading: a Group's collectives must be issued in the same order on every rank, from one
// goroutine at a time. c10d runs them on its own threads; Reducer's hooks run inside backward
// on the thread that calls it.
//
// Ownership: tensors passed in are borrowed; AllGather returns tensors the caller owns.
// Store, Group, Work and Reducer hold C++ objects: Close them.
package dist
