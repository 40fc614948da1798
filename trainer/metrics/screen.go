package metrics

import (
	"errors"
	"fmt"
	"math"
)

// The binary views screening reports, by name.
const (
	ViewReferable = "referable" // grade ≥ the referable grade (2 by default: moderate or worse)
	ViewAnyDR     = "any_dr"    // grade ≥ 1
)

// DefaultReferableGrade is the grade from which DR is referable: 2, moderate NPDR or worse.
const DefaultReferableGrade = 2

// Threshold is an operating point chosen on one split, to be applied unchanged to another.
type Threshold struct {
	Name              string  `json:"name"`
	TargetSensitivity float64 `json:"target_sensitivity,omitempty"`
	Threshold         float64 `json:"threshold"`
}

// ScreenOptions configure Screen.
type ScreenOptions struct {
	ReferableGrade int // the referable view is grade ≥ ReferableGrade (0: DefaultReferableGrade)
	// Ungradable is the class left out of the views (DDR's 5); 0 or NoUngradable: none
	// (class 0 is always a grade, No DR).
	Ungradable int
	Bootstrap  int // stratified bootstrap resamples for the intervals; 0: none
	Seed       uint64
	Targets    []float64 // operating points' sensitivities (nil: SensitivityTargets)
	// Apply holds, per view name, thresholds chosen elsewhere (another split) to apply
	// unchanged instead of choosing them on these samples. A view it lacks gets no points.
	Apply map[string][]Threshold
}

// ScreenView is one binary view: its discrimination (ROC AUC and average precision, with
// bootstrap percentile intervals and DeLong's standard error), its binary Brier score and its
// operating points. When the samples hold one class only, Undefined says so and the numbers
// are NaN.
type ScreenView struct {
	Name      string `json:"name"`
	Grade     int    `json:"grade"` // positive: label ≥ Grade
	Positives int    `json:"positives"`
	Negatives int    `json:"negatives"`
	Undefined string `json:"undefined,omitempty"`

	AUC    float64  `json:"roc_auc"`
	AUCCI  Interval `json:"roc_auc_ci"`        // bootstrap percentile 95% interval
	DeLong DeLong   `json:"roc_auc_delong"`    // DeLong's SE and normal 95% interval
	AP     float64  `json:"average_precision"` // average_precision_score
	APCI   Interval `json:"average_precision_ci"`
	Brier  float64  `json:"brier"` // brier_score_loss of the view's probability

	Points []OperatingPoint `json:"operating_points"`

	// For plots and checks, not written: the view's samples, its curves and the bootstrap.
	Data      Binary     `json:"-"`
	ROC       ROC        `json:"-"` // roc_curve (drop_intermediate=True)
	PR        PR         `json:"-"` // precision_recall_curve
	Bootstrap *Bootstrap `json:"-"` // nil without resamples
}

// MarshalJSON writes undefined values as null.
func (v ScreenView) MarshalJSON() ([]byte, error) { return marshalNullable(v) }

// Screening is DR screening's evaluation of per-sample grade probabilities: the referable and
// any-DR views (Views, in that order; a view whose grade is not below the number of grades is
// left out, e.g. referable with 2 classes).
type Screening struct {
	ReferableGrade int `json:"referable_grade"`
	// UngradableClass is the class left out of the views (-1: none); Excluded counts its samples.
	UngradableClass int    `json:"ungradable_class"`
	Excluded        int    `json:"excluded_ungradable"`
	Bootstrap       int    `json:"bootstrap_resamples"`
	Seed            uint64 `json:"bootstrap_seed"`
	// PointsChosenOn names the split the operating points' thresholds were chosen on (set by
	// the caller: this split, or the one of a thresholds file); ThresholdsFile is that file.
	PointsChosenOn string       `json:"points_chosen_on,omitempty"`
	ThresholdsFile string       `json:"thresholds_file,omitempty"`
	Views          []ScreenView `json:"views"`
}

// View returns the view called name, or nil.
func (s *Screening) View(name string) *ScreenView {
	for i := range s.Views {
		if s.Views[i].Name == name {
			return &s.Views[i]
		}
	}
	return nil
}

