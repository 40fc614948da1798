package pth_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/drgrade/drgrade/vision/models/pth"
)

// torch.save(model.state_dict(), path) and torch.load(path) without Python or libtorch: the
// file is PyTorch's zip format, which torch.load reads too.
func ExampleSave() {
	dir, err := os.MkdirTemp("", "pth-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	conv := make([]float32, 4*3*3*3)
	for i := range conv {
		conv[i] = float32(i) / 100
	}
	entries := []*pth.Entry{
		pth.NewFloat32("conv1.weight", []int{4, 3, 3, 3}, conv),
		pth.NewFloat32("bn1.running_mean", []int{4}, []float32{0.1, 0.2, 0.3, 0.4}),
		pth.NewInt64("bn1.num_batches_tracked", []int{}, []int64{120}),
		pth.NewFloat32("fc.bias", []int{5}, []float32{0, 0, 0, 0, 0}),
	}
	path := filepath.Join(dir, "model-best.pth")
	if err := pth.Save(path, entries); err != nil {
		fmt.Println(err)
		return
	}

	sd, err := pth.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("format:", sd.Format)
	for _, e := range sd.Entries {
		fmt.Printf("%-24s %-8s %v\n", e.Name, e.Dtype, e.Shape)
	}
	w, err := sd.Get("conv1.weight").Float32s()
	if err != nil {
		fmt.Println(err)
		return
	}
	steps, err := sd.Get("bn1.num_batches_tracked").Int64s()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("conv1.weight[0,0,0,:]:", w[:3], "num_batches_tracked:", steps[0])
	// Output:
	// format: zip
	// conv1.weight             float32  [4 3 3 3]
	// bn1.running_mean         float32  [4]
	// bn1.num_batches_tracked  int64    []
	// fc.bias                  float32  [5]
	// conv1.weight[0,0,0,:]: [0 0.01 0.02] num_batches_tracked: 120
}

// A checkpoint saved from a DataParallel or DistributedDataParallel model has every key
// prefixed with "module."; Load removes it, as scripts do with
//
//	state_dict = {k.replace('module.', ''): v for k, v in state_dict.items()}
func ExampleLoadReader() {
	var buf bytes.Buffer
	err := pth.Encode(&buf, []*pth.Entry{
		pth.NewFloat32("module.features.0.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		pth.NewFloat32("module.classifier.bias", []int{5}, []float32{0, 0, 0, 0, 0}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sd, err := pth.LoadReader(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("stripped %q\n", sd.StrippedPrefix)
	for _, e := range sd.Entries {
		fmt.Println(e.Name, e.Shape, e.Numel(), "elements")
	}
	// Output:
	// stripped "module."
	// features.0.weight [2 3] 6 elements
	// classifier.bias [5] 5 elements
}
