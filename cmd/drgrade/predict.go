package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/explain"
	"github.com/drgrade/drgrade/vision/models"
)

// imageExts are the files a directory walk grades (explicit file arguments are always tried).
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true, ".dcm": true}

// runPredict is `drgrade predict`: grade photographs with a checkpoint.
func runPredict(args []string, stdout, stderr io.Writer) error {
	fset := newFlags("predict", "--model M --weights W.pth [--tta hflip] [--json] IMG|DIR...", stdout, stderr)
	var cfg trainer.PredictConfig
	fset.StringVar(&cfg.Model, "model", "resnet", "model name: "+strings.Join(models.Names(), ", "))
	fset.StringVar(&cfg.Weights, "weights", "", "the checkpoint: drgrade's DDR.pth or last.pth, or a PyTorch state_dict / {'model': ...}")
	fset.IntVar(&cfg.NumClasses, "num_classes", 5, "the number of classes")
	fset.IntVar(&cfg.BatchSize, "batch_size", 16, "batch size")
	fset.IntVar(&cfg.NumWorkers, "num_workers", -1, "data loading workers (-1: the script's min(cpus, batch_size, 8))")
	fset.IntVar(&cfg.ImgSize, "img_size", 0, "crop size (0: 224; the model's with --transforms model); the resize is img_size·256/224 (img_size/crop_pct with --transforms model)")
	fset.StringVar(&cfg.Transforms, "transforms", trainer.TransformsScript, transformsHelp)
	fset.StringVar(&cfg.Preprocess, "preprocess", "", preprocessHelp)
	fset.IntVar(&cfg.Threads, "threads", 0, "libtorch threads (0: libtorch's default)")
	fset.StringVar(&cfg.TTA, "tta", "", "test-time augmentation: hflip averages the softmax of each image and its mirror")
	fset.StringVar(&cfg.Device, "device", "cpu", deviceHelp)
	asJSON := fset.Bool("json", false, "print JSON instead of a table")
	fset.IntVar(&cfg.ReferableGrade, "referable_grade", 2, "P(referable) = P(grade ≥ this) (2: moderate or worse)")
	fset.StringVar(&cfg.Thresholds, "thresholds", "", "a thresholds.json of drgrade eval --out (e.g. on val): adds refer yes/no, P(referable) ≥ the --operating_point's threshold")
	fset.StringVar(&cfg.OperatingPoint, "operating_point", "", "which point of --thresholds refers: youden, sens_0.85, sens_0.90 (default) or sens_0.95")
	temperature := fset.String("temperature", "", temperatureHelp)
	gradeThresholdsFlag(fset, &cfg.GradeThresholds)
	explainDir := fset.String("explain", "", "also write Grad-CAM of each image's predicted grade here (<image>_cam.npy and <image>_overlay.png, as drgrade explain)")
	inputs, err := parseInputs(fset, args, stdout)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return usagef("give one or more images or folders to grade (see 'drgrade predict --help')")
	}
	paths, err := collectImages(inputs)
	if err != nil {
		return usageError{err}
	}
	if len(paths) == 0 {
		return usagef("no images (%s) found in %s", extList(), strings.Join(inputs, " "))
	}
	cfg.Quiet = *asJSON
	if cfg.Temperature, err = resolveTemperature(stderr, *temperature, cfg.Weights, cfg.NumClasses); err != nil {
		return err
	}
	if cfg.ReferableGrade < 1 {
		return usagef("--referable_grade must be at least 1 (grade ≥ it is referable), got %d", cfg.ReferableGrade)
	}
	referral, err := trainer.LoadReferral(cfg) // a bad --thresholds file fails before the model loads
	if err != nil {
		return usageError{err}
	}
	preds, skipped, err := trainer.PredictFiles(cfg, paths, stderr)
	if err != nil {
		if trainer.IsInputError(err) {
			return usageError{err}
		}
		return err
	}
	if *explainDir != "" && len(preds) > 0 {
		if err := explainPredictions(*explainDir, cfg, preds, stderr); err != nil {
			return err
		}
	}
	names := trainer.ClassNames(cfg.NumClasses)
	if *asJSON {
		type bad struct {
			Image string `json:"image"`
			Error string `json:"error"`
		}
		var bads []bad
		for _, s := range skipped {
			bads = append(bads, bad{s.Path, s.Err.Error()})
		}
		b, err := json.MarshalIndent(struct {
			Model       string               `json:"model"`
			Weights     string               `json:"weights"`
			TTA         string               `json:"tta,omitempty"`
			Temp        float64              `json:"temperature,omitempty"`
			Classes     []string             `json:"classes"`
			Predictions []trainer.Prediction `json:"predictions"`
			Unreadable  []bad                `json:"unreadable,omitempty"`
			Referral    *trainer.Referral    `json:"referral,omitempty"` // --thresholds: how refer is decided
		}{cfg.Model, cfg.Weights, cfg.TTA, cfg.Temperature, names, preds, bads, referral}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
	} else if len(preds) > 0 {
		t := tablewriter.NewWriter(stdout)
		head := []any{"image", "grade", "name"}
		for _, n := range names {
			head = append(head, n) // softmax probability of each grade
		}
		head = append(head, screeningColumns(preds[0], referral)...)
		t.Header(head...)
		for _, p := range preds {
			row := []any{p.Path, strconv.Itoa(p.Grade), p.Name}
			for _, v := range p.Probs {
				row = append(row, fmt.Sprintf("%.4f", v))
			}
			row = append(row, screeningCells(p)...)
			_ = t.Append(row...)
		}
		_ = t.Render()
		if referral != nil {
			fmt.Fprintf(stdout, "refer: P(referable) ≥ %.4f, the %s point chosen on %s (%s)\n",
				referral.Point.Threshold, referral.Point.Name, referral.ChosenOn, referral.File)
		}
	}
	if len(skipped) > 0 {
		for _, s := range skipped {
			fmt.Fprintf(stderr, "unreadable, skipped: %v\n", s.Err)
		}
		return usagef("%d of %d images could not be read (listed above); the others were graded", len(skipped), len(paths))
	}
	return nil
}

