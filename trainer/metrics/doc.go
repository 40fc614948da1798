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
// DR screening is judged on probabilities, not predictions: Screen makes the binary views
// P(referable) = P(grade ≥ 2) and P(any DR) = P(grade ≥ 1) of per-sample class probabilities
// (DDR's Ungradable class left out) and reports, like sklearn and NumPy to the bit, their
// ROC AUC and average precision with stratified-bootstrap percentile intervals, DeLong's
// standard error, the binary Brier score and operating points (Youden's and the thresholds
// reaching sensitivity 0.85/0.90/0.95, each with sensitivity, specificity, PPV, NPV and
// counts). Calibrate gives the expected calibration error (15 equal-width bins, top-label and
// per class, with every bin's statistics) and the multi-class Brier score. The curves, bins
// and bootstrap values a plot needs are in the results' fields.
//
// The package holds no state and is safe for concurrent use; a Confusion is not modified by
// any method.
package metrics
