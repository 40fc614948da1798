package trainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// TestParityLastPthWeightsOnly: the last.pth of a one-epoch tiny run loads in PyTorch with
// torch.load(path, weights_only=True) (its uint8 rng_state and config_json, float64
// best_value, 0-d int64 epoch and step, 0-d float32 per-parameter Adam steps), and PyTorch
// sees every key drgrade wrote, with the same dtype, shape, sum and first values, and the same
// config JSON. Live only, as the other tests that run a check in the venv (pyoracle.Mode() ""
// skips; DRGRADE_PARITY set and no venv fails).
func TestParityLastPthWeightsOnly(t *testing.T) {
	if pyoracle.Mode() == "" {
		t.Skip("live PyTorch check: run with DRGRADE_PARITY=1 (make parity)")
	}
	cfg := tinyConfig(t, t.TempDir())
	cfg.Epochs = 1
	res, err := Run(cfg, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(res.SavePath, "last.pth")
	sd, err := pth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pyoracle.Run("testdata/lastpth_check.py", path)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Dtype      string
		Shape      []int
		Sum        float64
		First      []float64
		PythonType string `json:"python_type"`
	}
	var torch struct {
		Type       string
		Entries    map[string]entry
		ConfigJSON string `json:"config_json"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &torch); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if torch.Type != "dict" && torch.Type != "OrderedDict" {
		t.Errorf("torch.load gives a %s", torch.Type)
	}
	if len(torch.Entries) != len(sd.Entries) {
		t.Errorf("PyTorch sees %d keys, drgrade wrote %d", len(torch.Entries), len(sd.Entries))
	}
	seen := map[pth.Dtype]int{}
	for _, e := range sd.Entries {
		te, ok := torch.Entries[e.Name]
		if !ok {
			t.Errorf("%s: not in PyTorch's dict", e.Name)
			continue
		}
		if te.PythonType != "" || te.Dtype != string(e.Dtype) || fmt.Sprint(te.Shape) != fmt.Sprint(e.Shape) {
			t.Errorf("%s: PyTorch sees %s %v %s, drgrade wrote %s %v", e.Name, te.Dtype, te.Shape, te.PythonType, e.Dtype, e.Shape)
			continue
		}
		seen[e.Dtype]++
		v, err := e.Float64s()
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		var sum float64
		for _, x := range v {
			sum += x
		}
		// Summation order differs (torch's pairwise sum): relative 1e-9 of the absolute sum.
		var abs float64
		for _, x := range v {
			abs += math.Abs(x)
		}
		if math.Abs(sum-te.Sum) > 1e-9*math.Max(abs, 1) {
			t.Errorf("%s: sum %.17g, PyTorch %.17g", e.Name, sum, te.Sum)
		}
		for i := 0; i < len(te.First); i++ {
			if v[i] != te.First[i] {
				t.Errorf("%s[%d] = %.17g, PyTorch %.17g", e.Name, i, v[i], te.First[i])
			}
		}
	}
	// The dtypes the brief names: uint8 (rng_state, config_json), float64 (best_value), 0-d
	// int64 (epoch, optimizer.step), and torch 2.1's 0-d float32 Adam steps.
	for _, k := range []struct {
		name  string
		dtype pth.Dtype
		shape string
	}{{ckRNG, pth.Uint8, ""}, {ckConfig, pth.Uint8, ""}, {ckBest, pth.Float64, "[]"}, {ckEpoch, pth.Int64, "[]"},
		{ckOptStep, pth.Int64, "[]"}, {ckOptState + "0.step", pth.Float32, "[]"}} {
		e := sd.Get(k.name)
		if e == nil || e.Dtype != k.dtype || (k.shape != "" && fmt.Sprint(e.Shape) != k.shape) {
			t.Errorf("%s: %+v, want %s %s", k.name, e, k.dtype, k.shape)
		}
	}
	if e := sd.Get(ckEpoch); e != nil {
		if v, _ := e.Int64s(); len(v) != 1 || v[0] != 0 || torch.Entries[ckEpoch].First[0] != 0 {
			t.Errorf("epoch %v, PyTorch %v: want 0 after one epoch", v, torch.Entries[ckEpoch].First)
		}
	}
	if e := sd.Get(ckConfig); e == nil || torch.ConfigJSON != string(e.Data) {
		t.Errorf("config_json as PyTorch decodes it differs from drgrade's")
	}
	t.Logf("%d keys; dtypes %v", len(sd.Entries), seen)
}
