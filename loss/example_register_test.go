package loss_test

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
)

// unweightedCE is a criterion of one's own: plain torch.nn.CrossEntropyLoss(), ignoring the
// class weights. Any function of this shape is a loss.Func; a criterion that owns tensors
// (weights, say) implements loss.Criterion and frees them in Close.
func unweightedCE(logits, targets *ts.Tensor) (*ts.Tensor, error) {
	none := ts.NewTensor() // weight=None
	defer none.MustDrop()
	return logits.CrossEntropyLoss(targets, none, 1 /* mean */, -100, 0, false)
}

// Register it once, from an init function, under the name the loss is chosen by.
func init() {
	err := loss.Register("unweighted_ce", func(opts loss.Options) (loss.Criterion, error) {
		return loss.Func(unweightedCE), nil // opts carries the class counts and flags, if needed
	})
	if err != nil {
		panic(err) // a name taken twice is a programming error
	}
}

// New builds any registered criterion by name, as the trainer builds "cross_entropy" and
// "focal".
func ExampleRegister() {
	criterion, err := loss.New("unweighted_ce", loss.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer criterion.Close()
	logits, err := torchext.FromSlice([]float32{0, 0, 0}, []int64{1, 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logits.MustDrop()
	targets := ts.MustOfSlice([]int64{1})
	defer targets.MustDrop()
	l, err := criterion.Loss(logits, targets)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.MustDrop()
	fmt.Printf("ln 3 = %.4f\n", l.Float64Values()[0])
	// Output:
	// ln 3 = 1.0986
}