// ViewGrades returns the views that exist for numClasses classes (ungradable among them when
// ≥ 0) with the referable grade, in report order: name → threshold grade.
func ViewGrades(numClasses, ungradable, referableGrade int) (names []string, grades []int) {
	grades0 := numClasses
	if ungradable >= 0 && ungradable < numClasses {
		grades0 = ungradable // the grades are 0..ungradable-1
	}
	for _, v := range []struct {
		name  string
		grade int
	}{{ViewReferable, referableGrade}, {ViewAnyDR, 1}} {
		if v.grade >= 1 && v.grade < grades0 {
			names, grades = append(names, v.name), append(grades, v.grade)
		}
	}
	return names, grades
}

// Screen evaluates the referable and any-DR views of per-sample class probabilities.
func Screen[F float32 | float64](probs [][]F, labels []int, o ScreenOptions) (Screening, error) {
	if o.ReferableGrade == 0 {
		o.ReferableGrade = DefaultReferableGrade
	}
	if o.ReferableGrade < 1 {
		return Screening{}, fmt.Errorf("metrics: referable grade %d (want at least 1)", o.ReferableGrade)
	}
	if o.Bootstrap < 0 {
		return Screening{}, fmt.Errorf("metrics: %d bootstrap resamples (want 0 or more)", o.Bootstrap)
	}
	if len(probs) == 0 {
		return Screening{}, errors.New("metrics: no samples")
	}
	if o.Targets == nil {
		o.Targets = SensitivityTargets
	}
	if o.Ungradable <= 0 {
		o.Ungradable = NoUngradable
	}
	s := Screening{ReferableGrade: o.ReferableGrade, UngradableClass: o.Ungradable, Bootstrap: o.Bootstrap, Seed: o.Seed}
	names, grades := ViewGrades(len(probs[0]), o.Ungradable, o.ReferableGrade)
	for i, name := range names {
		b, err := NewBinary(probs, labels, grades[i], o.Ungradable)
		if err != nil {
			return Screening{}, err
		}
		s.Excluded = b.Excluded
		v, err := screenView(name, grades[i], b, o)
		if err != nil {
			return Screening{}, err
		}
		s.Views = append(s.Views, v)
	}
	return s, nil
}

func screenView(name string, grade int, b Binary, o ScreenOptions) (ScreenView, error) {
	v := ScreenView{Name: name, Grade: grade, Data: b, AUC: math.NaN(), AP: math.NaN(),
		AUCCI: NaNInterval(), APCI: NaNInterval(), Points: []OperatingPoint{}}
	v.DeLong = DeLong{AUC: math.NaN(), SE: math.NaN(), CI: NaNInterval()}
	v.Positives, v.Negatives = b.Counts()
	var err error
	if v.Brier, err = BinaryBrier(b.Scores, b.Positive); err != nil {
		return v, err
	}
	if o.Apply != nil {
		for _, t := range o.Apply[name] {
			p := AtThreshold(b.Scores, b.Positive, t.Name, t.Threshold)
			p.TargetSensitivity = t.TargetSensitivity
			v.Points = append(v.Points, p)
		}
	}
	if v.Positives == 0 || v.Negatives == 0 {
		v.Undefined = fmt.Sprintf("%d positives and %d negatives: AUC, AP and chosen thresholds need both", v.Positives, v.Negatives)
		return v, nil
	}
	if v.ROC, err = ROCCurve(b.Scores, b.Positive, true); err != nil {
		return v, err
	}
	if v.PR, err = PRCurve(b.Scores, b.Positive); err != nil {
		return v, err
	}
	v.AUC, v.AP = v.ROC.AUC(), v.PR.AveragePrecision()
	if v.DeLong, err = DeLongAUC(b.Scores, b.Positive); err != nil {
		return v, err
	}
	if o.Bootstrap > 0 {
		bs, err := BootstrapCI(b.Scores, b.Positive, o.Bootstrap, o.Seed)
		if err != nil {
			return v, err
		}
		v.Bootstrap, v.AUCCI, v.APCI = &bs, bs.AUCCI, bs.APCI
	}
	if o.Apply == nil {
		if v.Points, err = ChooseOperatingPoints(b.Scores, b.Positive, o.Targets); err != nil {
			return v, err
		}
	}
	return v, nil
}

// Thresholds returns the views' operating points as thresholds to apply elsewhere.
func (s *Screening) Thresholds() map[string][]Threshold {
	out := map[string][]Threshold{}
	for _, v := range s.Views {
		if len(v.Points) == 0 {
			continue
		}
		for _, p := range v.Points {
			out[v.Name] = append(out[v.Name], Threshold{p.Name, p.TargetSensitivity, p.Threshold})
		}
	}
	return out
}
