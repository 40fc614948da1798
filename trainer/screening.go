package trainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/vision/dataset"
)

// This file is DR screening's side of eval, predict and training: the referable / any-DR
// views of the softmax (metrics.Screen), calibration, the thresholds file, the one-screen
// table and the epoch's referable-DR AUC.

// UngradableClass is the class index named "Ungradable" among numClasses classes (DDR's 5,
// with --num_classes 6), or metrics.NoUngradable.
func UngradableClass(numClasses int) int {
	for c := 0; c < numClasses; c++ {
		if dataset.GradeName(c) == "Ungradable" {
			return c
		}
	}
	return metrics.NoUngradable
}

// checkReferableGrade refuses a --referable_grade that is not a grade of numClasses classes;
// with two grades (No DR and one other) there is no referable view and the default is fine.
func checkReferableGrade(grade, numClasses int) error {
	grades := numClasses
	if u := UngradableClass(numClasses); u >= 0 {
		grades = u
	}
	if grade < 1 {
		return fmt.Errorf("--referable_grade must be at least 1 (grade ≥ it is referable), got %d", grade)
	}
	if grade >= grades && grades > 2 {
		return fmt.Errorf("--referable_grade %d: the grades of --num_classes %d are 0..%d", grade, numClasses, grades-1)
	}
	return nil
}

// ReferableAUC is the ROC AUC of P(referable) = P(grade ≥ referableGrade) on an evaluation
// kept with probabilities (EvalOptions.Probs), DDR's Ungradable class left out. It is NaN when
// undefined: no probabilities, fewer than referableGrade+1 grades, or a split without
// referable or without non-referable images.
func ReferableAUC(ev EvalResult, numClasses, referableGrade int) float64 {
	if len(ev.Probs) == 0 || len(ev.Probs) != len(ev.Labels) {
		return math.NaN()
	}
	b, err := metrics.NewBinary(ev.Probs, ev.Labels, referableGrade, UngradableClass(numClasses))
	if err != nil {
		return math.NaN()
	}
	auc, err := metrics.ROCAUC(b.Scores, b.Positive)
	if err != nil {
		return math.NaN()
	}
	return auc
}

// ViewTitle is how tables and figures name a binary view: "referable DR (grade ≥ 2)".
func ViewTitle(name string, grade int) string {
	switch name {
	case metrics.ViewReferable:
		return fmt.Sprintf("referable DR (grade ≥ %d)", grade)
	case metrics.ViewAnyDR:
		return "any DR (grade ≥ 1)"
	}
	return fmt.Sprintf("%s (grade ≥ %d)", name, grade)
}

// ThresholdsFile is thresholds.json, which every `drgrade eval --out` writes: the operating
// points' thresholds of each view and where they were chosen, for --thresholds to apply them
// unchanged to another split (eval) or to new photographs (predict).
type ThresholdsFile struct {
	// Split is the split the thresholds were chosen on (e.g. val), with its data set,
	// checkpoint and model.
	Split          string `json:"split"`
	DataPath       string `json:"data_path"`
	Model          string `json:"model"`
	Weights        string `json:"weights"`
	NumClasses     int    `json:"num_classes"`
	ReferableGrade int    `json:"referable_grade"`
	// Source is the thresholds file they were read from when this eval applied them.
	Source string `json:"source,omitempty"`
	// Views holds, per view name (referable, any_dr), its operating points in report order.
	Views map[string][]metrics.Threshold `json:"views"`
}

// thresholdsJSON is ThresholdsFile as read: pointers tell a missing key from a zero.
type thresholdsJSON struct {
	Split          *string `json:"split"`
	DataPath       string  `json:"data_path"`
	Model          string  `json:"model"`
	Weights        string  `json:"weights"`
	NumClasses     *int    `json:"num_classes"`
	ReferableGrade *int    `json:"referable_grade"`
	Source         string  `json:"source"`
	Views          map[string][]struct {
		Name              *string  `json:"name"`
		TargetSensitivity float64  `json:"target_sensitivity"`
		Threshold         *float64 `json:"threshold"`
	} `json:"views"`
}

