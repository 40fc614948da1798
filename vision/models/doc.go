// Package models holds drgrade's model zoo: torchvision-compatible architectures written on
// gotch's tensor ops, with torchvision's parameter and buffer names, a registry keyed by the
// researcher's --model names, and state_dict I/O.
//
// Ownership (docs/ownership.md): a model owns every parameter and buffer it registers in its
// StateDict and frees them in Close. Forward borrows its input and returns a new tensor the
// caller owns; a layer's intermediates live in an own.Scope, and the stages of a pipeline
// (Sequential) in an own.Chain, which drops each once the next exists.
//
// Threading: run forward/backward on one goroutine locked to its OS thread (grad mode and
// autocast are thread-local in libtorch).
package models
