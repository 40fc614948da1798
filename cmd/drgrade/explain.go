package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/explain"
	"github.com/drgrade/drgrade/vision/models"
)

// runExplain is `drgrade explain`: Grad-CAM heatmaps of a checkpoint's predicted (or --target)
// grade, as .npy and as an overlay PNG on the val-transformed image.
func runExplain(args []string, stdout, stderr io.Writer) error {
	fset := newFlags("explain", "--model M --weights W.pth --out DIR [--target G] IMG|DIR...", stdout, stderr)
	model := fset.String("model", "resnet", "model name: "+strings.Join(models.Names(), ", "))
	weights := fset.String("weights", "", "the checkpoint: drgrade's DDR.pth or last.pth, or a PyTorch state_dict / {'model': ...}")
	numClasses := fset.Int("num_classes", 5, "the number of classes")
	imgSize := fset.Int("img_size", 0, "crop size (0: 224; the model's with --transforms model); the resize is img_size·256/224 (img_size/crop_pct with --transforms model)")
	mode := fset.String("transforms", trainer.TransformsScript, transformsHelp)
	threads := fset.Int("threads", 0, "libtorch threads (0: libtorch's default)")
	device := fset.String("device", "cpu", deviceHelp)
	batchSize := fset.Int("batch_size", 8, "images per forward and backward pass")
	out := fset.String("out", "", "folder for <image>_cam.npy (the heatmap, float32 H×W in [0, 1]) and <image>_overlay.png")
	target := fset.Int("target", -1, "the grade to explain (-1: each image's predicted grade)")
	inputs, err := parseInputs(fset, args, stdout)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return usagef("give one or more images or folders to explain (see 'drgrade explain --help')")
	}
	if *out == "" {
		return usagef("--out is required: the folder for the heatmaps and overlays")
	}
	if *numClasses < 2 {
		return usagef("--num_classes must be at least 2, got %d", *numClasses)
	}
	if *target < -1 || *target >= *numClasses {
		return usagef("--target %d: want a grade 0–%d, or -1 for the predicted one", *target, *numClasses-1)
	}
	if *batchSize < 1 {
		return usagef("--batch_size must be at least 1, got %d", *batchSize)
	}
	if *mode != trainer.TransformsScript && *mode != trainer.TransformsModel {
		return usagef("--transforms %q: want %s or %s", *mode, trainer.TransformsScript, trainer.TransformsModel)
	}
	if _, err := models.Lookup(*model); err != nil {
		return usageError{err}
	}
	layer, err := explain.TargetLayer(*model)
	if err != nil {
		return usageError{err}
	}
	if *weights == "" {
		return usagef("--weights is required: the checkpoint to explain")
	}
	if _, err := os.Stat(*weights); err != nil {
		return usagef("weights file: '%s' does not exist or cannot be read", *weights)
	}
	paths, err := collectImages(inputs)
	if err != nil {
		return usageError{err}
	}
	if len(paths) == 0 {
		return usagef("no images (%s) found in %s", extList(), strings.Join(inputs, " "))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return usageError{fmt.Errorf("--out %s: %w", *out, err)}
	}
	var targets []int
	if *target >= 0 {
		targets = make([]int, len(paths))
		for i := range targets {
			targets[i] = *target
		}
	}
	ex, unreadable, err := trainer.ExplainFiles(trainer.ExplainConfig{Model: *model, Weights: *weights, NumClasses: *numClasses,
		ImgSize: *imgSize, Transforms: *mode, Threads: *threads, Device: *device, BatchSize: *batchSize}, paths, targets, stderr)
	if err != nil {
		if trainer.IsInputError(err) {
			return usageError{err}
		}
		return err
	}
	type row struct {
		path, overlay string
		r             explain.Result
	}
	var rows []row
	stems := explain.Stems(paths)
	stemOf := map[string]string{}
	for i, p := range paths {
		stemOf[p] = stems[i]
	}
	for _, e := range ex {
		_, ov, err := explain.Write(*out, stemOf[e.Path], e.Image, e.Result)
		if err != nil {
			return err
		}
		rows = append(rows, row{e.Path, ov, e.Result})
	}
	names := trainer.ClassNames(*numClasses)
	if len(rows) > 0 {
		t := tablewriter.NewWriter(stdout)
		t.Header("image", "grade", "name", "p grade", "target", "p target", "overlay")
		for _, r := range rows {
			_ = t.Append(r.path, strconv.Itoa(r.r.Pred), names[r.r.Pred], fmt.Sprintf("%.4f", r.r.Probs[r.r.Pred]),
				fmt.Sprintf("%d %s", r.r.Target, names[r.r.Target]), fmt.Sprintf("%.4f", r.r.Probs[r.r.Target]), r.overlay)
		}
		_ = t.Render()
		fmt.Fprintf(stdout, "heatmaps: %s/<image>_cam.npy (float32 [H, W] in [0, 1], at %s's %d×%d map resized to the input)\n",
			*out, layer, rows[0].r.CAMH, rows[0].r.CAMW)
	}
	if len(unreadable) > 0 {
		for _, e := range unreadable {
			fmt.Fprintf(stderr, "unreadable, skipped: %v\n", e)
		}
		return usagef("%d of %d images could not be read (listed above); the others were explained", len(unreadable), len(paths))
	}
	return nil
}
