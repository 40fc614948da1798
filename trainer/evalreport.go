package trainer

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/trainer/plot"
	"github.com/drgrade/drgrade/trainer/report"
	"github.com/drgrade/drgrade/vision/explain"
	"github.com/drgrade/drgrade/vision/imageio"
)

// The screening figures of an evaluation, beside confusion_matrix.png.
const (
	ROCFile         = "roc.png"
	PRFile          = "pr.png"
	CalibrationFile = "calibration.png"
)

// viewTitle is a screening view's name for people.
func viewTitle(v metrics.ScreenView) string {
	switch v.Name {
	case metrics.ViewReferable:
		return fmt.Sprintf("Referable DR (grade ≥ %d)", v.Grade)
	case metrics.ViewAnyDR:
		return fmt.Sprintf("Any DR (grade ≥ %d)", v.Grade)
	}
	return v.Name
}

// ci formats a value with its 95% interval: "0.912 (95% CI 0.884–0.938)".
func ci(v float64, iv metrics.Interval) string {
	if math.IsNaN(v) {
		return "undefined"
	}
	if math.IsNaN(iv.Lo) || math.IsNaN(iv.Hi) {
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.3f (95%% CI %.3f–%.3f)", v, iv.Lo, iv.Hi)
}

// WriteScreeningFigures draws roc.png, pr.png (each screening view with a defined AUC: the
// curve, the bootstrap band, the operating points) and calibration.png (the top-label
// reliability diagram) into dir.
func WriteScreeningFigures(dir string, o *EvalOutput) error {
	title := fmt.Sprintf("%s on %s/%s (%d images)", o.Config.Model, filepath.Base(filepath.Clean(o.Config.DataPath)),
		o.Config.Split, len(o.Result.Preds))
	var roc, pr []plot.BinaryCurve
	for _, v := range o.Screening.Views {
		if v.Undefined != "" || len(v.ROC.FPR) < 2 || len(v.PR.Recall) < 2 {
			continue
		}
		r := plot.BinaryCurve{Name: viewTitle(v), Summary: "AUC " + ci(v.AUC, v.AUCCI), X: v.ROC.FPR, Y: v.ROC.TPR}
		p := plot.BinaryCurve{Name: viewTitle(v), Summary: "AP " + ci(v.AP, v.APCI), X: v.PR.Recall, Y: v.PR.Precision,
			Baseline: float64(v.Positives) / float64(v.Positives+v.Negatives)}
		if b := v.Bootstrap; b != nil {
			r.BandX, r.BandLo, r.BandHi = b.ROCBand.X, b.ROCBand.Lo, b.ROCBand.Hi
			p.BandX, p.BandLo, p.BandHi = b.PRBand.X, b.PRBand.Lo, b.PRBand.Hi
		}
		for _, pt := range v.Points {
			label := fmt.Sprintf("%s (t = %.3f)", pt.Name, pt.Threshold)
			if !math.IsNaN(pt.Specificity) && !math.IsNaN(pt.Sensitivity) {
				r.Points = append(r.Points, plot.MarkedPoint{Label: label, X: 1 - pt.Specificity, Y: pt.Sensitivity})
			}
			if !math.IsNaN(pt.PPV) && !math.IsNaN(pt.Sensitivity) {
				p.Points = append(p.Points, plot.MarkedPoint{Label: label, X: pt.Sensitivity, Y: pt.PPV})
			}
		}
		roc, pr = append(roc, r), append(pr, p)
	}
	if len(roc) > 0 {
		if err := plot.ROC(filepath.Join(dir, ROCFile), "ROC — "+title, roc); err != nil {
			return err
		}
		if err := plot.PR(filepath.Join(dir, PRFile), "Precision–recall — "+title, pr); err != nil {
			return err
		}
	}
	c := o.Calibration
	if c.Samples == 0 {
		return nil
	}
	name := "Top-label confidence"
	if o.Config.Temperature > 0 {
		name += fmt.Sprintf(", temperature %.3g", o.Config.Temperature)
	}
	panel := plot.ReliabilityPanel{Name: name, ECE: c.TopLabel.ECE}
	for _, b := range c.TopLabel.Bins {
		panel.Bins = append(panel.Bins, plot.ReliabilityBin{Lo: b.Lower, Hi: b.Upper, Count: b.Count, Accuracy: b.Accuracy, Confidence: b.Confidence})
	}
	return plot.Reliability(filepath.Join(dir, CalibrationFile), fmt.Sprintf("Calibration (%d bins) — %s", c.Bins, title), []plot.ReliabilityPanel{panel})
}

// WriteEvalReport writes the one-file HTML report of an evaluation whose files
// (WriteEvalFiles) are in dir: the headline numbers, the per-class table and confusion
// matrix, the screening views with their operating points and figures, calibration, and the
// gallery (e.g. the most confident mistakes with their Grad-CAM overlays; may be empty).
func WriteEvalReport(path, dir string, o *EvalOutput, gallery []report.Tile, galleryNote string) error {
	png := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		return b, nil
	}
	r, s, c := o.Report, o.Screening, o.Calibration
	names := ClassNames(o.Config.NumClasses)
	stats := []report.Stat{
		{Name: "Accuracy", Value: fmt.Sprintf("%.3f", r.Accuracy)},
		{Name: "Quadratic weighted kappa", Value: fmtNaN(r.QWK)},
		{Name: "Macro F1", Value: fmt.Sprintf("%.3f", r.MacroAllLabels.F1)},
	}
	for _, v := range s.Views {
		if v.Undefined == "" {
			stats = append(stats, report.Stat{Name: viewTitle(v) + " AUC", Value: fmt.Sprintf("%.3f", v.AUC),
				Note: ciNote(v.AUCCI)})
		}
	}
	if c.Samples > 0 {
		stats = append(stats, report.Stat{Name: "ECE (top-label)", Value: fmt.Sprintf("%.4f", c.TopLabel.ECE)},
			report.Stat{Name: "Brier score", Value: fmt.Sprintf("%.4f", c.Brier)})
	}
	perClass := report.Table{Caption: "Per class", Header: []string{"grade", "name", "precision", "recall", "F1", "support"}, NumericFrom: 2}
	for k, pc := range r.PerClass {
		name := strconv.Itoa(k)
		if k < len(names) {
			name = names[k]
		}
		perClass.Rows = append(perClass.Rows, []string{strconv.Itoa(k), name, fmt.Sprintf("%.3f", pc.Precision),
			fmt.Sprintf("%.3f", pc.Recall), fmt.Sprintf("%.3f", pc.F1), strconv.Itoa(pc.Support)})
	}
	cm, err := png("confusion_matrix.png")
	if err != nil {
		return err
	}
	sections := []report.Section{
		{ID: "summary", Title: "Summary", Stats: stats,
			Intro: fmt.Sprintf("%s (%s) with %s on the %s split of %s: %d images graded, %d unreadable.",
				o.Config.Model, o.Arch, filepath.Base(o.Config.Weights), o.Config.Split, o.Config.DataPath, len(o.Result.Preds), len(o.Result.Skipped))},
		{ID: "grades", Title: "Grades", Tables: []report.Table{perClass},
			Intro:   "Precision, recall and F1 of each grade, and the confusion matrix (rows: the true grade; columns: the prediction).",
			Figures: []report.Figure{{Caption: "Confusion matrix", Alt: "confusion matrix", PNG: cm}}},
	}
	if len(s.Views) > 0 {
		sec := report.Section{ID: "screening", Title: "Screening",
			Intro: "A screening programme refers a patient when P(grade ≥ g) reaches a threshold. AUC is the chance that a random positive scores above a random negative; " +
				"the interval is a stratified bootstrap's. Each operating point is a threshold chosen on " + pointsSource(s) + ", with its sensitivity, specificity, PPV and NPV."}
		for _, v := range s.Views {
			if v.Undefined != "" {
				sec.Intro += " " + viewTitle(v) + ": " + v.Undefined + "."
				continue
			}
			t := report.Table{Caption: fmt.Sprintf("%s — %d positive, %d negative; AUC %s, DeLong SE %.3f; AP %s",
				viewTitle(v), v.Positives, v.Negatives, ci(v.AUC, v.AUCCI), v.DeLong.SE, ci(v.AP, v.APCI)),
				Header: []string{"operating point", "threshold", "sensitivity", "specificity", "PPV", "NPV", "TP", "FP", "TN", "FN"}, NumericFrom: 1}
			for _, p := range v.Points {
				t.Rows = append(t.Rows, []string{p.Name, fmt.Sprintf("%.4f", p.Threshold), fmtNaN(p.Sensitivity), fmtNaN(p.Specificity),
					fmtNaN(p.PPV), fmtNaN(p.NPV), strconv.Itoa(p.TP), strconv.Itoa(p.FP), strconv.Itoa(p.TN), strconv.Itoa(p.FN)})
			}
			sec.Tables = append(sec.Tables, t)
		}
		for _, f := range []struct{ file, caption string }{
			{ROCFile, "ROC curves: sensitivity against 1 − specificity, the shaded band the bootstrap's pointwise 95% interval, the dots the operating points."},
			{PRFile, "Precision–recall curves: PPV against sensitivity; the dashed line is the prevalence, what a random grader's PPV would be."},
		} {
			if b, err := png(f.file); err == nil {
				sec.Figures = append(sec.Figures, report.Figure{Caption: f.caption, Alt: f.file, PNG: b})
			}
		}
		sections = append(sections, sec)
	}
	if c.Samples > 0 {
		sec := report.Section{ID: "calibration", Title: "Calibration",
			Intro: "Whether the model's confidence can be taken at its word: in each bin of confidence, the fraction graded right. " +
				"The red tick is the bin's mean confidence: above its bar the model was over-confident there, below it under-confident. " +
				"ECE is the count-weighted mean gap; the Brier score the mean squared error of the probabilities."}
		if b, err := png(CalibrationFile); err == nil {
			sec.Figures = append(sec.Figures, report.Figure{Caption: "Reliability diagram (top-label confidence)", Alt: "reliability diagram", PNG: b})
		}
		sections = append(sections, sec)
	}
	if len(gallery) > 0 {
		sections = append(sections, report.Section{ID: "mistakes", Title: "Most confident mistakes", Intro: galleryNote, Tiles: gallery})
	}
	return report.Write(path, report.Data{
		Title:    fmt.Sprintf("%s — %s split of %s", o.Config.Model, o.Config.Split, filepath.Base(filepath.Clean(o.Config.DataPath))),
		Subtitle: fmt.Sprintf("weights %s · %d classes · made by drgrade eval", o.Config.Weights, o.Config.NumClasses),
		Sections: sections,
		Footer:   "drgrade eval — numbers checked against scikit-learn and NumPy (docs/evaluation.md).",
	})
}

