package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
)

// TestHeadsMatchPredict: a checkpoint with an output head (--head ordinal, --head regression
// with grade thresholds stored beside it in DDR.pth.json) is served with predict's grades and
// probabilities, bit for bit: the server reads the head from the checkpoint as predict does.
func TestHeadsMatchPredict(t *testing.T) {
	for _, head := range []string{models.HeadOrdinal, models.HeadRegression} {
		t.Run(head, func(t *testing.T) {
			weights := filepath.Join(t.TempDir(), "DDR.pth")
			locked.Run(func() {
				torchext.ManualSeed(11)
				m, err := models.NewHead(testModel, 5, head)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if err := models.SaveStateDict(m, weights); err != nil {
					t.Fatal(err)
				}
			})
			pcfg := predictConfig(t)
			pcfg.Weights = weights
			paths, data := testImageFiles(t)
			if head == models.HeadRegression {
				// Thresholds between the random model's outputs y (P(grade ≥ 1) = σ(y − t_0) under
				// rounding's t_0 = 0.5), stored beside the weights, so the images take several grades.
				first, _, err := trainer.PredictFiles(pcfg, paths, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				var ys []float64
				for _, p := range first {
					ys = append(ys, 0.5+math.Log(*p.PAnyDR/(1-*p.PAnyDR)))
				}
				sort.Float64s(ys)
				t4 := []float64{(ys[0] + ys[1]) / 2, (ys[1] + ys[2]) / 2, (ys[2] + ys[3]) / 2, (ys[4] + ys[5]) / 2}
				info, _ := json.Marshal(map[string]any{"weights": "model", "head": "regression", "grade_thresholds": t4})
				if err := os.WriteFile(weights+".json", info, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, skipped, err := trainer.PredictFiles(pcfg, paths, io.Discard)
			if err != nil || len(skipped) > 0 {
				t.Fatalf("PredictFiles: %v %v", err, skipped)
			}
			ts := startServer(t, pcfg, nil)
			a := ts.post(t, "", testImages, data)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			samePredictions(t, head, a.grade.Results, want)
			grades := map[int]bool{}
			for _, w := range want {
				grades[w.Grade] = true
			}
			if head == models.HeadRegression && len(grades) < 4 {
				t.Errorf("regression: grades %v, want the stored thresholds' spread over 5", grades)
			}
			t.Logf("%s: grades %v", head, grades)
		})
	}
}

// TestDICOMUpload: DICOM files posted as raw application/dicom bodies are graded as predict
// grades the same files, bit for bit (imageio reads DICOM; issue 20), and a transfer syntax
// imageio refuses is a 4xx JSON error naming it, after which the server still grades.
func TestDICOMUpload(t *testing.T) {
	dir := filepath.Join("..", "vision", "imageio", "testdata", "dicom")
	names := []string{"native_ybr_full.dcm", "jpeg_rgb_adobe.dcm", "native_mono2.dcm"}
	pcfg := predictConfig(t)
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(dir, n))
	}
	want, skipped, err := trainer.PredictFiles(pcfg, paths, io.Discard)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("PredictFiles: %v %v", err, skipped)
	}
	ts := startServer(t, pcfg, nil)
	raw := func(name string) answer {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, ts.url+"/v1/grade", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/dicom")
		return do(t, req)
	}
	var got []Graded
	for _, n := range names {
		a := raw(n)
		if a.status != http.StatusOK || len(a.grade.Results) != 1 {
			t.Fatalf("%s: status %d: %s", n, a.status, a.body)
		}
		r := a.grade.Results[0]
		r.Path = n
		got = append(got, r)
	}
	samePredictions(t, "DICOM", got, want)
	a := raw("refused_jpeg2000.dcm")
	if a.status < 400 || a.status >= 500 || !strings.Contains(a.err.Error, "1.2.840.10008.1.2.4.90") {
		t.Errorf("JPEG 2000 DICOM: status %d, %s; want a 4xx naming its transfer syntax", a.status, a.body)
	}
	ts.goodRequest(t)
}
