package trainer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/olekukonko/tablewriter"

	"github.com/drgrade/drgrade/internal/atomicfile"
	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/trainer/plot"
	"github.com/drgrade/drgrade/trainer/tblog"
	"github.com/drgrade/drgrade/vision/dataset"
)

// EpochRecord is one epoch's numbers, as written to metrics.json and metrics.csv.
type EpochRecord struct {
	Epoch       int     `json:"epoch"` // 1-based, as the script prints
	TrainLoss   float64 `json:"train_loss"`
	TrainAcc    float64 `json:"train_acc"`
	ValAcc      float64 `json:"val_accuracy"`
	LR          float64 `json:"learning_rate"`
	Precision   float64 `json:"precision"`
	Recall      float64 `json:"recall"`
	F1          float64 `json:"f1_score"`
	Kappa       float64 `json:"kappa"`
	MacroF1     float64 `json:"macro_f1"`
	BalancedAcc float64 `json:"balanced_accuracy"`
	Seconds     float64 `json:"seconds"`
	Skipped     int     `json:"skipped_images"`
	// ReferableAUC is the val ROC AUC of P(referable) = P(grade ≥ --referable_grade), DDR's
	// Ungradable left out (ReferableAUC): NaN, null in JSON, where undefined.
	ReferableAUC float64 `json:"referable_auc"`
}

// metric is the value --best_metric compares (kappa: NaN counts as -inf, never best); the
// names are those of the metric registry (RegisterMetric).
func (r EpochRecord) metric(name string) float64 { return metricValue(r, name) }

// MarshalJSON writes NaN (an undefined kappa or referable AUC) as null.
func (r EpochRecord) MarshalJSON() ([]byte, error) {
	type plain EpochRecord
	p := plain(r)
	orNull := func(x *float64) *float64 {
		if math.IsNaN(*x) {
			return nil
		}
		return x
	}
	return json.Marshal(struct {
		plain
		Kappa        *float64 `json:"kappa"`
		ReferableAUC *float64 `json:"referable_auc"`
	}{p, orNull(&p.Kappa), orNull(&p.ReferableAUC)})
}

