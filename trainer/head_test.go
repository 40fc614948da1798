package trainer

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// TestHeadDecode: each head's prediction rule and class probabilities. Class logits: argmax
// and softmax. Ordinal: the number of cumulative logits whose sigmoid is above 0.5, and
// P(grade ≥ r) = σ(z_{r−1}). Regression: pd.cut's right-closed intervals (an output on a
// threshold takes the lower grade; equal thresholds leave a grade out), and
// P(grade ≥ r) = σ(y − t_{r−1}).
func TestHeadDecode(t *testing.T) {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for _, c := range []struct {
		name       string
		head       string
		thresholds []float64
		rows       [][]float32
		grades     []int64
		atLeast    func(row []float32, r int) float64 // P(grade ≥ r), nil: softmax's
	}{
		{name: "logits", rows: [][]float32{{0.1, 2, -1, 0, 0.5}, {3, 2, 1, 0, -1}}, grades: []int64{1, 0}},
		{name: "ordinal", head: models.HeadOrdinal,
			rows:    [][]float32{{2, 1, -1, -3}, {-0.1, -1, -2, -3}, {3, 2, 1, 0.1}, {0.5, -0.5, 0.2, -1}},
			grades:  []int64{2, 0, 4, 2},
			atLeast: func(row []float32, r int) float64 { return sig(float64(row[r-1])) }},
		{name: "regression", head: models.HeadRegression, thresholds: []float64{0.5, 1.5, 2.5, 3.5},
			rows:   [][]float32{{-1}, {0.5}, {0.51}, {2.49}, {3.5}, {10}},
			grades: []int64{0, 0, 1, 2, 3, 4},
			atLeast: func(row []float32, r int) float64 {
				return sig(float64(row[0]) - []float64{0.5, 1.5, 2.5, 3.5}[r-1])
			}},
		{name: "regression equal thresholds", head: models.HeadRegression, thresholds: []float64{0.25, 0.25, 2, 3},
			rows: [][]float32{{0.25}, {0.3}, {2.5}}, grades: []int64{0, 2, 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			locked.Run(func() {
				var flat []float32
				for _, r := range c.rows {
					flat = append(flat, r...)
				}
				pred, err := models.TensorFrom(flat, []int64{int64(len(c.rows)), int64(len(c.rows[0]))})
				if err != nil {
					t.Fatal(err)
				}
				defer pred.MustDrop()
				d := headDecoder{head: c.head, thresholds: c.thresholds}
				b, err := d.decode(pred, true, false, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(b.grades, c.grades) {
					t.Errorf("grades %v, want %v", b.grades, c.grades)
				}
				for i, p := range b.probs {
					if len(p) != 5 {
						t.Fatalf("row %d: %d probabilities", i, len(p))
					}
					sum := 0.0
					for _, v := range p {
						sum += float64(v)
					}
					if math.Abs(sum-1) > 1e-6 {
						t.Errorf("row %d: probabilities %v sum to %v", i, p, sum)
					}
					if c.atLeast == nil {
						continue
					}
					for r := 1; r < 5; r++ {
						got := 0.0
						for _, v := range p[r:] {
							got += float64(v)
						}
						if want := c.atLeast(c.rows[i], r); math.Abs(got-want) > 1e-6 {
							t.Errorf("row %d: P(grade ≥ %d) %v, want %v", i, r, got, want)
						}
					}
				}
			})
		})
	}
}

// TestHeadsThroughRun trains each output head for two tiny epochs: DDR.pth holds the head's
// tensors (CORAL's names; a one-row classifier for regression) and DDR.pth.json names it;
// for regression the grade thresholds are fitted on val (kappa no lower than rounding's) and
// stored in DDR.pth.json and last.pth; eval of DDR.pth gives the best epoch's validation
// numbers, with those thresholds; --resume with the script's --head keeps the run's head.
func TestHeadsThroughRun(t *testing.T) {
	for _, head := range []string{models.HeadRegression, models.HeadOrdinal} {
		t.Run(head, func(t *testing.T) {
			res, log, cfg := runTiny(t, func(c *Config) { c.Head, c.Epochs, c.BestMetric, c.LR = head, 2, "kappa", 0.005 })
			if !strings.Contains(log, "head: "+head) {
				t.Errorf("the run header does not name the head:\n%s", log)
			}
			best, err := pth.Load(filepath.Join(res.SavePath, "DDR.pth"))
			if err != nil {
				t.Fatal(err)
			}
			var info bestInfo
			if err := json.Unmarshal(readFile(t, filepath.Join(res.SavePath, "DDR.pth.json")), &info); err != nil {
				t.Fatal(err)
			}
			if info.Head != head || info.Epoch != res.BestEpoch {
				t.Errorf("DDR.pth.json %+v, want head %s, epoch %d", info, head, res.BestEpoch)
			}
			switch head {
			case models.HeadOrdinal:
				if best.Get("fc.coral_bias") == nil || best.Get("fc.coral_weights.weight") == nil || best.Get("fc.bias") != nil {
					t.Errorf("DDR.pth is not CoralLayer's: %v", best.Get("fc.coral_bias"))
				}
				if info.GradeThresholds != nil {
					t.Errorf("ordinal head with grade thresholds %v", info.GradeThresholds)
				}
			case models.HeadRegression:
				if w := best.Get("fc.weight"); w == nil || w.Shape[0] != 1 {
					t.Fatalf("DDR.pth's fc.weight %v, want one row", w)
				}
				if len(info.GradeThresholds) != 4 || !strings.Contains(log, "grade thresholds, optimised for kappa on val") {
					t.Fatalf("grade thresholds %v\n%s", info.GradeThresholds, log)
				}
				last, err := pth.Load(filepath.Join(res.SavePath, "last.pth"))
				if err != nil {
					t.Fatal(err)
				}
				var st recipeState
				if err := json.Unmarshal(last.Get(ckRecipeState).Data, &st); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(st.BestThresholds, info.GradeThresholds) {
					t.Errorf("last.pth's best thresholds %v, DDR.pth.json's %v", st.BestThresholds, info.GradeThresholds)
				}
			}
			ecfg := EvalConfig{Model: cfg.Model, Weights: filepath.Join(res.SavePath, "DDR.pth"), DataPath: cfg.DataPath,
				Split: "val", NumClasses: 5, BatchSize: 8, ImgSize: cfg.ImgSize, NumWorkers: 2, Threads: 1, Quiet: true}
			o, err := EvalCheckpoint(ecfg, &bytes.Buffer{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := res.Epochs[res.BestEpoch-1]
			if o.Report.Accuracy != rec.ValAcc || o.Report.QWK != rec.Kappa {
				t.Errorf("eval of DDR.pth: acc %v kappa %v, the best epoch's %v %v", o.Report.Accuracy, o.Report.QWK, rec.ValAcc, rec.Kappa)
			}
			if head == models.HeadRegression {
				ecfg.GradeThresholds = metrics.DefaultThresholds(5)
				r, err := EvalCheckpoint(ecfg, &bytes.Buffer{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if r.Report.QWK > o.Report.QWK {
					t.Errorf("rounding's kappa %v above the fitted thresholds' %v", r.Report.QWK, o.Report.QWK)
				}
				fit, _, err := metrics.OptimizeThresholds(r.Result.Outputs, r.Result.Labels, 5)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(fit, info.GradeThresholds) {
					t.Errorf("stored thresholds %v, fitted on DDR.pth's val outputs %v", info.GradeThresholds, fit)
				}
				t.Logf("thresholds %v: kappa %v (rounding's %v)", fit, o.Report.QWK, r.Report.QWK)
			}

			// --resume with the command line's --head slice continues the run's head.
			more := cfg
			more.Head, more.Epochs, more.Resume = "slice", 3, filepath.Join(res.SavePath, "last.pth")
			more.Output = t.TempDir()
			var buf bytes.Buffer
			if _, err := Run(more, &buf, nil); err != nil {
				t.Fatalf("resume: %v\n%s", err, buf.String())
			}
			if !strings.Contains(buf.String(), "--head "+head+" (the command line's slice)") {
				t.Errorf("resume did not say it keeps --head %s:\n%s", head, buf.String())
			}
		})
	}
}

// TestHeadValidate: what an output head cannot train with is refused before the run.
func TestHeadValidate(t *testing.T) {
	for _, c := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Head, c.UseFocalLoss = models.HeadRegression, true }, "--use_focal_loss"},
		{func(c *Config) { c.Head, c.Loss = models.HeadRegression, "coral" }, "trains with --loss mse or smooth_l1"},
		{func(c *Config) { c.Head, c.LabelSmoothing = models.HeadOrdinal, 0.1 }, "--label_smoothing"},
		{func(c *Config) { c.Head, c.Mixup = models.HeadOrdinal, 0.2 }, "--mixup/--cutmix"},
		{func(c *Config) { c.Loss = "smooth_l1" }, "--loss smooth_l1 is the loss of --head regression"},
		{func(c *Config) { c.Head = "ordinl" }, `--head "ordinl"`},
	} {
		cfg := DefaultConfig()
		c.change(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one saying %q", err, c.want)
		}
	}
	for _, ok := range []func(*Config){
		func(c *Config) { c.Head, c.Loss = models.HeadRegression, "smooth_l1" },
		func(c *Config) { c.Head = models.HeadOrdinal },
	} {
		cfg := DefaultConfig()
		ok(&cfg)
		if err := cfg.Validate(); err != nil {
			t.Errorf("refused: %v", err)
		}
	}
}
