package trainer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/trainer/plot"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
	"github.com/drgrade/drgrade/vision/preprocess"
	"github.com/drgrade/drgrade/vision/transforms"
)

// InputError marks an error caused by the user's input (flags, data set, weights file), as
// opposed to a failure while running: the command line exits with status 2 for these.
type InputError struct{ Err error }

// Error is the wrapped error's message, unchanged.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error, for errors.Is and errors.As.
func (e *InputError) Unwrap() error { return e.Err }

// IsInputError reports whether err is, or wraps, an error caused by the user's input: an
// *InputError (flags, weights, output folder), a data set problem or an unreadable image. Every
// subcommand exits 2 for these (cmd/drgrade), 1 for a failure while running.
func IsInputError(err error) bool {
	var ie *InputError
	var de *dataset.Error
	var me *imageio.Error
	return errors.As(err, &ie) || errors.As(err, &de) || errors.As(err, &me)
}

func inputErr(err error) error {
	if err == nil {
		return nil
	}
	return &InputError{err}
}

// LoadCheckpoint loads the weights of a trained model for evaluation: drgrade's DDR.pth (a
// state_dict), its last.pth (the model.* entries), or a PyTorch file — a torchvision
// state_dict, a {'model': ...} / {'state_dict': ...} checkpoint, DataParallel's "module."
// names. Unlike --weights for training, every tensor of the model must be in the file: a
// checkpoint of another architecture is an error, not a silently half-random model. A larger
// classifier is sliced to the model's rows, as the script does, and reported.
func LoadCheckpoint(m models.Model, path string) (*models.LoadReport, error) {
	ck, err := readCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return loadCheckpointFrom(m, ck, path)
}

// checkpoint is a weights file read for scoring: the model's state_dict, and a regression
// head's grade thresholds when the file carries them (nil: none).
type checkpoint struct {
	src        *pth.StateDict
	thresholds []float64
	from       string // where the thresholds came from
	infoErr    error  // <path>.json could not be read
}

// readCheckpoint reads path for LoadCheckpoint, with the grade thresholds of a regression run:
// a last.pth's own (recipe_state_json), or those of <path>.json (DDR.pth.json).
func readCheckpoint(path string) (*checkpoint, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("weights file: '%s' does not exist or cannot be read", path)
	}
	src, err := pth.Load(path)
	if err != nil {
		return nil, fmt.Errorf("weights file %w", err) // pth.Load's errors start with the path
	}
	ck := &checkpoint{src: src}
	if src.Get(ckFormatKey) != nil { // drgrade's last.pth: keep the model's entries
		if e := src.Get(ckRecipeState); e != nil {
			var st recipeState
			if err := json.Unmarshal(e.Data, &st); err != nil {
				return nil, fmt.Errorf("weights file %s: %s: %w", path, ckRecipeState, err)
			}
			ck.thresholds, ck.from = st.Thresholds, path
		}
		ck.src = lastModelEntries(src)
		return ck, nil
	}
	info := path + bestInfoSuffix
	b, err := os.ReadFile(info)
	if os.IsNotExist(err) {
		return ck, nil
	}
	var bi bestInfo
	if err == nil {
		err = json.Unmarshal(b, &bi)
	}
	if err != nil { // an error only if a regression head needs its thresholds (headReport)
		ck.infoErr = fmt.Errorf("%s (beside the weights): %w", info, err)
		return ck, nil
	}
	ck.thresholds, ck.from = bi.GradeThresholds, info
	return ck, nil
}

// loadCheckpointFrom is LoadCheckpoint of a file readCheckpoint read.
func loadCheckpointFrom(m models.Model, ck *checkpoint, path string) (*models.LoadReport, error) {
	src := ck.src
	r, err := models.LoadStateDict(m, src, models.HeadSlice)
	if err != nil {
		return nil, fmt.Errorf("weights file %s: %w", path, err)
	}
	r.File = path
	if len(r.Missing) > 0 {
		cfg := m.Config()
		n := len(m.StateDict().Entries())
		ex := r.Missing
		if len(ex) > 3 {
			ex = ex[:3]
		}
		return nil, fmt.Errorf("weights file %s: %d of the %d tensors of --model %s (%s) are not in it (e.g. %s): is it a checkpoint of another model?",
			path, len(r.Missing), n, cfg.Name, cfg.Arch, strings.Join(ex, ", "))
	}
	return r, nil
}

