package trainer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/vision/models"
)

// Output heads (--head regression | ordinal, issue 21; models.NewHead builds them). Class
// logits, the script's, are decoded as torch.max and softmax; the other heads have their own
// prediction rule, and their class probabilities come from cumulative ones, so that
// P(grade ≥ r), which the referable-DR AUC and the screening views read, is one number of the
// head's:
//   - ordinal (CORAL): grade = #{k : σ(z_k) > 0.5} (coral_pytorch's proba_to_label), class
//     probabilities from the cumulative σ(z_k) = P(grade > k) (loss.CoralProbabilities).
//   - regression: grade = the number of thresholds below the output y (the APTOS recipe's
//     pd.cut, metrics.ApplyThresholds); its class probabilities read y as a cumulative logit
//     model, P(grade > k) = σ(y − t_k), so P(grade ≥ r) = σ(y − t_{r−1}) ranks images as y does
//     (the AUC is that of y) and the argmax need not be the grade. They are not calibrated.

// headDecoder turns one model's outputs into grades and class probabilities.
type headDecoder struct {
	head       string    // models.Config.Head: "" (class logits), regression or ordinal
	thresholds []float64 // regression: ascending cut points, one fewer than the grades
}

// newHeadDecoder is the decoder of m's head; thresholds apply to a regression head (nil: the
// rounding thresholds 0.5, 1.5, …).
func newHeadDecoder(m models.Model, thresholds []float64) (headDecoder, error) {
	cfg := m.Config()
	d := headDecoder{head: cfg.Head}
	if cfg.Head != models.HeadRegression {
		return d, nil
	}
	if thresholds == nil {
		thresholds = metrics.DefaultThresholds(cfg.Grades)
	}
	if len(thresholds) != cfg.Grades-1 {
		return d, fmt.Errorf("regression head of %d grades: %d grade thresholds, want %d", cfg.Grades, len(thresholds), cfg.Grades-1)
	}
	for i := 1; i < len(thresholds); i++ {
		if !(thresholds[i] >= thresholds[i-1]) { // equal ones leave a grade out, as the optimiser may
			return d, fmt.Errorf("grade thresholds %v: want them ascending", thresholds)
		}
	}
	d.thresholds = thresholds
	return d, nil
}

// logits says whether the head's outputs are class logits (softmax, temperature and TTA apply).
func (d headDecoder) logits() bool { return d.head == "" }

// check refuses what only class logits support.
func (d headDecoder) check(tta string, temperature float64) error {
	if d.logits() {
		return nil
	}
	if tta != "" {
		return fmt.Errorf("--tta %s averages two softmaxes; the %s head's outputs are not class logits", tta, d.head)
	}
	if temperature > 0 {
		return fmt.Errorf("temperature scaling divides class logits; the %s head's outputs are not class logits", d.head)
	}
	return nil
}

// decodedBatch is one batch's grades, and, when asked for, its class probabilities and the
// regression head's outputs.
type decodedBatch struct {
	grades  []int64
	probs   [][]float32
	outputs []float64 // regression: y per image
}

// decode reads pred [N, C] (for class logits, with isProb it already holds TTA's averaged
// probabilities; temperature > 0 divides the logits before the softmax).
func (d headDecoder) decode(pred *ts.Tensor, withProbs, isProb bool, temperature float64) (decodedBatch, error) {
	var b decodedBatch
	var err error
	if d.logits() {
		if b.grades, err = argmax1(pred); err != nil {
			return b, err
		}
		if withProbs {
			b.probs, err = softmaxRows(pred, isProb, temperature)
		}
		return b, err
	}
	z, n, k, err := floatMatrix(pred) // ordinal: the cumulative logits, n × (K−1)
	if err != nil {
		return b, err
	}
	switch d.head {
	case models.HeadOrdinal:
		if b.grades, err = loss.CoralGrades(z, n, k); err != nil {
			return b, err
		}
		if withProbs {
			b.probs, err = cumulativeProbs(z, n, k)
		}
		return b, err
	case models.HeadRegression:
		if k != 1 {
			return b, fmt.Errorf("regression head: %d outputs per image, want 1", k)
		}
		b.outputs = make([]float64, n)
		for i, y := range z {
			b.outputs[i] = float64(y)
		}
		b.grades, b.probs, err = regressionDecode(b.outputs, d.thresholds, withProbs)
		return b, err
	}
	return b, fmt.Errorf("unknown output head %q", d.head)
}

