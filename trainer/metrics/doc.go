// Package metrics computes the validation metrics of the researcher's script (and the ones
// drgrade adds) from plain []int labels and predictions, with scikit-learn's semantics.
//
// Everything is derived from one Confusion (rows = true label, columns = prediction over the
// classes 0..N-1). sklearn scores a metric over a label set: either the labels present in
// y_true ∪ y_pred (its default, labels=None, which is what the script's
// precision_score(..., average='weighted') calls use) or an explicit labels=range(N). The two
// differ for macro averages and for the quadratic weighted kappa, so every such function takes
// a LabelSet; PresentLabels (the zero value) is the script's behaviour.
//
// Divisions by zero follow zero_division=0 (what sklearn's default "warn" returns); an
// undefined kappa is NaN, as sklearn 1.9's cohen_kappa_score(replace_undefined_by=np.nan).
//
// The package holds no state and is safe for concurrent use; a Confusion is not modified by
// any method.
package metrics
