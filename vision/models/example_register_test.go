package models_test

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/vision/models"
)

// toyNet is a model of one's own, in one file: conv → batch norm → ReLU → global average
// pool → linear head, registered under --model toy_net. Its parameter names ("conv.weight",
// "bn.running_mean", "fc.bias", ...) are those a PyTorch module with attributes conv, bn and
// fc would have, so its DDR.pth loads in PyTorch and PyTorch's weights load here.
type toyNet struct {
	sd   *models.StateDict
	cfg  models.Config
	body models.Sequential
}

// newToyNet is the Constructor: fresh weights for numClasses outputs.
func newToyNet(numClasses int) (models.Model, error) {
	cfg, err := models.Lookup("toy_net") // the registered config, defaults filled in
	if err != nil {
		return nil, err
	}
	sd := models.NewStateDict()
	root := sd.Root()
	body := models.Sequential{
		models.NewConv2d(root.Sub("conv"), 3, 8, 3, models.ConvOpts{Padding: 1}, nil), // nn.Conv2d(3, 8, 3, padding=1)
		models.NewBatchNorm2d(root.Sub("bn"), 8),
		models.ReLU,
		models.AdaptiveAvgPool2d(1, 1),
		models.Flatten,
		models.NewLinear(root.Sub("fc"), 8, int64(numClasses)),
	}
	if err := sd.Err(); err != nil { // the first error of any registration above
		sd.Close()
		return nil, err
	}
	return &toyNet{sd: sd, cfg: cfg, body: body}, nil
}

func (m *toyNet) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	return m.body.ForwardT(x, train)
}
func (m *toyNet) StateDict() *models.StateDict { return m.sd }
func (m *toyNet) Config() models.Config        { return m.cfg }
func (m *toyNet) Close()                       { m.sd.Close() }

// One Register call makes it a --model choice for drgrade train, models.New and LoadWeights.
func init() {
	if err := models.Register("toy_net", newToyNet, models.Config{Arch: "toy", Classifier: "fc"}); err != nil {
		panic(err) // a duplicate name: another package registered toy_net
	}
}

// classic_models.find_model_using_name("toy_net", num_classes=5) after registration.
func ExampleRegister() {
	model, err := models.New("toy_net", 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer model.Close()
	x := ts.MustZeros([]int64{2, 3, 64, 64}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	y, err := model.ForwardT(x, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer y.MustDrop()
	fmt.Println(model.StateDict().Names())
	fmt.Println("output", y.MustSize(), "input size", model.Config().InputSize)
	// Output:
	// [conv.weight conv.bias bn.weight bn.bias bn.running_mean bn.running_var bn.num_batches_tracked fc.weight fc.bias]
	// output [2 5] input size 224
}
