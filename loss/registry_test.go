package loss_test

import (
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
)

// labelSmoothing is a toy criterion of the kind a researcher adds without forking drgrade:
// cross-entropy with label smoothing ε (torch.nn.CrossEntropyLoss(label_smoothing=ε)).
func labelSmoothing(eps float64) loss.Constructor {
	return func(loss.Options) (loss.Criterion, error) {
		return loss.Func(func(logits, targets *ts.Tensor) (*ts.Tensor, error) {
			none := ts.NewTensor() // weight=None
			defer none.MustDrop()
			return logits.CrossEntropyLoss(targets, none, 1, -100, eps, false)
		}), nil
	}
}

// smoothedCE is the label-smoothed cross-entropy in float64 by its definition:
// (1−ε)·(lse − x_y) + ε/C·Σ_c (lse − x_c), averaged over the rows.
func smoothedCE(x [][]float64, y []int, eps float64) float64 {
	var sum float64
	for i, row := range x {
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(v - m)
		}
		lse := m + math.Log(s)
		var all float64
		for _, v := range row {
			all += lse - v
		}
		sum += (1-eps)*(lse-row[y[i]]) + eps/float64(len(row))*all
	}
	return sum / float64(len(x))
}

func lossValue(t *testing.T, c loss.Criterion, x [][]float64, y []int) float64 {
	t.Helper()
	flat := make([]float32, 0, len(x)*len(x[0]))
	for _, row := range x {
		for _, v := range row {
			flat = append(flat, float32(v))
		}
	}
	y64 := make([]int64, len(y))
	for i, v := range y {
		y64[i] = int64(v)
	}
	logits, err := torchext.FromSlice(flat, []int64{int64(len(x)), int64(len(x[0]))})
	if err != nil {
		t.Fatal(err)
	}
	defer logits.MustDrop()
	targets := ts.MustOfSlice(y64)
	defer targets.MustDrop()
	l, err := c.Loss(logits, targets)
	if err != nil {
		t.Fatal(err)
	}
	defer l.MustDrop()
	return l.Float64Values()[0]
}

var (
	toyOnce sync.Once // go test -count=N runs the test N times in one process
	toyErr  error
)

// TestRegisterToyLoss: a criterion registered from outside the package is built by New by
// name and computes what it defines; the registry refuses duplicates, empty names and nil
// constructors, and an unknown name lists what is registered.
func TestRegisterToyLoss(t *testing.T) {
	toyOnce.Do(func() { toyErr = loss.Register("toy_label_smoothing", labelSmoothing(0.1)) })
	if toyErr != nil {
		t.Fatal(toyErr)
	}
	for _, bad := range []struct {
		name string
		ctor loss.Constructor
	}{
		{"toy_label_smoothing", labelSmoothing(0.2)}, // taken
		{loss.NameFocal, labelSmoothing(0.2)},        // a built-in
		{" ", labelSmoothing(0.2)},
		{"toy_nil", nil},
	} {
		if err := loss.Register(bad.name, bad.ctor); err == nil {
			t.Errorf("Register(%q) accepted", bad.name)
		}
	}
	if names := strings.Join(loss.Names(), ","); !strings.HasPrefix(names, "coral,cross_entropy,focal,mse,smooth_l1,") || !strings.Contains(names, ",toy_label_smoothing") {
		t.Errorf("Names() = %s, want the built-ins and the toy, sorted", names)
	}
	if _, err := loss.New("toy_typo", loss.Options{}); err == nil || !strings.Contains(err.Error(), "toy_label_smoothing") {
		t.Errorf("New(unknown) error = %v, want one listing the registered names", err)
	}

	x := [][]float64{{2, -1, 0.5, 0, 1}, {-0.5, 0.25, 3, -2, 0}, {0, 0, 0, 0, 0}}
	y := []int{0, 2, 4}
	locked.Run(func() {
		c, err := loss.New("toy_label_smoothing", loss.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		got, want := lossValue(t, c, x, y), smoothedCE(x, y, 0.1)
		// float32 logits and libtorch's float32 log_softmax: a few float32 ulps of a value near 1.
		if math.Abs(got-want) > 1e-6 {
			t.Errorf("toy loss = %.9f, want %.9f", got, want)
		}
	})
}

// TestNewBuiltins: New("cross_entropy") and New("focal") are the criteria the trainer built
// directly (CrossEntropyLoss(weight=1/count), FocalLoss(alpha, gamma), per-class alpha for
// "auto"), bit for bit.
func TestNewBuiltins(t *testing.T) {
	counts := []int{5, 1, 3}
	w, err := loss.ClassWeights(counts, "inverse")
	if err != nil {
		t.Fatal(err)
	}
	wn, err := loss.ClassWeights(counts, "normalized")
	if err != nil {
		t.Fatal(err)
	}
	x := [][]float64{{2, -1, 0.5}, {-0.5, 0.25, 3}, {0.1, 0, -0.3}, {1, 2, 3}}
	y := []int{0, 2, 1, 1}
	locked.Run(func() {
		ceDirect, err := loss.NewCrossEntropy(w)
		if err != nil {
			t.Fatal(err)
		}
		defer ceDirect.Close()
		fpcDirect, err := loss.NewFocalPerClass(wn, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer fpcDirect.Close()
		for _, tc := range []struct {
			name   string
			opts   loss.Options
			direct loss.Criterion
		}{
			{loss.NameCrossEntropy, loss.Options{ClassCounts: counts, ClassWeights: w}, ceDirect},
			{loss.NameFocal, loss.Options{ClassCounts: counts, FocalAlpha: "1", FocalGamma: 2}, loss.NewFocal(1, 2)},
			{loss.NameFocal, loss.Options{ClassCounts: counts, FocalAlpha: "0.25", FocalGamma: 1.5}, loss.NewFocal(0.25, 1.5)},
			{loss.NameFocal, loss.Options{ClassCounts: counts, FocalAlpha: "auto", FocalGamma: 2}, fpcDirect},
		} {
			c, err := loss.New(tc.name, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := lossValue(t, c, x, y), lossValue(t, tc.direct, x, y); got != want {
				t.Errorf("New(%s, %+v) = %v, the direct constructor %v", tc.name, tc.opts, got, want)
			}
			c.Close()
		}
		if _, err := loss.New(loss.NameFocal, loss.Options{FocalAlpha: "lots"}); err == nil {
			t.Error("focal with alpha \"lots\" accepted")
		}
		if _, err := loss.New(loss.NameFocal, loss.Options{ClassCounts: []int{3, 0}, FocalAlpha: "auto"}); err == nil {
			t.Error("focal auto with an empty class accepted")
		}
	})
}
