package models

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
)

// TestParityHeads: NewHead's regression and ordinal (CORAL) heads on shufflenet_small have
// the state_dict keys, in order, of torchvision's model with num_classes=1 and of the model
// with fc = coral_pytorch's CoralLayer, load their PyTorch head tensors, and give PyTorch's
// eval-mode outputs ([N, 1] and [N, K−1]) within logitTol. Measured: within 4e-9 of the
// outputs' scale, the golden's 9 significant digits; adding no coral_bias fails it.
func TestParityHeads(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/heads", "testdata/heads_gen.py")
	var g map[string]struct {
		Keys    []string  `json:"keys"`
		Shape   []int64   `json:"shape"`
		Outputs []float64 `json:"outputs"`
	}
	pyoracle.ReadJSON(t, dir, "heads.json", &g)
	for _, head := range []string{HeadRegression, HeadOrdinal} {
		t.Run(head, func(t *testing.T) {
			want := g[head]
			locked.Run(func() {
				m, err := NewHead("shufflenet_small", 5, head)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if got := m.StateDict().Names(); !slices.Equal(got, want.Keys) {
					t.Fatalf("state_dict keys differ from PyTorch's; last ones %q, want %q", got[len(got)-3:], want.Keys[len(want.Keys)-3:])
				}
				if m.Config().Head != head {
					t.Fatalf("Config().Head %q", m.Config().Head)
				}
				body, err := LoadWeights(m, "testdata/forward/shufflenet_small.pth", HeadReset)
				if err != nil {
					t.Fatal(err)
				}
				fc, err := LoadWeights(m, filepath.Join(dir, head+".pth"), HeadSlice)
				if err != nil {
					t.Fatal(err)
				}
				if n := len(m.StateDict().Entries()); body.Loaded+fc.Loaded != n || fc.Loaded != len(m.StateDict().Entries())-body.Loaded {
					t.Fatalf("loaded %d + %d of %d tensors:\n%s\n%s", body.Loaded, fc.Loaded, n, body, fc)
				}
				x := readNpyTensor(t, "testdata/forward/shufflenet_small_x.npy")
				defer x.MustDrop()
				defer torchext.NoGrad()()
				y, err := m.ForwardT(x, false)
				if err != nil {
					t.Fatal(err)
				}
				defer y.MustDrop()
				if s := y.MustSize(); !slices.Equal(s, want.Shape) {
					t.Fatalf("output shape %v, want %v", s, want.Shape)
				}
				got := make([]float32, len(want.Outputs))
				if err := torchext.CopyTo(y, got); err != nil {
					t.Fatal(err)
				}
				scale, worst := 0.0, 0.0
				for i, w := range want.Outputs {
					scale = math.Max(scale, math.Abs(w))
					worst = math.Max(worst, math.Abs(float64(got[i])-w))
				}
				if worst > logitTol*scale {
					t.Fatalf("outputs %v, PyTorch %v (worst %g)", got, want.Outputs, worst)
				}
				t.Logf("%s: worst |Δ| %g of scale %g", head, worst, scale)
			})
		})
	}
}

// TestNewHeadErrors: an ordinal head needs an nn.Linear classifier and at least 2 grades.
func TestNewHeadErrors(t *testing.T) {
	locked.Run(func() {
		if _, err := NewHead("shufflenet_small", 1, HeadOrdinal); err == nil {
			t.Error("1 grade: no error")
		}
		if _, err := NewHead("no_such_model", 5, HeadRegression); err == nil {
			t.Error("unknown model: no error")
		}
	})
}
