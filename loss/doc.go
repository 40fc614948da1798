// Package loss holds the training criteria of the researcher's script: class-weighted
// cross-entropy (CrossEntropyLoss(weight=1/count), weighted mean) and FocalLoss(alpha, gamma),
// on gotch tensors.
//
// Ownership: loss functions borrow logits and targets and return a new scalar tensor the
// caller owns. Threading: call them on the training goroutine (locked to its OS thread).
package loss
