package metrics_test

import (
	"fmt"

	"github.com/drgrade/drgrade/trainer/metrics"
)

// Screening from 5-grade softmax rows: P(referable) = P(grade ≥ 2), its ROC AUC (sklearn's
// roc_auc_score), a bootstrap interval and the operating points.
func ExampleScreen() {
	probs := [][]float64{
		{0.70, 0.20, 0.05, 0.03, 0.02}, // No DR, P(referable) 0.1
		{0.50, 0.30, 0.10, 0.05, 0.05}, // Mild, 0.2
		{0.20, 0.30, 0.30, 0.10, 0.10}, // No DR, 0.5
		{0.30, 0.30, 0.20, 0.10, 0.10}, // Mild, 0.4
		{0.10, 0.10, 0.40, 0.20, 0.20}, // Moderate, 0.8
		{0.40, 0.30, 0.20, 0.05, 0.05}, // Severe, 0.3
		{0.05, 0.05, 0.20, 0.30, 0.40}, // Proliferative, 0.9
	}
	labels := []int{0, 1, 0, 1, 2, 3, 4}
	s, err := metrics.Screen(probs, labels, metrics.ScreenOptions{Bootstrap: 200, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	v := s.View(metrics.ViewReferable)
	fmt.Printf("referable: %d positives, %d negatives, ROC AUC %.3f, AP %.3f\n", v.Positives, v.Negatives, v.AUC, v.AP)
	for _, p := range v.Points {
		fmt.Printf("%-9s threshold %.2f: sensitivity %.2f, specificity %.2f\n", p.Name, p.Threshold, p.Sensitivity, p.Specificity)
	}
	// Output:
	// referable: 3 positives, 4 negatives, ROC AUC 0.833, AP 0.867
	// youden    threshold 0.80: sensitivity 0.67, specificity 1.00
	// sens_0.85 threshold 0.30: sensitivity 1.00, specificity 0.50
	// sens_0.90 threshold 0.30: sensitivity 1.00, specificity 0.50
	// sens_0.95 threshold 0.30: sensitivity 1.00, specificity 0.50
}
