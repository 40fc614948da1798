package serve

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
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
			var paths []string
			var data [][]byte
			for _, n := range testImages {
				paths = append(paths, imagePath(n))
				data = append(data, readImage(t, n))
			}
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
