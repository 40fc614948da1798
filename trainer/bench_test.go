package trainer

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/vision/models"
)

// benchTrainStep times forward + weighted CE + backward + Adam on a synthetic batch (issue 9's
// "train step, no data loading").
func benchTrainStep(b *testing.B, model string, batch, size int64) {
	locked.Run(func() {
		m, err := models.New(model, 5)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		crit, _ := loss.NewCrossEntropy([]float64{1, 2, 1, 5, 3})
		defer crit.Close()
		opt, _ := NewAdam(m.StateDict().Parameters(), 2e-4, 1e-4)
		defer opt.Close()
		x := ts.MustRandn([]int64{batch, 3, size, size}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		yv := make([]int64, batch)
		for i := range yv {
			yv[i] = int64(i % 5)
		}
		y, _ := models.TensorFrom(yv, []int64{batch})
		defer y.MustDrop()
		step := func() {
			out, err := m.ForwardT(x, true)
			if err != nil {
				b.Fatal(err)
			}
			l, err := crit.Loss(out, y)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Backward(); err != nil {
				b.Fatal(err)
			}
			if err := opt.Step(); err != nil {
				b.Fatal(err)
			}
			opt.ZeroGrad()
			out.MustDrop()
			l.MustDrop()
		}
		step() // warm-up
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			step()
		}
	})
}

func BenchmarkTrainStepResnetSmall64x16(b *testing.B)  { benchTrainStep(b, "resnet_small", 16, 64) }
func BenchmarkTrainStepResnetSmall224x32(b *testing.B) { benchTrainStep(b, "resnet_small", 32, 224) }