// UnmarshalJSON reads a record written by MarshalJSON: null (or, for referable_auc, a
// metrics.json written before it existed) is NaN.
func (r *EpochRecord) UnmarshalJSON(b []byte) error {
	type plain EpochRecord
	var j struct {
		plain
		Kappa        *float64 `json:"kappa"`
		ReferableAUC *float64 `json:"referable_auc"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = EpochRecord(j.plain)
	r.Kappa, r.ReferableAUC = math.NaN(), math.NaN()
	if j.Kappa != nil {
		r.Kappa = *j.Kappa
	}
	if j.ReferableAUC != nil {
		r.ReferableAUC = *j.ReferableAUC
	}
	return nil
}

// writeScalars logs the script's TensorBoard tags plus kappa, macro_f1 and referable_auc,
// step = epoch.
func writeScalars(w *tblog.Writer, r EpochRecord, epoch int) error {
	for _, s := range []struct {
		tag string
		v   float64
	}{
		{"train_loss", r.TrainLoss}, {"train_acc", r.TrainAcc}, {"val_accuracy", r.ValAcc},
		{"learning_rate", r.LR}, {"precision", r.Precision}, {"recall", r.Recall}, {"f1_score", r.F1},
		{"kappa", r.Kappa}, {"macro_f1", r.MacroF1}, {"referable_auc", r.ReferableAUC},
	} {
		if err := w.AddScalar(s.tag, s.v, int64(epoch)); err != nil {
			return err
		}
	}
	return w.Flush()
}

// runLog writes the per-epoch text outputs: the console lines and tables, DDR.txt (appended,
// as the script does), metrics.json and metrics.csv (rewritten atomically each epoch).
type runLog struct {
	dir        string
	out        io.Writer
	history    []EpochRecord
	best       *metrics.Report
	title      string // the plots' title: model and data set
	bestMetric string // --best_metric, for the plots
}

// loadHistory keeps the records of epochs before startEpoch from an earlier metrics.json
// (a resumed run), so the files keep describing the whole run.
func (l *runLog) loadHistory(startEpoch int) error {
	if startEpoch == 0 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(l.dir, "metrics.json"))
	if err != nil {
		return nil // nothing to keep
	}
	var h []EpochRecord
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(l.dir, "metrics.json"), err)
	}
	for _, r := range h {
		if r.Epoch <= startEpoch {
			l.history = append(l.history, r)
		}
	}
	return l.truncateLog(startEpoch)
}

// truncateLog drops DDR.txt's lines of epochs after startEpoch: a run killed after appending
// an epoch's lines but before its last.pth was written repeats that epoch on --resume, and
// the file must then hold its lines once.
func (l *runLog) truncateLog(startEpoch int) error {
	path := filepath.Join(l.dir, "DDR.txt")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil // nothing to keep
	}
	marker := []byte(fmt.Sprintf("[epoch %d]", startEpoch+1))
	for off := 0; off < len(b); {
		if bytes.HasPrefix(b[off:], marker) {
			return writeAtomic(path, b[:off])
		}
		nl := bytes.IndexByte(b[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	return nil
}

func (l *runLog) epoch(r EpochRecord, rep metrics.Report, tr EpochResult, ev EvalResult) error {
	lines := metrics.EpochLines(r.Epoch-1, r.TrainLoss, r.TrainAcc, r.ValAcc, rep.Weighted)
	extra := ExtraEpochLine(r.Kappa, r.MacroF1, r.BalancedAcc, r.ReferableAUC)
	fmt.Fprint(l.out, lines+extra)
	printTables(l.out, rep)
	if n := len(tr.Skipped) + len(ev.Skipped); n > 0 {
		fmt.Fprintf(l.out, "skipped %d unreadable image(s) this epoch (--skip_bad_images):\n", n)
		for _, s := range append(tr.Skipped, ev.Skipped...) {
			fmt.Fprintf(l.out, "  %v\n", s.Err)
		}
	}
	f, err := os.OpenFile(filepath.Join(l.dir, "DDR.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(lines + extra); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	l.history = append(l.history, r)
	return l.writeMetrics()
}

// ExtraEpochLine is the third line drgrade adds to each epoch of DDR.txt, after the script's
// two (metrics.EpochLines), ending in "\n":
//
//	Kappa: %.3f, Macro-F1: %.3f, Balanced Acc: %.3f, Referable AUC: %.3f
//
// with Python's spelling of an undefined value, "nan".
func ExtraEpochLine(kappa, macroF1, balancedAcc, referableAUC float64) string {
	return fmt.Sprintf("Kappa: %s, Macro-F1: %s, Balanced Acc: %s, Referable AUC: %s\n", metrics.PyFixed3(kappa),
		metrics.PyFixed3(macroF1), metrics.PyFixed3(balancedAcc), metrics.PyFixed3(referableAUC))
}

func (l *runLog) writeMetrics() error {
	js, err := json.MarshalIndent(l.history, "", " ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(l.dir, "metrics.json"), append(js, '\n')); err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"epoch", "train_loss", "train_acc", "val_accuracy", "learning_rate", "precision", "recall",
		"f1_score", "kappa", "macro_f1", "balanced_accuracy", "seconds", "skipped_images", "referable_auc"})
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	for _, r := range l.history {
		_ = w.Write([]string{strconv.Itoa(r.Epoch), f(r.TrainLoss), f(r.TrainAcc), f(r.ValAcc), f(r.LR), f(r.Precision),
			f(r.Recall), f(r.F1), f(r.Kappa), f(r.MacroF1), f(r.BalancedAcc), f(r.Seconds), strconv.Itoa(r.Skipped), f(r.ReferableAUC)})
	}
	w.Flush()
	return writeAtomic(filepath.Join(l.dir, "metrics.csv"), buf.Bytes())
}

// writePlots redraws curves.png from every epoch so far, and, when this epoch is the new best,
// confusion_matrix.png from its report. A plot that cannot be written is a warning, not the
// end of a day-long run.
func (l *runLog) writePlots(newBest *metrics.Report) {
	bestEpoch, bestValue := 0, math.Inf(-1) // the trainer's rule: the first strictly greater value
	if l.bestMetric == "acc" {
		bestValue = 0 // best_acc = 0.
	}
	pts := make([]plot.CurvePoint, len(l.history))
	for i, r := range l.history {
		if v := metricValue(r, l.bestMetric); v > bestValue {
			bestEpoch, bestValue = r.Epoch, v
		}
		pts[i] = plot.CurvePoint{Epoch: r.Epoch, TrainLoss: r.TrainLoss, TrainAcc: r.TrainAcc, ValAcc: r.ValAcc,
			Kappa: r.Kappa, MacroF1: r.MacroF1, LR: r.LR}
	}
	title := l.title
	if bestEpoch > 0 {
		title += fmt.Sprintf(" — best epoch %d (%s %.3f)", bestEpoch, l.bestMetric, bestValue)
	}
	if err := plot.Curves(filepath.Join(l.dir, "curves.png"), title, pts, bestEpoch); err != nil {
		fmt.Fprintf(l.out, "WARNING: curves.png: %v\n", err)
	}
	if newBest != nil {
		t := fmt.Sprintf("%s — best epoch %d: accuracy %.3f, kappa %s", l.title, bestEpoch, newBest.Accuracy, metrics.PyFixed3(newBest.QWK))
		if err := plot.ConfusionMatrix(filepath.Join(l.dir, "confusion_matrix.png"), t, newBest.ConfusionMatrix, ClassNames(newBest.NumClasses)); err != nil {
			fmt.Fprintf(l.out, "WARNING: confusion_matrix.png: %v\n", err)
		}
	}
}

// final prints the best epoch's confusion matrix once more at the end of the run.
func (l *runLog) final() {
	if l.best == nil {
		return
	}
	fmt.Fprintln(l.out, "\nBest epoch's confusion matrix (rows: true grade, columns: predicted):")
	printConfusion(l.out, *l.best)
}

// writeAtomic writes data to path so that a crash leaves either the old or the new file.
func writeAtomic(path string, data []byte) error { return atomicfile.WriteBytes(path, data) }

// printTables prints the per-class table and the confusion matrix of one evaluation.
func printTables(w io.Writer, r metrics.Report) {
	t := tablewriter.NewWriter(w)
	t.Header("Grade", "Precision", "Recall", "F1", "Support")
	for c, s := range r.PerClass {
		_ = t.Append(dataset.GradeName(c), fmt.Sprintf("%.3f", s.Precision), fmt.Sprintf("%.3f", s.Recall), fmt.Sprintf("%.3f", s.F1), strconv.Itoa(s.Support))
	}
	t.Footer("weighted / macro", fmt.Sprintf("%.3f / %.3f", r.Weighted.Precision, r.MacroAllLabels.Precision),
		fmt.Sprintf("%.3f / %.3f", r.Weighted.Recall, r.MacroAllLabels.Recall),
		fmt.Sprintf("%.3f / %.3f", r.Weighted.F1, r.MacroAllLabels.F1), strconv.Itoa(r.Samples))
	_ = t.Render()
	printConfusion(w, r)
}

func printConfusion(w io.Writer, r metrics.Report) {
	t := tablewriter.NewWriter(w)
	head := []any{"true \\ pred"}
	for c := range r.ConfusionMatrix {
		head = append(head, dataset.GradeName(c))
	}
	t.Header(head...)
	for i, row := range r.ConfusionMatrix {
		cells := []any{dataset.GradeName(i)}
		for _, v := range row {
			cells = append(cells, strconv.Itoa(v))
		}
		_ = t.Append(cells...)
	}
	_ = t.Render()
}