// EvalConfig is what `drgrade eval` needs: a model, its checkpoint and a split to score.
type EvalConfig struct {
	Model      string // --model
	Weights    string // --weights: see LoadCheckpoint
	DataPath   string // --data_path
	Split      string // train, val (default) or test
	NumClasses int    // --num_classes
	BatchSize  int    // --batch_size
	NumWorkers int    // --num_workers; < 0: the script's default
	ImgSize    int    // --img_size; 0: 224 (or the model's input size with Transforms "model")
	Transforms string // --transforms: script ("", train_imbalance.py's for every model) or model
	Preprocess string // --preprocess: vision/preprocess chain before the transforms ("": none)
	Threads    int    // --threads; 0: libtorch's default
	TTA        string // --tta: "" or "hflip"
	SkipBad    bool   // --skip_bad_images
	Quiet      bool   // no progress bar
	Device     string // --device: cpu, 0, cuda:0 ("": the CPU)

	// Data is how DataPath is stored: --data_format, --image_col, --label_col, --image_ext (zero: detected).
	Data dataset.Options

	// DR screening (metrics.Screen): the referable view is grade ≥ ReferableGrade (0: 2);
	// Bootstrap stratified resamples (0: no intervals) drawn from Seed; Thresholds, a
	// thresholds.json written by an earlier eval, whose operating points are applied
	// unchanged instead of chosen on this split.
	ReferableGrade int    // --referable_grade
	Bootstrap      int    // --bootstrap
	Seed           uint64 // --seed
	Thresholds     string // --thresholds
	// Temperature > 0 divides the logits before the softmax (--temperature, a calibration
	// file: trainer/calibrate); predictions are unchanged without TTA. 0: none.
	Temperature float64
	Logits      bool // keep the raw logits in Result.Logits (for calibration; not with TTA)
	// GradeThresholds override a regression head's stored thresholds (--grade_thresholds).
	GradeThresholds []float64
}

// EvalOutput is one scored split.
type EvalOutput struct {
	Config  EvalConfig
	Arch    string // the torchvision architecture behind Config.Model
	Dataset *dataset.Dataset
	Load    *models.LoadReport
	Result  EvalResult // predictions, labels and softmax, in loader order; Index maps to Dataset
	Report  metrics.Report
	// Screening holds the referable and any-DR views: AUC, AP, intervals, operating points,
	// and for plots their curves, bootstrap bands and samples. Calibration holds the ECE with
	// its bins and the Brier score.
	Screening   metrics.Screening
	Calibration metrics.Calibration
	// Applied is the --thresholds file whose operating points were applied (nil: chosen here).
	Applied *ThresholdsFile
}

// EvalCheckpoint scores a checkpoint on a split with the script's val transforms and
// evaluate(), then the trainer's metrics. It runs the tensor work on a locked OS thread.
func EvalCheckpoint(cfg EvalConfig, out io.Writer, stop func() bool) (*EvalOutput, error) {
	if cfg.Split == "" {
		cfg.Split = "val"
	}
	sc := scoring{model: cfg.Model, weights: cfg.Weights, device: cfg.Device, tta: cfg.TTA, transforms: cfg.Transforms, preprocess: cfg.Preprocess,
		numClasses: cfg.NumClasses, batchSize: cfg.BatchSize, imgSize: cfg.ImgSize, numWorkers: cfg.NumWorkers,
		threads: cfg.Threads, skipBad: cfg.SkipBad, temperature: cfg.Temperature, logits: cfg.Logits,
		gradeThresholds: cfg.GradeThresholds}
	mcfg, err := sc.check("evaluate")
	if err != nil {
		return nil, err
	}
	applied, err := checkScreening(&cfg)
	if err != nil {
		return nil, err
	}
	ds, err := cfg.Data.Load(cfg.DataPath, cfg.Split, cfg.NumClasses)
	if err != nil {
		return nil, inputErr(err)
	}
	fmt.Fprintln(out, ds.FoundMessage())
	o := &EvalOutput{Config: cfg, Arch: mcfg.Arch, Dataset: ds, Applied: applied}
	o.Result, o.Load, err = sc.score(mcfg, ds, out, out, func(n int) *Progress { return NewProgress(out, n, cfg.Quiet) }, stop)
	if err != nil {
		return nil, err
	}
	if o.Report, err = metrics.Evaluate(o.Result.Labels, o.Result.Preds, cfg.NumClasses); err != nil {
		return nil, err
	}
	if err := o.screen(); err != nil {
		return nil, err
	}
	return o, nil
}

