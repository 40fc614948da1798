package loss_test

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
)

// The script's class weights and criterion:
//
//	class_weights = [1.0 / train_dataset.images_label.count(c) for c in range(args.num_classes)]
//	criterion = torch.nn.CrossEntropyLoss(weight=torch.FloatTensor(class_weights))
func ExampleNewCrossEntropy() {
	counts := []int{4, 1, 2} // images per class in train.txt
	classWeights, err := loss.ClassWeights(counts, "inverse")
	if err != nil {
		fmt.Println(err)
		return
	}
	criterion, err := loss.NewCrossEntropy(classWeights)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer criterion.Close() // the weights tensor belongs to the criterion

	logits, err := torchext.FromSlice([]float32{2, 0, 0, 0, 2, 0}, []int64{2, 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logits.MustDrop()
	targets := ts.MustOfSlice([]int64{0, 1})
	defer targets.MustDrop()
	l, err := criterion.Loss(logits, targets) // a new scalar tensor: ours to free
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.MustDrop()
	fmt.Printf("weights %.2f\nloss %.4f\n", classWeights, l.Float64Values()[0])
	// Output:
	// weights [0.25 1.00 0.50]
	// loss 0.2395
}

// FocalLoss(alpha=1, gamma=2) of the script: a confident right answer costs almost nothing.
func ExampleNewFocal() {
	criterion := loss.NewFocal(1, 2)
	defer criterion.Close()
	logits, err := torchext.FromSlice([]float32{4, 0, 0, 0, 0, 0}, []int64{2, 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logits.MustDrop()
	targets := ts.MustOfSlice([]int64{0, 2})
	defer targets.MustDrop()
	l, err := criterion.Loss(logits, targets)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.MustDrop()
	fmt.Printf("%.4f\n", l.Float64Values()[0])
	// Output:
	// 0.2442
}