// collectImages expands the arguments: a file is taken as is, a directory is walked for image
// files (sorted, hidden files skipped). A missing argument is an error naming it.
func collectImages(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%s: no such file or folder", a)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != a {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading folder %s: %w", a, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

func extList() string {
	var e []string
	for k := range imageExts {
		e = append(e, k)
	}
	sort.Strings(e)
	return strings.Join(e, " ")
}

// screeningColumns are the table's screening headers: P(referable), P(any DR) where the
// classes have those grades, and refer with --thresholds.
func screeningColumns(p trainer.Prediction, r *trainer.Referral) []any {
	var h []any
	if p.PReferable != nil {
		h = append(h, "p referable")
	}
	if p.PAnyDR != nil {
		h = append(h, "p any DR")
	}
	if r != nil {
		h = append(h, "refer")
	}
	return h
}

func screeningCells(p trainer.Prediction) []any {
	var c []any
	for _, v := range []*float64{p.PReferable, p.PAnyDR} {
		if v != nil {
			c = append(c, fmt.Sprintf("%.4f", *v))
		}
	}
	if p.Refer != nil {
		c = append(c, map[bool]string{true: "yes", false: "no"}[*p.Refer])
	}
	return c
}

// explainPredictions is predict --explain: Grad-CAM of each graded image's predicted grade
// (with --tta the grade predict gave, not the single view's argmax), written as explain does.
func explainPredictions(dir string, cfg trainer.PredictConfig, preds []trainer.Prediction, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usageError{fmt.Errorf("--explain %s: %w", dir, err)}
	}
	paths, targets := make([]string, len(preds)), make([]int, len(preds))
	for i, p := range preds {
		paths[i], targets[i] = p.Path, p.Grade
	}
	ex, _, err := trainer.ExplainFiles(trainer.ExplainConfig{Model: cfg.Model, Weights: cfg.Weights, NumClasses: cfg.NumClasses,
		ImgSize: cfg.ImgSize, Transforms: cfg.Transforms, Threads: cfg.Threads, Device: cfg.Device}, paths, targets, io.Discard)
	if err != nil {
		if trainer.IsInputError(err) {
			return usageError{err}
		}
		return err
	}
	stems := explain.Stems(paths)
	for i, e := range ex {
		if _, _, err := explain.Write(dir, stems[i], e.Image, e.Result); err != nil {
			return err
		}
	}
	fmt.Fprintf(log, "wrote Grad-CAM heatmaps and overlays of %d images to %s\n", len(ex), dir)
	return nil
}

// parseInputs parses fset's flags and returns the other arguments (images, folders): flags may
// come before, between or after them (Go's flag package stops at the first non-flag argument,
// so it parses again after each one).
func parseInputs(fset *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	var inputs []string
	for {
		if err := parse(fset, args, stdout); err != nil {
			return nil, err
		}
		if fset.NArg() == 0 {
			return inputs, nil
		}
		inputs = append(inputs, fset.Arg(0))
		args = fset.Args()[1:]
	}
}
