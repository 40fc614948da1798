// Package models holds drgrade's model zoo: torchvision-compatible architectures written on
// gotch's tensor ops, with torchvision's parameter and buffer names, a registry keyed by the
// researcher's --model names, and state_dict I/O.
//
// Ownership: a model owns every parameter and buffer it registers in its StateDict and frees
// them in Close. Forward borrows its input and returns a new tensor the caller owns; every
// intermediate is freed before Forward returns (Sequential drops each stage's input once the
// next stage has consumed it).
//
// Threading: run forward/backward on one goroutine locked to its OS thread (grad mode and
// autocast are thread-local in libtorch).
package models