// ReadThresholds reads a thresholds file written by `drgrade eval` and checks it against this
// run's --num_classes and --referable_grade. Every error names the file and, where one is
// at fault, the key (or the line of a JSON syntax error).
func ReadThresholds(path string, numClasses, referableGrade int) (*ThresholdsFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--thresholds %s: %w", path, pathErr(err))
	}
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("thresholds file %s: key %q: %s", path, key, fmt.Sprintf(format, a...))
	}
	var j thresholdsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("thresholds file %s: line %d: not valid JSON: %v (write it with drgrade eval --out)", path, lineOf(b, se.Offset), err)
		case errors.As(err, &te):
			return nil, bad(te.Field, "line %d: a %s where a %s belongs", lineOf(b, te.Offset), te.Value, te.Type)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, fmt.Errorf("thresholds file %s: line %d: not valid JSON: the file ends early (write it with drgrade eval --out)", path, lineOf(b, int64(len(b))))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, fmt.Errorf("thresholds file %s: unknown key %s (want split, data_path, model, weights, num_classes, referable_grade, source, views)",
				path, strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return nil, fmt.Errorf("thresholds file %s: %v", path, err)
	}
	f := &ThresholdsFile{DataPath: j.DataPath, Model: j.Model, Weights: j.Weights, Source: j.Source, Views: map[string][]metrics.Threshold{}}
	switch {
	case j.Split == nil || *j.Split == "":
		return nil, bad("split", "missing: the split the thresholds were chosen on")
	case j.NumClasses == nil:
		return nil, bad("num_classes", "missing")
	case *j.NumClasses != numClasses:
		return nil, bad("num_classes", "%d, but --num_classes is %d", *j.NumClasses, numClasses)
	case j.ReferableGrade == nil:
		return nil, bad("referable_grade", "missing")
	case *j.ReferableGrade != referableGrade:
		return nil, bad("referable_grade", "%d, but --referable_grade is %d: the thresholds were chosen for referable = grade ≥ %d",
			*j.ReferableGrade, referableGrade, *j.ReferableGrade)
	case len(j.Views) == 0:
		return nil, bad("views", "no operating points")
	}
	f.Split, f.NumClasses, f.ReferableGrade = *j.Split, *j.NumClasses, *j.ReferableGrade
	names := make([]string, 0, len(j.Views))
	for name := range j.Views {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, view := range names {
		if view != metrics.ViewReferable && view != metrics.ViewAnyDR {
			return nil, bad("views."+view, "not a view (want %s or %s)", metrics.ViewReferable, metrics.ViewAnyDR)
		}
		seen := map[string]bool{}
		for i, p := range j.Views[view] {
			key := fmt.Sprintf("views.%s[%d]", view, i)
			switch {
			case p.Name == nil || *p.Name == "":
				return nil, bad(key+".name", "missing")
			case seen[*p.Name]:
				return nil, bad(key+".name", "%q appears twice", *p.Name)
			case p.Threshold == nil:
				return nil, bad(key+".threshold", "missing")
			case !(*p.Threshold >= 0 && *p.Threshold <= 1):
				return nil, bad(key+".threshold", "%v is not a probability in [0, 1]", *p.Threshold)
			}
			seen[*p.Name] = true
			f.Views[view] = append(f.Views[view], metrics.Threshold{Name: *p.Name, TargetSensitivity: p.TargetSensitivity, Threshold: *p.Threshold})
		}
		if len(f.Views[view]) == 0 {
			return nil, bad("views."+view, "no operating points")
		}
	}
	return f, nil
}

func lineOf(b []byte, offset int64) int {
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	return bytes.Count(b[:offset], []byte("\n")) + 1
}

// Point returns the threshold called name of view, or an error naming the file, the view
// and the points it has.
func (f *ThresholdsFile) Point(path, view, name string) (metrics.Threshold, error) {
	var have []string
	for _, p := range f.Views[view] {
		if p.Name == name {
			return p, nil
		}
		have = append(have, p.Name)
	}
	if len(have) == 0 {
		return metrics.Threshold{}, fmt.Errorf("thresholds file %s: key %q: no operating points for the %s view", path, "views."+view, view)
	}
	return metrics.Threshold{}, fmt.Errorf("thresholds file %s: key %q: no operating point %q (--operating_point); it has %s",
		path, "views."+view, name, strings.Join(have, ", "))
}

// checkScreening fills in the default --referable_grade and refuses bad screening flags, and
// reads the --thresholds file, before anything is loaded (errors are InputErrors).
func checkScreening(cfg *EvalConfig) (*ThresholdsFile, error) {
	if cfg.ReferableGrade == 0 {
		cfg.ReferableGrade = metrics.DefaultReferableGrade
	}
	if err := checkReferableGrade(cfg.ReferableGrade, cfg.NumClasses); err != nil {
		return nil, inputErr(err)
	}
	if cfg.Bootstrap < 0 {
		return nil, inputErr(fmt.Errorf("--bootstrap must be 0 (no intervals) or a number of resamples, got %d", cfg.Bootstrap))
	}
	if cfg.Thresholds == "" {
		return nil, nil
	}
	f, err := ReadThresholds(cfg.Thresholds, cfg.NumClasses, cfg.ReferableGrade)
	return f, inputErr(err)
}