// PrintReport prints an evaluation the way the trainer logs an epoch: the headline metrics,
// the per-class table and the confusion matrix.
func PrintReport(w io.Writer, r metrics.Report) {
	fmt.Fprintf(w, "accuracy %.4f  balanced accuracy %.4f  quadratic weighted kappa %s\n",
		r.Accuracy, r.BalancedAccuracy, fmtNaN(r.QWK))
	fmt.Fprintf(w, "weighted precision %.4f  recall %.4f  F1 %.4f   macro precision %.4f  recall %.4f  F1 %.4f\n",
		r.Weighted.Precision, r.Weighted.Recall, r.Weighted.F1,
		r.MacroAllLabels.Precision, r.MacroAllLabels.Recall, r.MacroAllLabels.F1)
	printTables(w, r)
}

func fmtNaN(x float64) string {
	if x != x {
		return "undefined"
	}
	return fmt.Sprintf("%.4f", x)
}

// ClassNames are the grade names of classes 0..n-1 (No DR ... Proliferative, Ungradable).
func ClassNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = dataset.GradeName(i)
	}
	return names
}

// WriteEvalFiles writes an evaluation's files into dir (created if needed), each atomically:
// metrics.json (the report, "screening" and "calibration"), per_class.csv, predictions.csv
// (image, label, prediction, each class's probability and each screening view's, in data set
// order), thresholds.json (the operating points, for --thresholds), confusion_matrix.png and the
// screening figures (WriteScreeningFigures: roc.png, pr.png, calibration.png).
func WriteEvalFiles(dir string, o *EvalOutput) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output folder %s: %w", dir, err)
	}
	names := ClassNames(o.Config.NumClasses)
	js, err := json.MarshalIndent(struct {
		Model   string         `json:"model"`
		Arch    string         `json:"arch"`
		Weights string         `json:"weights"`
		Data    string         `json:"data_path"`
		Split   string         `json:"split"`
		TTA     string         `json:"tta,omitempty"`
		Skipped int            `json:"skipped_images"`
		Temp    float64        `json:"temperature,omitempty"` // applied to the probabilities of predictions.csv
		Report  metrics.Report `json:"metrics"`
		Screen  any            `json:"screening"`
		Calib   any            `json:"calibration"`
	}{o.Config.Model, o.Arch, o.Config.Weights, o.Config.DataPath, o.Config.Split, o.Config.TTA,
		len(o.Result.Skipped), o.Config.Temperature, o.Report, o.Screening, o.Calibration}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "metrics.json"), append(js, '\n')); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "per_class.csv"), PerClassCSV(o.Report, names)); err != nil {
		return err
	}
	pred, err := PredictionsCSV(o, names)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "predictions.csv"), pred); err != nil {
		return err
	}
	th, err := json.MarshalIndent(o.Thresholds(), "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "thresholds.json"), append(th, '\n')); err != nil {
		return err
	}
	title := fmt.Sprintf("%s on %s/%s — accuracy %.3f, kappa %s", o.Config.Model, filepath.Base(filepath.Clean(o.Config.DataPath)),
		o.Config.Split, o.Report.Accuracy, fmtNaN(o.Report.QWK))
	if err := plot.ConfusionMatrix(filepath.Join(dir, "confusion_matrix.png"), title, o.Report.ConfusionMatrix, names); err != nil {
		return err
	}
	return WriteScreeningFigures(dir, o)
}

// PerClassCSV is the per-class table as CSV: grade, name, precision, recall, f1, support.
func PerClassCSV(r metrics.Report, names []string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"grade", "name", "precision", "recall", "f1", "support"})
	for c, s := range r.PerClass {
		_ = w.Write([]string{strconv.Itoa(c), names[c], f6(s.Precision), f6(s.Recall), f6(s.F1), strconv.Itoa(s.Support)})
	}
	for _, avg := range []struct {
		name string
		a    metrics.Averages
	}{{"weighted", r.Weighted}, {"macro", r.MacroAllLabels}} {
		_ = w.Write([]string{"", avg.name, f6(avg.a.Precision), f6(avg.a.Recall), f6(avg.a.F1), strconv.Itoa(r.Samples)})
	}
	w.Flush()
	return b.Bytes()
}

