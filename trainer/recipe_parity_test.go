package trainer

import (
	"fmt"
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/vision/models"
)

type recipeGolden struct {
	Shapes [][]int64
	Clip   []struct {
		Mode  string
		Value float64
		Total *float64
		Grads [][]float64
	}
	EMADecay  float64 `json:"ema_decay"`
	Names     []string
	ShapesEMA [][]int64 `json:"shapes_ema"`
	Start     [][]float64
	States    [][][]float64
	EMAs      [][][]float64
}

// floatTensor is v as a float32 tensor of shape (int64 when asInt).
func floatTensor(t *testing.T, v []float64, shape []int64, asInt bool) *ts.Tensor {
	t.Helper()
	var x *ts.Tensor
	var err error
	if asInt {
		iv := make([]int64, len(v))
		for i := range v {
			iv[i] = int64(v[i])
		}
		x, err = models.TensorFrom(iv, shape)
	} else {
		fv := make([]float32, len(v))
		for i := range v {
			fv[i] = float32(v[i])
		}
		x, err = models.TensorFrom(fv, shape)
	}
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestParityClipGrad: clip_grad_norm_ (a max_norm below the total norm and one above it, one
// parameter without a gradient) and clip_grad_value_ give torch 2.1's gradients within
// 1e-7·max(|g|, 1) and its total norm within 1e-6 relative.
func TestParityClipGrad(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/recipe", "testdata/recipe_gen.py")
	var g recipeGolden
	pyoracle.ReadJSON(t, dir, "recipe.json", &g)
	locked.Run(func() {
		for _, c := range g.Clip {
			t.Run(fmt.Sprintf("%s_%g", c.Mode, c.Value), func(t *testing.T) {
				var params []*ts.Tensor
				grads := make([]*ts.Tensor, len(g.Shapes))
				for i, s := range g.Shapes {
					p := ts.MustZeros(s, gotch.Float, gotch.CPU)
					defer p.MustDrop()
					if err := p.RequiresGrad_(true); err != nil {
						t.Fatal(err)
					}
					params = append(params, p)
					if i != 2 { // parameter 2 has no gradient
						grads[i] = floatTensor(t, gradsBefore(t, dir, i), s, false)
					}
				}
				setGrads(t, params, grads)
				opt, err := NewOptimizer(params, OptimizerOptions{Kind: OptSGD, LR: 1})
				if err != nil {
					t.Fatal(err)
				}
				defer opt.Close()
				if c.Mode == "norm" {
					total, err := torchext.ClipGradNorm(params, c.Value, 2)
					if err != nil {
						t.Fatal(err)
					}
					if math.Abs(total-*c.Total)/(*c.Total) > 1e-6 {
						t.Errorf("total norm %.9g, torch %.9g", total, *c.Total)
					}
				} else if err := clipGrads(opt, c.Value, c.Mode); err != nil {
					t.Fatal(err)
				}
				for i, p := range params {
					grad := p.MustGrad(false)
					if !grad.MustDefined() {
						if c.Grads[i] != nil {
							t.Errorf("parameter %d: no gradient, torch has one", i)
						}
						continue
					}
					got := grad.Float64Values()
					grad.MustDrop()
					for j := range got {
						if math.Abs(got[j]-c.Grads[i][j]) > 1e-7*math.Max(math.Abs(c.Grads[i][j]), 1) {
							t.Errorf("parameter %d grad[%d] %.9g, torch %.9g", i, j, got[j], c.Grads[i][j])
							break
						}
					}
				}
			})
		}
	})
}

// gradsBefore is the unclipped gradient i of the clip goldens: the "norm 100" case leaves the
// gradients unchanged (coefficient clamped to 1, a multiplication by exactly 1).
func gradsBefore(t *testing.T, dir string, i int) []float64 {
	var g recipeGolden
	pyoracle.ReadJSON(t, dir, "recipe.json", &g)
	for _, c := range g.Clip {
		if c.Mode == "norm" && *c.Total < c.Value {
			return c.Grads[i]
		}
	}
	t.Fatal("no unclipped case in the goldens")
	return nil
}

// TestParityModelEMA: timm 0.9.12 ModelEmaV2(decay=0.9) over a conv + BatchNorm + linear net
// for 4 updates: every state_dict entry of the EMA (parameters, running statistics, and
// num_batches_tracked, which timm's float average truncates back to int64) within 1e-6 of
// timm's.
func TestParityModelEMA(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/recipe", "testdata/recipe_gen.py")
	var g recipeGolden
	pyoracle.ReadJSON(t, dir, "recipe.json", &g)
	build := func() *models.StateDict {
		sd, _ := convBNNet(t)
		if fmt.Sprint(sd.Names()) != fmt.Sprint(g.Names) {
			t.Fatalf("keys %v, timm's %v", sd.Names(), g.Names)
		}
		return sd
	}
	locked.Run(func() {
		model, emaSD := build(), build()
		defer model.Close()
		defer emaSD.Close()
		load := func(sd *models.StateDict, vals [][]float64) {
			for i, e := range sd.Entries() {
				src := floatTensor(t, vals[i], g.ShapesEMA[i], e.Tensor.DType() == gotch.Int64)
				if err := torchext.CopyInto(e.Tensor, src); err != nil {
					t.Fatal(err)
				}
				src.MustDrop()
			}
		}
		load(model, g.Start)
		load(emaSD, g.Start)
		ema := &modelEMA{decay: g.EMADecay}
		for i := range model.Entries() {
			ema.dst = append(ema.dst, emaSD.Entries()[i].Tensor)
			ema.src = append(ema.src, model.Entries()[i].Tensor)
		}
		worst := 0.0
		for step := range g.States {
			load(model, g.States[step]) // the model after step's optimiser step
			if err := ema.update(); err != nil {
				t.Fatal(err)
			}
			for i, e := range emaSD.Entries() {
				got := e.Tensor.Float64Values()
				for j := range got {
					d := math.Abs(got[j] - g.EMAs[step][i][j])
					worst = math.Max(worst, d)
					if d > 1e-6 {
						t.Errorf("update %d: %s[%d] = %.9g, timm %.9g", step, e.Name, j, got[j], g.EMAs[step][i][j])
						break
					}
				}
			}
		}
		t.Logf("worst |Δ| over %d updates: %.3g", len(g.States), worst)
	})
}

// convBNNet is the generators' torch.nn.Sequential(Conv2d(3, 4, 3, padding=1), BatchNorm2d(4),
// ReLU, AdaptiveAvgPool2d(1), Flatten, Linear(4, 5)), with its state dict.
func convBNNet(t *testing.T) (*models.StateDict, models.Sequential) {
	t.Helper()
	sd := models.NewStateDict()
	root := sd.Root()
	net := models.Sequential{
		models.NewConv2d(root.Sub("0"), 3, 4, 3, models.ConvOpts{Padding: 1}, nil),
		models.NewBatchNorm2d(root.Sub("1"), 4),
		models.ReLU, models.AdaptiveAvgPool2d(1, 1), models.Flatten,
		models.NewLinear(root.Sub("5"), 4, 5),
	}
	if err := sd.Err(); err != nil {
		t.Fatal(err)
	}
	return sd, net
}

// noBNNet is a conv + linear net without BatchNorm: its gradient over a batch is the mean
// of its gradients over the batch's parts.
func noBNNet(t *testing.T) *smallNet {
	sd := models.NewStateDict()
	root := sd.Root()
	body := models.Sequential{
		models.NewConv2d(root.Sub("0"), 3, 6, 3, models.ConvOpts{Padding: 1}, nil),
		models.ReLU, models.AdaptiveAvgPool2d(1, 1), models.Flatten,
		models.NewLinear(root.Sub("4"), 6, 5),
	}
	if err := sd.Err(); err != nil {
		t.Fatal(err)
	}
	return &smallNet{sd: sd, body: body}
}

// TestAccumEqualsBigBatch: --accum_steps 3 over three batches of 4 steps the weights as one
// step on the batch of 12 (the unweighted mean loss, a net without BatchNorm), within 1e-6,
// for SGD and AdamW and with norm clipping; a loss left undivided (breaking the accumulation)
// fails it.
func TestAccumEqualsBigBatch(t *testing.T) {
	locked.Run(func() {
		torchext.SetNumThreads(1)
		torchext.ManualSeed(3)
		x := ts.MustRandn([]int64{12, 3, 6, 6}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		y := ts.MustOfSlice([]int64{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4, 2})
		defer y.MustDrop()
		crit, err := loss.NewCrossEntropy(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer crit.Close()
		for _, tc := range []struct {
			name string
			opt  OptimizerOptions
			clip float64
		}{
			{"sgd", OptimizerOptions{Kind: OptSGD, LR: 0.5, Momentum: 0.9}, 0},
			{"adamw", OptimizerOptions{Kind: OptAdamW, LR: 0.01, WeightDecay: 0.1}, 0},
			{"sgd clip", OptimizerOptions{Kind: OptSGD, LR: 0.5}, 0.05},
		} {
			t.Run(tc.name, func(t *testing.T) {
				run := func(accum int) [][]float64 {
					torchext.ManualSeed(7)
					m := noBNNet(t)
					defer m.Close()
					opt, err := NewOptimizer(m.sd.Parameters(), tc.opt)
					if err != nil {
						t.Fatal(err)
					}
					defer opt.Close()
					scaler, _ := NewGradScaler(false)
					plan := &trainPlan{accum: accum, clip: tc.clip, clipMode: "norm"}
					for step := 0; step < 2; step++ { // two updates: momentum and moments used
						n := int64(12 / accum)
						for k := int64(0); k < int64(accum); k++ {
							xb := x.MustNarrow(0, k*n, n, false)
							yb := y.MustNarrow(0, k*n, n, false)
							if _, err := trainStepPlan(m, crit, opt, scaler, AMP{}, xb, yb, nil, plan, accum, k == int64(accum-1)); err != nil {
								t.Fatal(err)
							}
							xb.MustDrop()
							yb.MustDrop()
						}
					}
					var out [][]float64
					for _, p := range m.sd.Parameters() {
						out = append(out, p.Float64Values())
					}
					return out
				}
				big, acc := run(1), run(3)
				worst := 0.0
				for i := range big {
					for j := range big[i] {
						worst = math.Max(worst, math.Abs(big[i][j]-acc[i][j]))
					}
				}
				if worst > 1e-6 {
					t.Errorf("accumulated weights differ from the big batch's by %.3g", worst)
				}
				t.Logf("max |Δw| %.3g", worst)
			})
		}
	})
}

// TestClipAfterUnscale: with the GradScaler acting (scale 65536, the CUDA float16 recipe driven
// on the CPU), clipping sees the unscaled gradients, as torch's AMP docs prescribe
// (scaler.unscale_ before clip_grad_norm_): the step equals the step without a scaler within
// 1e-6; clipping the scaled gradients would shrink the update 65536-fold.
func TestClipAfterUnscale(t *testing.T) {
	locked.Run(func() {
		torchext.SetNumThreads(1)
		torchext.ManualSeed(5)
		x := ts.MustRandn([]int64{8, 3, 6, 6}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		y := ts.MustOfSlice([]int64{0, 1, 2, 3, 4, 0, 1, 2})
		defer y.MustDrop()
		crit, err := loss.NewCrossEntropy(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer crit.Close()
		run := func(scale bool) ([]float64, []float64) {
			torchext.ManualSeed(9)
			m := noBNNet(t)
			defer m.Close()
			before := m.sd.Parameters()[0].Float64Values()
			opt, err := NewOptimizer(m.sd.Parameters(), OptimizerOptions{Kind: OptSGD, LR: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer opt.Close()
			scaler, err := NewGradScaler(scale)
			if err != nil {
				t.Fatal(err)
			}
			defer scaler.Close()
			st, err := trainStepPlan(m, crit, opt, scaler, AMP{}, x, y, nil, &trainPlan{accum: 1, clip: 0.01, clipMode: "norm"}, 1, true)
			if err != nil || !st.Stepped {
				t.Fatalf("step: %v (stepped %v)", err, st.Stepped)
			}
			return before, m.sd.Parameters()[0].Float64Values()
		}
		b0, plain := run(false)
		_, scaled := run(true)
		moved, worst := 0.0, 0.0
		for i := range plain {
			moved = math.Max(moved, math.Abs(plain[i]-b0[i]))
			worst = math.Max(worst, math.Abs(plain[i]-scaled[i]))
		}
		if moved < 1e-4 || worst > 1e-6 {
			t.Errorf("clipped step moved the weights by %.3g; with the scaler they differ by %.3g", moved, worst)
		}
	})
}