// screen adds the screening views and calibration to an evaluation (Result.Probs needed).
func (o *EvalOutput) screen() error {
	cfg, applied := o.Config, o.Applied
	opts := metrics.ScreenOptions{ReferableGrade: cfg.ReferableGrade, Ungradable: UngradableClass(cfg.NumClasses),
		Bootstrap: cfg.Bootstrap, Seed: cfg.Seed}
	if applied != nil {
		opts.Apply = applied.Views
	}
	var err error
	if o.Screening, err = metrics.Screen(o.Result.Probs, o.Result.Labels, opts); err != nil {
		return err
	}
	o.Screening.PointsChosenOn = cfg.Split
	if applied != nil {
		o.Screening.PointsChosenOn, o.Screening.ThresholdsFile = applied.Split, cfg.Thresholds
	}
	o.Calibration, err = metrics.Calibrate(o.Result.Probs, o.Result.Labels, metrics.CalibrationBins)
	return err
}

// Thresholds returns the thresholds file of an evaluation: the points it chose, or the ones
// it applied (with their file as Source).
func (o *EvalOutput) Thresholds() ThresholdsFile {
	f := ThresholdsFile{Split: o.Config.Split, DataPath: o.Config.DataPath, Model: o.Config.Model, Weights: o.Config.Weights,
		NumClasses: o.Config.NumClasses, ReferableGrade: o.Screening.ReferableGrade, Views: o.Screening.Thresholds()}
	if o.Applied != nil {
		f = *o.Applied
		f.Source = o.Config.Thresholds
	}
	return f
}

// PrintScreening prints the screening evaluation on one screen: per view the ROC AUC and AP
// with their 95% intervals, DeLong's SE and the Brier score; the operating points; a line of
// calibration.
func PrintScreening(w io.Writer, s metrics.Screening, c metrics.Calibration) {
	head := fmt.Sprintf("\nScreening: referable DR = grade ≥ %d", s.ReferableGrade)
	if s.UngradableClass >= 0 {
		head += fmt.Sprintf("; %d %s image(s) left out of both views", s.Excluded, dataset.GradeName(s.UngradableClass))
	}
	if s.Bootstrap > 0 {
		head += fmt.Sprintf("; [95%% CI] from %d stratified bootstrap resamples (seed %d)", s.Bootstrap, s.Seed)
	} else {
		head += "; no bootstrap (--bootstrap 0)"
	}
	fmt.Fprintln(w, head)
	if len(s.Views) == 0 {
		fmt.Fprintln(w, "no view is defined: the classes hold no grade ≥ 1")
	}
	t := upperTable(w)
	t.Header("VIEW", "POS / NEG", "ROC AUC [95% CI]", "DELONG SE", "AP [95% CI]", "BRIER")
	for _, v := range s.Views {
		_ = t.Append(ViewTitle(v.Name, v.Grade), fmt.Sprintf("%d / %d", v.Positives, v.Negatives),
			withCI(v.AUC, v.AUCCI), f4(v.DeLong.SE), withCI(v.AP, v.APCI), f4(v.Brier))
	}
	if len(s.Views) > 0 {
		_ = t.Render()
	}
	for _, v := range s.Views {
		if v.Undefined != "" {
			fmt.Fprintf(w, "%s: %s\n", ViewTitle(v.Name, v.Grade), v.Undefined)
		}
	}
	chosen := "this split"
	if s.PointsChosenOn != "" {
		chosen = s.PointsChosenOn
	}
	if s.ThresholdsFile != "" {
		chosen += " (" + s.ThresholdsFile + ")"
	}
	fmt.Fprintf(w, "Operating points (score ≥ threshold is referred; thresholds chosen on %s):\n", chosen)
	t = upperTable(w)
	t.Header("VIEW", "POINT", "THRESHOLD", "SENS", "SPEC", "PPV", "NPV", "TP", "FP", "TN", "FN")
	n := 0
	for _, v := range s.Views {
		thr := make([]float64, len(v.Points))
		for i, p := range v.Points {
			thr[i] = p.Threshold
		}
		digits := distinctDigits(thr)
		for _, p := range v.Points {
			_ = t.Append(ViewTitle(v.Name, v.Grade), p.Name, strconv.FormatFloat(p.Threshold, 'f', digits, 64), f3(p.Sensitivity),
				f3(p.Specificity), f3(p.PPV), f3(p.NPV), strconv.Itoa(p.TP), strconv.Itoa(p.FP), strconv.Itoa(p.TN), strconv.Itoa(p.FN))
			n++
		}
	}
	if n > 0 {
		_ = t.Render()
	} else {
		fmt.Fprintln(w, "none (no view has both referable and non-referable images)")
	}
	fmt.Fprintf(w, "Calibration (%d bins): ECE top-label %s, class-wise %s (mean of %d classes); Brier %s (multi-class)\n",
		c.Bins, f4(c.TopLabel.ECE), f4(c.ClasswiseECE), len(c.PerClass), f4(c.Brier))
}

