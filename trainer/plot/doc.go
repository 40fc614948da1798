// Package plot renders the training report figures of drgrade as PNG files:
// per-epoch learning curves (Curves) and the validation confusion matrix
// (ConfusionMatrix). It mirrors the matplotlib figures a PyTorch training
// script would save, but is pure Go (gonum.org/v1/plot with its embedded
// Liberation fonts), so it needs no Python or system fonts at run time.
//
// Inputs are validated and reported as errors; non-finite metric values
// (e.g. an undefined kappa) are drawn as gaps. Files are written atomically
// (temporary file in the target directory, then rename), so a reader never
// sees a half-written PNG and a failed call leaves an existing file intact.
//
// Both functions keep no state and may be called from several goroutines.
package plot