// regressionDecode is the regression head's grades for outputs y under thresholds, and with
// withProbs the class probabilities of P(grade > k) = σ(y − t_k).
func regressionDecode(y, thresholds []float64, withProbs bool) ([]int64, [][]float32, error) {
	grades := make([]int64, len(y))
	for i, g := range metrics.ApplyThresholds(y, thresholds) {
		grades[i] = int64(g)
	}
	if !withProbs {
		return grades, nil, nil
	}
	k := len(thresholds)
	z := make([]float32, 0, len(y)*k)
	for _, v := range y {
		for _, t := range thresholds {
			z = append(z, float32(v-t))
		}
	}
	probs, err := cumulativeProbs(z, len(y), k)
	return grades, probs, err
}

// cumulativeProbs is loss.CoralProbabilities as float32 rows of k+1 classes.
func cumulativeProbs(z []float32, n, k int) ([][]float32, error) {
	p, err := loss.CoralProbabilities(z, n, k)
	if err != nil {
		return nil, err
	}
	rows := make([][]float32, n)
	for i := range rows {
		row := make([]float32, k+1)
		for j := range row {
			row[j] = float32(p[i*(k+1)+j])
		}
		rows[i] = row
	}
	return rows, nil
}

// optimizeThresholds is the APTOS 2019 recipe after a validation pass of a regression head:
// the thresholds that maximise the quadratic weighted kappa on these outputs
// (metrics.OptimizeThresholds), and ev's grades, accuracy and probabilities redone with them.
func optimizeThresholds(ev *EvalResult, numClasses int) ([]float64, error) {
	t, _, err := metrics.OptimizeThresholds(ev.Outputs, ev.Labels, numClasses)
	if err != nil {
		return nil, err
	}
	grades, probs, err := regressionDecode(ev.Outputs, t, ev.Probs != nil)
	if err != nil {
		return nil, err
	}
	correct := 0
	for i, g := range grades {
		ev.Preds[i] = int(g)
		if int(g) == ev.Labels[i] {
			correct++
		}
	}
	if ev.Probs != nil {
		ev.Probs = probs
	}
	ev.Acc = float64(correct) / float64(len(grades))
	return t, nil
}

// floatMatrix is tensorMatrix of pred as float32 (autocast's outputs may be bfloat16 or float16).
func floatMatrix(pred *ts.Tensor) ([]float32, int, int, error) {
	if pred.DType() == gotch.Float {
		return tensorMatrix(pred)
	}
	f, err := pred.Totype(gotch.Float, false)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.MustDrop()
	return tensorMatrix(f)
}

// describeHead names an output head for the run header and eval's report.
func describeHead(head string) string {
	switch head {
	case models.HeadRegression:
		return "regression (one output, the grade as a number; grades by thresholds)"
	case models.HeadOrdinal:
		return "ordinal (CORAL: cumulative logits P(grade > k), rank-consistent)"
	}
	return "class logits"
}

// weightsHeadMode is LoadWeights' classifier mode for --head: an output head never takes the
// file's classifier rows (a fresh head, as `model.fc = ...` after loading ImageNet weights).
func weightsHeadMode(head string) string {
	if models.IsOutputHead(head) {
		return models.HeadReset
	}
	return head
}

// formatThresholds prints grade thresholds as "0.512 1.487 2.530 3.498".
func formatThresholds(t []float64) string {
	parts := make([]string, len(t))
	for i, v := range t {
		parts[i] = strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strings.Join(parts, " ")
}

// validateHead refuses what an output head cannot train with: another head's loss, focal loss,
// label smoothing and mixing (their targets are class distributions), and a head's loss
// without its head.
func (c *Config) validateHead(add func(format string, a ...any)) {
	own := loss.HeadLosses(c.Head)
	if own == nil {
		for _, h := range []string{models.HeadRegression, models.HeadOrdinal} {
			if slices.Contains(loss.HeadLosses(h), c.Loss) {
				add("--loss %s is the loss of --head %s", c.Loss, h)
			}
		}
		return
	}
	if c.Loss != "" && !slices.Contains(own, c.Loss) {
		add("--head %s trains with --loss %s, not %s", c.Head, strings.Join(own, " or "), c.Loss)
	}
	if c.UseFocalLoss {
		add("--use_focal_loss: --head %s trains with --loss %s", c.Head, strings.Join(own, " or "))
	}
	if c.LabelSmoothing != 0 {
		add("--label_smoothing smooths class targets; --head %s has none", c.Head)
	}
	if c.Mixup > 0 || c.Cutmix > 0 {
		add("--mixup/--cutmix mix class targets; --head %s has none", c.Head)
	}
}
