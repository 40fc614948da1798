// Package loss holds the training criteria of the researcher's script: class-weighted
// cross-entropy (CrossEntropyLoss(weight=1/count), weighted mean) and FocalLoss(alpha, gamma),
// on gotch tensors.
//
// Extending: a new criterion is a Criterion (or a Func, for one that owns no tensors)
// registered under a name with Register; New builds any registered criterion by name, the
// built-ins as "cross_entropy" and "focal" (see docs/extending.md).
//
// Ownership (docs/ownership.md): loss functions borrow logits and targets and return a new
// scalar tensor the caller owns. Threading: call them on the training goroutine (locked to
// its OS thread).
package loss
