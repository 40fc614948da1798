package models_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/vision/models"
)

// classic_models.find_model_using_name(args.model, num_classes=args.num_classes): the
// researcher's --model names, torchvision's architectures and parameter names.
func ExampleNew() {
	model, err := models.New("shufflenet_small", 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer model.Close() // the model owns its parameters

	cfg := model.Config()
	fmt.Println(cfg.Arch, cfg.InputSize, cfg.Classifier)
	fmt.Println(model.StateDict().NumParameters(), "parameters") // torchvision's count too

	images := ts.MustZeros([]int64{2, 3, 64, 64}, gotch.Float, gotch.CPU)
	defer images.MustDrop()
	logits, err := model.ForwardT(images, false) // model.eval(); model(images)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logits.MustDrop() // the result is the caller's
	fmt.Println(logits.MustSize())

	_, err = models.New("resnet5", 5)
	fmt.Println(err != nil)
	// Output:
	// shufflenet_v2_x0_5 224 fc
	// 346917 parameters
	// [2 5]
	// true
}

// train_original.py's weight loading: torch.load, the fc rows sliced to num_classes, then
// load_state_dict(strict=False); and torch.save(model.state_dict(), "DDR.pth").
func ExampleLoadWeights() {
	dir, err := os.MkdirTemp("", "models-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// A checkpoint with a 1000-class head, as ImageNet weights have.
	imagenet, err := models.New("shufflenet_small", 1000)
	if err != nil {
		fmt.Println(err)
		return
	}
	weights := filepath.Join(dir, "shufflenet_imagenet.pth")
	err = models.SaveStateDict(imagenet, weights)
	imagenet.Close()
	if err != nil {
		fmt.Println(err)
		return
	}

	model, err := models.New("shufflenet_small", 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer model.Close()
	report, err := models.LoadWeights(model, weights, models.HeadSlice)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(report.Loaded, "tensors loaded; missing", report.Missing, "unexpected", report.Unexpected)
	for _, h := range report.Head {
		fmt.Println(h)
	}
	// Output:
	// 338 tensors loaded; missing [] unexpected []
	// fc.weight sliced from [1000, 1024] to its first 5 rows [5, 1024]
	// fc.bias sliced from [1000] to its first 5 rows [5]
}