// upperTable is a table whose headers are written as given (already upper case: the
// automatic formatting would split "DeLong" and space out "95%").
func upperTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
}

// distinctDigits is the number of decimals (4 at least) that tells every different threshold
// apart: a weak model's scores can differ in the 7th.
func distinctDigits(x []float64) int {
	for d := 4; d < 17; d++ {
		seen := map[string]float64{}
		ok := true
		for _, v := range x {
			s := strconv.FormatFloat(v, 'f', d, 64)
			if u, dup := seen[s]; dup && u != v {
				ok = false
				break
			}
			seen[s] = v
		}
		if ok {
			return d
		}
	}
	return 17
}

func withCI(x float64, ci metrics.Interval) string {
	if math.IsNaN(x) {
		return "undefined"
	}
	if math.IsNaN(ci.Lo) {
		return f3(x)
	}
	return fmt.Sprintf("%s [%s, %s]", f3(x), f3(ci.Lo), f3(ci.Hi))
}

func f3(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

func f4(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return strconv.FormatFloat(x, 'f', 4, 64)
}

// DefaultOperatingPoint is the operating point `drgrade predict --thresholds` refers by when
// --operating_point is not given: the threshold that reached sensitivity ≥ 0.90 where it was
// chosen.
const DefaultOperatingPoint = "sens_0.90"

// Referral is how predict decides refer yes/no: P(referable) ≥ Point.Threshold, a point of the
// referable view read from a thresholds file.
type Referral struct {
	File     string            `json:"thresholds_file"` // the --thresholds file
	ChosenOn string            `json:"chosen_on"`       // the split its thresholds were chosen on
	Point    metrics.Threshold `json:"operating_point"`
}

// LoadReferral reads cfg.Thresholds and picks cfg.OperatingPoint of its referable view (nil
// without --thresholds); it also checks --referable_grade. Errors are InputErrors naming the
// file and key.
func LoadReferral(cfg PredictConfig) (*Referral, error) {
	grade := cfg.ReferableGrade
	if grade == 0 {
		grade = metrics.DefaultReferableGrade
	}
	if err := checkReferableGrade(grade, cfg.NumClasses); err != nil {
		return nil, inputErr(err)
	}
	if cfg.Thresholds == "" {
		if cfg.OperatingPoint != "" {
			return nil, inputErr(errors.New("--operating_point needs --thresholds (a thresholds.json written by drgrade eval --out)"))
		}
		return nil, nil
	}
	f, err := ReadThresholds(cfg.Thresholds, cfg.NumClasses, grade)
	if err != nil {
		return nil, inputErr(err)
	}
	name := cfg.OperatingPoint
	if name == "" {
		name = DefaultOperatingPoint
	}
	p, err := f.Point(cfg.Thresholds, metrics.ViewReferable, name)
	if err != nil {
		return nil, inputErr(err)
	}
	return &Referral{File: cfg.Thresholds, ChosenOn: f.Split, Point: p}, nil
}

// grade fills in a prediction's screening probabilities and, with a referral, refer yes/no.
func (r *Referral) grade(p *Prediction, cfg PredictConfig) {
	grade := cfg.ReferableGrade
	if grade == 0 {
		grade = metrics.DefaultReferableGrade
	}
	u := UngradableClass(cfg.NumClasses)
	names, grades := metrics.ViewGrades(cfg.NumClasses, u, grade)
	for i, name := range names {
		v := metrics.PositiveScore(p.Probs, grades[i], u)
		switch name {
		case metrics.ViewReferable:
			p.PReferable = &v
			if r != nil {
				refer := v >= r.Point.Threshold
				p.Refer = &refer
			}
		case metrics.ViewAnyDR:
			p.PAnyDR = &v
		}
	}
}
