package metrics_test

import (
	"fmt"

	"github.com/drgrade/drgrade/trainer/metrics"
)

// The script's sklearn calls, and what drgrade adds, on one epoch's validation predictions
// (the numbers in Output are sklearn 1.9.1's for the same lists):
//
//	cm = confusion_matrix(val_labels, val_preds)
//	precision = precision_score(val_labels, val_preds, average='weighted')   # and recall, f1
func Example() {
	valLabels := []int{0, 0, 0, 0, 1, 2, 2, 3, 4, 4}
	valPreds := []int{0, 0, 0, 2, 0, 2, 2, 2, 4, 2}

	cm, err := metrics.ConfusionMatrix(valLabels, valPreds, 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := metrics.Weighted(valLabels, valPreds, 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	kappa, err := metrics.QuadraticKappa(valLabels, valPreds, 5, metrics.AllLabels)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("confusion matrix:", cm)
	fmt.Printf("Precision: %.3f, Recall: %.3f, F1 Score: %.3f\n", w.Precision, w.Recall, w.F1)
	fmt.Printf("quadratic weighted kappa: %.3f\n", kappa)
	// Output:
	// confusion matrix: [[3 0 1 0 0] [1 0 0 0 0] [0 0 2 0 0] [0 0 1 0 0] [0 0 1 0 1]]
	// Precision: 0.580, Recall: 0.600, F1 Score: 0.548
	// quadratic weighted kappa: 0.757
}

// Evaluate computes every metric at once; EpochLines formats the two DDR.txt lines exactly as
// the script's '%.3f' strings.
func ExampleEvaluate() {
	r, err := metrics.Evaluate([]int{0, 1, 2, 2}, []int{0, 2, 2, 2}, 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accuracy %.2f, macro-F1 over the 5 grades %.3f, balanced accuracy %.3f\n",
		r.Accuracy, r.MacroAllLabels.F1, r.BalancedAccuracy)
	fmt.Print(metrics.EpochLines(0, 1.23456, 0.5, r.Accuracy, r.Weighted))
	// Output:
	// accuracy 0.75, macro-F1 over the 5 grades 0.360, balanced accuracy 0.667
	// [epoch 1] train_loss: 1.235  train_acc: 0.500  val_accuracy: 0.750
	// Precision: 0.583, Recall: 0.750, F1 Score: 0.650
}

// A Confusion answers the per-class questions the weighted scores hide.
func ExampleConfusion_PerClass() {
	c, err := metrics.NewConfusion([]int{0, 0, 1, 3, 3}, []int{0, 0, 0, 3, 1}, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	classes, err := c.PerClass(metrics.AllLabels)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range classes {
		fmt.Printf("grade %d: recall %.2f of %d\n", s.Label, s.Recall, s.Support)
	}
	// Output:
	// grade 0: recall 1.00 of 2
	// grade 1: recall 0.00 of 1
	// grade 2: recall 0.00 of 0
	// grade 3: recall 0.50 of 2
}
