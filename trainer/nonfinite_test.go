package trainer

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
)

// nanLoss multiplies the real loss by NaN from a given step on.
type nanLoss struct {
	loss.Criterion
	calls, from int
}

func (n *nanLoss) Loss(logits, targets *ts.Tensor) (*ts.Tensor, error) {
	n.calls++
	l, err := n.Criterion.Loss(logits, targets)
	if err != nil || n.calls < n.from {
		return l, err
	}
	return l.MulScalar(ts.FloatScalar(math.NaN()), true)
}

// TestNonFiniteLossStops: a NaN loss ends training with ErrNonFiniteLoss (exit status 1 in
// the CLI), naming the step, as the script's "WARNING: non-finite loss, ending training".
func TestNonFiniteLossStops(t *testing.T) {
	ds, err := dataset.Load(tinySet(t), "train", 5)
	if err != nil {
		t.Fatal(err)
	}
	cfg := transforms.DefaultConfig()
	cfg.CropSize, cfg.ResizeSize = 32, 37
	pipe, _ := transforms.TrainPipeline(cfg)
	dl, err := loader.New(ds, pipe, 32, loader.Options{BatchSize: 8, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	locked.Run(func() {
		m, err := models.New("resnet_small", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		opt, _ := NewAdam(m.StateDict().Parameters(), 1e-3, 0)
		defer opt.Close()
		ce, _ := loss.NewCrossEntropy(nil)
		crit := &nanLoss{Criterion: ce, from: 2}
		defer ce.Close()
		sched, _ := schedule.NewScript(schedule.Config{LR: 1e-3, LRF: 0.01, Epochs: 1, LoaderLen: dl.Len(), Warmup: true})
		scaler, _ := NewGradScaler(false)
		_, err = TrainOneEpoch(EpochArgs{Model: m, Optimizer: opt, DataLoader: dl, LRMethod: sched, Criterion: crit, Scaler: scaler})
		if !errors.Is(err, ErrNonFiniteLoss) || !strings.Contains(err.Error(), "step 2") {
			t.Fatalf("got %v, want ErrNonFiniteLoss at step 2", err)
		}
	})
}