func ciNote(iv metrics.Interval) string {
	if math.IsNaN(iv.Lo) || math.IsNaN(iv.Hi) {
		return ""
	}
	return fmt.Sprintf("95%% CI %.3f–%.3f", iv.Lo, iv.Hi)
}

func pointsSource(s metrics.Screening) string {
	switch {
	case s.ThresholdsFile != "":
		return fmt.Sprintf("the %s split (%s)", s.PointsChosenOn, s.ThresholdsFile)
	case s.PointsChosenOn != "":
		return "this (" + s.PointsChosenOn + ") split"
	}
	return "this split"
}

// MistakeGallery explains (Grad-CAM of the predicted grade) the n images of an evaluation the
// model got wrong with the highest confidence, as report tiles: the picture the model saw and
// its overlay. The note says how to read them.
func MistakeGallery(o *EvalOutput, n int, log io.Writer) ([]report.Tile, string, error) {
	res := o.Result
	var wrong []int
	for i := range res.Preds {
		if res.Preds[i] != res.Labels[i] && i < len(res.Probs) {
			wrong = append(wrong, i)
		}
	}
	if len(wrong) == 0 || n <= 0 {
		return nil, "", nil
	}
	conf := func(i int) float32 { return res.Probs[i][res.Preds[i]] }
	sort.SliceStable(wrong, func(a, b int) bool { return conf(wrong[a]) > conf(wrong[b]) })
	wrong = wrong[:min(n, len(wrong))]
	paths := make([]string, len(wrong))
	for k, i := range wrong {
		paths[k] = o.Dataset.Paths[res.Index[i]]
	}
	cfg := o.Config
	ex, unreadable, err := ExplainFiles(ExplainConfig{Model: cfg.Model, Weights: cfg.Weights, NumClasses: cfg.NumClasses,
		ImgSize: cfg.ImgSize, Transforms: cfg.Transforms, Threads: cfg.Threads, Device: cfg.Device}, paths, nil, log)
	if err != nil {
		return nil, "", err
	}
	if len(unreadable) > 0 {
		return nil, "", fmt.Errorf("report gallery: %v", unreadable[0])
	}
	layer, _ := explain.TargetLayer(cfg.Model)
	names := ClassNames(cfg.NumClasses)
	var tiles []report.Tile
	for k, e := range ex {
		i := wrong[k]
		pic, err := encodePNG(rgbImage(e.Image))
		if err != nil {
			return nil, "", err
		}
		ov, err := explain.Overlay(e.Image, e.Result.Map)
		if err != nil {
			return nil, "", err
		}
		ovPNG, err := encodePNG(ov)
		if err != nil {
			return nil, "", err
		}
		name := filepath.Base(e.Path)
		tiles = append(tiles, report.Tile{
			Caption: fmt.Sprintf("%s: graded %s (p %.2f), truly %s", name, names[res.Preds[i]], conf(i), names[res.Labels[i]]),
			Images: []report.Figure{{Alt: name, Caption: name, PNG: pic},
				{Alt: name + " Grad-CAM", Caption: "Grad-CAM of " + names[res.Preds[i]], PNG: ovPNG}}})
	}
	note := fmt.Sprintf("The %d images graded wrong with the highest confidence: the picture the model saw (after the val transforms) and "+
		"Grad-CAM of the grade it predicted, at %s (red: where the evidence for that grade was strongest). "+
		"Grad-CAM shows where the last convolutional stage's features pushed the score, at that stage's coarse resolution; it is not a lesion segmentation.", len(tiles), layer)
	return tiles, note, nil
}

// rgbImage is img as an image.Image.
func rgbImage(img *imageio.RGB) image.Image {
	out := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			r, g, b := img.At(x, y)
			out.SetNRGBA(x, y, color.NRGBA{R: r, G: g, B: b, A: 255})
		}
	}
	return out
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
