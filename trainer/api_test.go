package trainer

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/torchext"
)

var (
	toyMetricOnce sync.Once // go test -count=N runs the tests N times in one process
	toyMetricErr  error
)

// registerToyMetric registers "toy_epoch", whose value is the epoch number: every epoch beats
// the previous one, and the best value (the number of epochs) is one no built-in metric
// (all in [-1, 1]) can reach.
func registerToyMetric(t *testing.T) {
	t.Helper()
	toyMetricOnce.Do(func() {
		toyMetricErr = RegisterMetric("toy_epoch", func(r EpochRecord) float64 { return float64(r.Epoch) })
	})
	if toyMetricErr != nil {
		t.Fatal(toyMetricErr)
	}
}

// TestRegisterMetric: a registered metric is a valid --best_metric, Run saves DDR.pth by it,
// and the registry refuses duplicates (built-ins included), empty names and nil functions.
func TestRegisterMetric(t *testing.T) {
	registerToyMetric(t)
	for _, bad := range []struct {
		name string
		f    MetricFunc
	}{
		{"toy_epoch", func(EpochRecord) float64 { return 0 }},
		{"kappa", func(EpochRecord) float64 { return 0 }},
		{"", func(EpochRecord) float64 { return 0 }},
		{"toy_nil", nil},
	} {
		if err := RegisterMetric(bad.name, bad.f); err == nil {
			t.Errorf("RegisterMetric(%q) accepted", bad.name)
		}
	}
	if got := strings.Join(MetricNames(), ","); !strings.HasPrefix(got, "acc,kappa,macro_f1,") || !strings.Contains(got, "toy_epoch") {
		t.Errorf("MetricNames() = %s", got)
	}
	cfg := DefaultConfig()
	cfg.BestMetric = "toy_epoch"
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate refuses a registered metric: %v", err)
	}
	cfg.BestMetric = "toy_epok"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "toy_epoch") {
		t.Errorf("Validate(unknown metric) = %v, want an error listing toy_epoch", err)
	}

	out := t.TempDir()
	cfg = tinyConfig(t, out)
	cfg.Epochs, cfg.BestMetric = 2, "toy_epoch"
	var log bytes.Buffer
	res, err := Run(cfg, &log, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if res.BestEpoch != 2 || res.BestValue != 2 {
		t.Errorf("best epoch %d with value %v, want epoch 2 with toy_epoch = 2", res.BestEpoch, res.BestValue)
	}
	if !strings.Contains(log.String(), "(toy_epoch 2.0000)") {
		t.Errorf("the log does not report saving by toy_epoch:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(out, "weights", "shufflenet_small", "DDR.pth")); err != nil {
		t.Error(err)
	}
}

// TestMetricValue: the built-ins read their fields, NaN (an undefined kappa or referable AUC)
// and unknown names never win.
func TestMetricValue(t *testing.T) {
	r := EpochRecord{Epoch: 3, ValAcc: 0.5, Kappa: math.NaN(), MacroF1: 0.25, ReferableAUC: 0.875}
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"acc", 0.5}, {"macro_f1", 0.25}, {"kappa", math.Inf(-1)}, {"no_such_metric", math.Inf(-1)}, {"referable_auc", 0.875},
	} {
		if got := r.metric(tc.name); got != tc.want {
			t.Errorf("metric(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	r.Kappa = -0.2
	if got := r.metric("kappa"); got != -0.2 {
		t.Errorf("metric(kappa) = %v, want -0.2", got)
	}
}

// TestTrainOneEpochArgs: missing arguments are errors naming them, not nil dereferences.
func TestTrainOneEpochArgs(t *testing.T) {
	_, err := TrainOneEpoch(EpochArgs{})
	if err == nil || !strings.Contains(err.Error(), "Model, Optimizer, DataLoader, LRMethod, Criterion") {
		t.Errorf("TrainOneEpoch(EpochArgs{}) = %v", err)
	}
}

func TestNewAMP(t *testing.T) {
	cuda := gotch.CudaBuilder(0)
	for _, tc := range []struct {
		on      bool
		dtype   string
		dev     gotch.Device
		want    AMP
		scaler  bool
		wantErr bool
	}{
		{false, "", gotch.CPU, AMP{}, false, false},
		{false, "", cuda, AMP{}, false, false},
		{true, "", gotch.CPU, AMP{true, torchext.CPU, torchext.BFloat16}, false, false},
		{true, "bfloat16", gotch.CPU, AMP{true, torchext.CPU, torchext.BFloat16}, false, false},
		{true, "float16", gotch.CPU, AMP{}, false, true},                       // torch 2.1: CPU autocast is bfloat16 only (TestParityAMPCPUFloat16)
		{true, "", cuda, AMP{true, torchext.CUDA, torchext.Half}, true, false}, // torch.cuda.amp's default
		{true, "float16", cuda, AMP{true, torchext.CUDA, torchext.Half}, true, false},
		{true, "bfloat16", cuda, AMP{true, torchext.CUDA, torchext.BFloat16}, false, false},  // no scaler for bf16
		{true, "", gotch.Device{}, AMP{true, torchext.CPU, torchext.BFloat16}, false, false}, // unset = CPU
		{true, "float8", gotch.CPU, AMP{}, false, true},
	} {
		a, scaler, err := NewAMP(tc.on, tc.dtype, tc.dev)
		if (err != nil) != tc.wantErr || a != tc.want || scaler != tc.scaler {
			t.Errorf("NewAMP(%v, %q, %v) = %+v, %v, %v; want %+v, %v", tc.on, tc.dtype, tc.dev, a, scaler, err, tc.want, tc.scaler)
		}
	}
}
