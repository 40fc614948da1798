package plot_test

import (
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/drgrade/drgrade/trainer/plot"
)

// pngSize returns the pixel size of the PNG file at path.
func pngSize(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d×%d px", cfg.Width, cfg.Height), nil
}

// The validation confusion matrix a script would draw with sklearn's ConfusionMatrixDisplay
// and save with plt.savefig: rows are the true grades, columns the predicted ones.
func ExampleConfusionMatrix() {
	dir, err := os.MkdirTemp("", "plot-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	cm := [][]int{
		{412, 50, 20, 3, 2},
		{30, 12, 8, 1, 0},
		{40, 10, 300, 5, 6},
		{1, 0, 9, 7, 2},
		{3, 0, 10, 4, 55},
	}
	names := []string{"No DR", "Mild", "Moderate", "Severe", "Proliferative"}
	path := filepath.Join(dir, "confusion_matrix.png")
	if err := plot.ConfusionMatrix(path, "val, epoch 12", cm, names); err != nil {
		fmt.Println(err)
		return
	}
	size, err := pngSize(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(path), size)
	// Output:
	// confusion_matrix.png 1050×900 px
}

// The learning curves of a run, one CurvePoint per epoch (the values the script prints and
// logs to TensorBoard), with the best epoch marked; an undefined kappa (NaN) is left as a gap.
func ExampleCurves() {
	dir, err := os.MkdirTemp("", "plot-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	pts := []plot.CurvePoint{
		{Epoch: 1, TrainLoss: 1.31, TrainAcc: 0.48, ValAcc: 0.52, Kappa: math.NaN(), MacroF1: 0.20, LR: 1.5e-4},
		{Epoch: 2, TrainLoss: 1.02, TrainAcc: 0.61, ValAcc: 0.63, Kappa: 0.55, MacroF1: 0.34, LR: 5.0e-5},
		{Epoch: 3, TrainLoss: 0.88, TrainAcc: 0.68, ValAcc: 0.66, Kappa: 0.61, MacroF1: 0.40, LR: 2e-8},
	}
	path := filepath.Join(dir, "curves.png")
	if err := plot.Curves(path, "shufflenet, synthetic DDR", pts, 3); err != nil {
		fmt.Println(err)
		return
	}
	size, err := pngSize(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(path), size)
	// Output:
	// curves.png 1200×840 px
}