// PredictionsCSV lists every scored image in data set order: image, label, prediction,
// their grade names, prob_0..prob_{C-1} (softmax, averaged over TTA views), then
// p_referable and p_any_dr, the probabilities of the screening views that exist.
func PredictionsCSV(o *EvalOutput, names []string) ([]byte, error) {
	res := o.Result
	if len(res.Probs) != len(res.Preds) || len(res.Index) != len(res.Preds) {
		return nil, fmt.Errorf("predictions: %d predictions, %d probability rows, %d indices", len(res.Preds), len(res.Probs), len(res.Index))
	}
	order := make([]int, len(res.Preds)) // positions sorted by data set index
	for i := range order {
		order[i] = i
	}
	sortByIndex(order, res.Index)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{"image", "label", "prediction", "label_name", "prediction_name"}
	for c := range names {
		head = append(head, "prob_"+strconv.Itoa(c))
	}
	ungradable := UngradableClass(len(names))
	views, grades := metrics.ViewGrades(len(names), ungradable, o.Screening.ReferableGrade)
	for _, v := range views {
		head = append(head, "p_"+v)
	}
	_ = w.Write(head)
	for _, i := range order {
		row := []string{o.Dataset.Names[res.Index[i]], strconv.Itoa(res.Labels[i]), strconv.Itoa(res.Preds[i]),
			names[res.Labels[i]], names[res.Preds[i]]}
		for _, p := range res.Probs[i] {
			row = append(row, strconv.FormatFloat(float64(p), 'g', 8, 32))
		}
		for _, g := range grades {
			row = append(row, strconv.FormatFloat(metrics.PositiveScore(res.Probs[i], g, ungradable), 'g', 8, 64))
		}
		_ = w.Write(row)
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

func f6(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }

// sortByIndex sorts positions by their data set index (insertion sort is enough: the loader
// already delivers in order unless images were skipped).
func sortByIndex(pos, index []int) {
	for i := 1; i < len(pos); i++ {
		for j := i; j > 0 && index[pos[j]] < index[pos[j-1]]; j-- {
			pos[j], pos[j-1] = pos[j-1], pos[j]
		}
	}
}

// PredictConfig is what `drgrade predict` needs.
type PredictConfig struct {
	Model      string
	Weights    string
	NumClasses int
	BatchSize  int
	NumWorkers int    // < 0: the script's default
	ImgSize    int    // 0: 224 (or the model's input size with Transforms "model")
	Transforms string // script ("") or model, as EvalConfig
	Preprocess string // as EvalConfig
	Threads    int
	TTA        string // "" or "hflip"
	Quiet      bool
	Device     string // cpu, 0, cuda:0 ("": the CPU)

	// ReferableGrade: P(referable) = P(grade ≥ it) (0: 2). Thresholds, a thresholds.json of
	// `drgrade eval`, and OperatingPoint, one of its points ("": DefaultOperatingPoint), make
	// each image's refer yes/no: P(referable) ≥ that point's threshold.
	ReferableGrade int
	Thresholds     string
	OperatingPoint string
	// Temperature > 0: the probabilities are softmax(logits/T) (EvalConfig.Temperature). 0: none.
	Temperature float64
	// GradeThresholds override a regression head's stored thresholds (--grade_thresholds).
	GradeThresholds []float64
}

// Prediction is one graded image.
type Prediction struct {
	Path  string    `json:"image"`
	Grade int       `json:"grade"`
	Name  string    `json:"grade_name"`
	Probs []float32 `json:"probabilities"`
	// PReferable and PAnyDR are P(grade ≥ the referable grade) and P(grade ≥ 1), DDR's
	// Ungradable not counted (nil where the classes have no such grade); Refer is
	// PReferable ≥ the --thresholds operating point's threshold (nil without --thresholds).
	PReferable *float64 `json:"p_referable,omitempty"`
	PAnyDR     *float64 `json:"p_any_dr,omitempty"`
	Refer      *bool    `json:"refer,omitempty"`
}

// PredictFiles grades images with a checkpoint through the val transforms. Files that cannot
// be decoded are returned in skipped (with why), not as an error: the caller reports them.
func PredictFiles(cfg PredictConfig, paths []string, out io.Writer) (preds []Prediction, skipped []loader.Skipped, err error) {
	if len(paths) == 0 {
		return nil, nil, inputErr(errors.New("no images to grade"))
	}
	sc := scoring{model: cfg.Model, weights: cfg.Weights, device: cfg.Device, tta: cfg.TTA, transforms: cfg.Transforms, preprocess: cfg.Preprocess,
		numClasses: cfg.NumClasses, batchSize: cfg.BatchSize, imgSize: cfg.ImgSize, numWorkers: cfg.NumWorkers,
		threads: cfg.Threads, skipBad: true, temperature: cfg.Temperature, gradeThresholds: cfg.GradeThresholds}
	mcfg, err := sc.check("grade with")
	if err != nil {
		return nil, nil, err
	}
	referral, err := LoadReferral(cfg)
	if err != nil {
		return nil, nil, err
	}
	// The images as an unlabelled split: the loader's decode, transforms and batching.
	ds := &dataset.Dataset{Split: "predict", Names: paths, Paths: paths, Labels: make([]int, len(paths)),
		NumClasses: cfg.NumClasses, ClassCounts: make([]int, cfg.NumClasses)}
	ds.ClassCounts[0] = len(paths)
	note := out
	if cfg.Quiet {
		note = io.Discard
	}
	res, _, err := sc.score(mcfg, ds, note, note, nil, nil)
	if len(res.Skipped) == len(paths) {
		err = nil // every image unreadable: reported through skipped
	}
	if err != nil {
		return nil, res.Skipped, err
	}
	order := make([]int, len(res.Preds))
	for i := range order {
		order[i] = i
	}
	sortByIndex(order, res.Index)
	for _, i := range order {
		p := Prediction{Path: paths[res.Index[i]], Grade: res.Preds[i], Name: dataset.GradeName(res.Preds[i]), Probs: res.Probs[i]}
		referral.grade(&p, cfg)
		preds = append(preds, p)
	}
	return preds, res.Skipped, nil
}

// scoring is what eval and predict share: a --model with a checkpoint's weights, scored on a
// data set through the val transforms.
type scoring struct {
	model, weights, device, tta, transforms, preprocess string
	numClasses, batchSize, imgSize, numWorkers, threads int
	skipBad                                             bool
	temperature                                         float64   // > 0: softmax(logits/T)
	logits                                              bool      // keep the raw logits
	gradeThresholds                                     []float64 // --grade_thresholds (regression head; nil: the checkpoint's)
}

// check refuses bad flags before anything is loaded (errors are InputErrors); what says what
// the checkpoint is for in the error of a missing --weights.
func (c scoring) check(what string) (models.Config, error) {
	if c.batchSize < 1 {
		return models.Config{}, inputErr(fmt.Errorf("--batch_size must be at least 1, got %d", c.batchSize))
	}
	if c.numClasses < 2 {
		return models.Config{}, inputErr(fmt.Errorf("--num_classes must be at least 2, got %d", c.numClasses))
	}
	if err := checkTTA(c.tta); err != nil {
		return models.Config{}, inputErr(err)
	}
	if err := checkCalibration(c.tta, c.temperature, c.logits); err != nil {
		return models.Config{}, inputErr(err)
	}
	if err := checkTransforms(c.transforms); err != nil {
		return models.Config{}, inputErr(err)
	}
	if _, err := preprocess.Parse(c.preprocess); err != nil {
		return models.Config{}, inputErr(err)
	}
	mcfg, err := models.Lookup(c.model)
	if err != nil {
		return mcfg, inputErr(err)
	}
	if c.weights == "" {
		return mcfg, inputErr(fmt.Errorf("--weights is required: the checkpoint to %s", what))
	}
	if _, err := os.Stat(c.weights); err != nil {
		return mcfg, inputErr(fmt.Errorf("weights file: '%s' does not exist or cannot be read", c.weights))
	}
	return mcfg, nil
}

// score loads the model on a locked OS thread and runs evaluate over ds with the val
// transforms, keeping every softmax. The device note goes to note, the load report to out.
func (c scoring) score(mcfg models.Config, ds *dataset.Dataset, note, out io.Writer, bar func(n int) *Progress,
	stop func() bool) (res EvalResult, report *models.LoadReport, err error) {
	tcfg := TransformConfig(mcfg, c.imgSize, c.transforms)
	pipe, err := transforms.ValPipeline(tcfg)
	if err != nil {
		return res, nil, err
	}
	pre, err := preprocess.Parse(c.preprocess)
	if err != nil {
		return res, nil, inputErr(err)
	}
	pre.Prepend(pipe)
	nw := loader.DefaultWorkers(c.batchSize)
	if c.numWorkers >= 0 {
		nw = c.numWorkers
	}
	dl, err := loader.New(ds, pipe, tcfg.CropSize, loader.Options{BatchSize: c.batchSize, Workers: nw, SkipBad: c.skipBad})
	if err != nil {
		return res, nil, err
	}
	locked.Run(func() {
		var m models.Model
		var dev gotch.Device
		if m, dev, err = c.loadModel(&report, note); err != nil {
			return
		}
		defer m.Close()
		fmt.Fprintln(out, report)
		var p *Progress
		if bar != nil {
			p = bar(dl.Len())
		}
		res, err = EvaluateWith(m, dl, EvalOptions{Probs: true, TTA: c.tta, Progress: p, Stop: stop, Device: dev,
			Temperature: c.temperature, Logits: c.logits, Thresholds: report.GradeThresholds})
	})
	return res, report, err
}

// loadModel builds --model on --device with the checkpoint's weights (on a locked OS thread);
// *report gets LoadCheckpoint's report. A --device asking for CUDA where there is none falls
// back to the CPU, with the note printed to out.
func (c scoring) loadModel(report **models.LoadReport, out io.Writer) (models.Model, gotch.Device, error) {
	device := c.device
	if device == "" {
		device = "cpu"
	}
	dev, note, err := SelectDevice(device)
	if err != nil {
		return nil, dev, inputErr(err)
	}
	if note != "" {
		fmt.Fprintf(out, "Using device: %s%s\n", DeviceName(dev), note)
	}
	if c.threads > 0 {
		torchext.SetNumThreads(c.threads)
	}
	ck, err := readCheckpoint(c.weights)
	if err != nil {
		return nil, dev, inputErr(err)
	}
	mcfg, err := models.Lookup(c.model)
	if err != nil {
		return nil, dev, inputErr(err)
	}
	head := models.DetectHead(ck.src, mcfg, c.numClasses) // the checkpoint's output head
	m, err := models.NewHead(c.model, c.numClasses, head)
	if err != nil {
		return nil, dev, err
	}
	if err = ToDevice(m, dev); err == nil {
		*report, err = loadCheckpointFrom(m, ck, c.weights)
		if err == nil {
			err = c.headReport(*report, head, ck)
		}
		err = inputErr(err)
	}
	if err != nil {
		m.Close()
		return nil, dev, err
	}
	return m, dev, nil
}

// headReport notes the checkpoint's output head in the report, and a regression head's grade
// thresholds: --grade_thresholds, else the checkpoint's, else rounding.
func (c scoring) headReport(r *models.LoadReport, head string, ck *checkpoint) error {
	if c.gradeThresholds != nil && head != models.HeadRegression {
		return fmt.Errorf("--grade_thresholds: %s is not a regression head's checkpoint", c.weights)
	}
	if head == "" {
		return nil
	}
	r.OutputHead = describeHead(head)
	if head != models.HeadRegression {
		return nil
	}
	switch {
	case c.gradeThresholds == nil && ck.infoErr != nil:
		return ck.infoErr
	case c.gradeThresholds != nil:
		r.GradeThresholds, r.ThresholdsFrom = c.gradeThresholds, "--grade_thresholds"
	case ck.thresholds != nil:
		r.GradeThresholds, r.ThresholdsFrom = ck.thresholds, ck.from
	default:
		r.GradeThresholds, r.ThresholdsFrom = metrics.DefaultThresholds(c.numClasses), "none stored: rounding"
	}
	if len(r.GradeThresholds) != c.numClasses-1 {
		return fmt.Errorf("grade thresholds %v (%s): want %d for --num_classes %d", r.GradeThresholds, r.ThresholdsFrom, c.numClasses-1, c.numClasses)
	}
	return nil
}

// checkTransforms refuses a --transforms other than script, model or unset.
func checkTransforms(mode string) error {
	if mode != "" && mode != TransformsScript && mode != TransformsModel {
		return fmt.Errorf("--transforms %q: want %s (train_imbalance.py's for every model) or %s (the model's own)", mode, TransformsScript, TransformsModel)
	}
	return nil
}
