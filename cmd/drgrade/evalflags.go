package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
)

// evalFlags registers what eval and calibrate share: a checkpoint scored on a split with the
// trainer's val transforms (the model, its data, the pipeline, the machine). weights, split
// and tta are each command's own help for those flags.
func evalFlags(fs *flag.FlagSet, cfg *trainer.EvalConfig, weights, split, tta string) {
	fs.StringVar(&cfg.Model, "model", "resnet", "model name: "+strings.Join(models.Names(), ", "))
	fs.StringVar(&cfg.Weights, "weights", "", weights)
	fs.StringVar(&cfg.DataPath, "data_path", "data/DDR5", "data set folder with <split>/ and <split>.txt")
	dataFormatFlags(fs, &cfg.Data)
	fs.StringVar(&cfg.Split, "split", "val", split)
	fs.IntVar(&cfg.NumClasses, "num_classes", 5, "the number of classes")
	fs.IntVar(&cfg.BatchSize, "batch_size", 16, "batch size")
	fs.IntVar(&cfg.NumWorkers, "num_workers", -1, "data loading workers (-1: the script's min(cpus, batch_size, 8))")
	fs.IntVar(&cfg.ImgSize, "img_size", 0, "crop size (0: 224; the model's with --transforms model); the resize is img_size·256/224 (img_size/crop_pct with --transforms model)")
	fs.StringVar(&cfg.Transforms, "transforms", trainer.TransformsScript, transformsHelp)
	fs.StringVar(&cfg.Preprocess, "preprocess", "", preprocessHelp)
	fs.IntVar(&cfg.Threads, "threads", 0, "libtorch threads (0: libtorch's default)")
	fs.StringVar(&cfg.TTA, "tta", "", tta)
	fs.BoolVar(&cfg.SkipBad, "skip_bad_images", false, "skip unreadable images (reported) instead of stopping")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "no progress bar (automatic when stdout is not a terminal)")
	fs.StringVar(&cfg.Device, "device", "cpu", deviceHelp)
	gradeThresholdsFlag(fs, &cfg.GradeThresholds)
}

// gradeThresholdsFlag registers --grade_thresholds: a regression head's cut points.
func gradeThresholdsFlag(fs *flag.FlagSet, dst *[]float64) {
	fs.Func("grade_thresholds", "a --head regression checkpoint's grade thresholds, comma-separated, ascending, e.g. 0.5,1.5,2.5,3.5 (default: those stored with it, DDR.pth.json)", func(v string) error {
		var out []float64
		for _, f := range strings.Split(v, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%q is not a number", f)
			}
			if len(out) > 0 && !(x >= out[len(out)-1]) {
				return fmt.Errorf("%v: want them ascending", v)
			}
			out = append(out, x)
		}
		*dst = out
		return nil
	})
}
