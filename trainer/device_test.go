package trainer

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/transforms"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want DeviceSpec
		err  string
	}{
		{"cpu", DeviceSpec{CPU: true}, ""},
		{"CPU", DeviceSpec{CPU: true}, ""},
		{"0", DeviceSpec{IDs: []int{0}}, ""},
		{"cuda", DeviceSpec{IDs: []int{0}}, ""},
		{"cuda:1", DeviceSpec{IDs: []int{1}}, ""},
		{"0,1", DeviceSpec{IDs: []int{0, 1}}, ""}, // the script's nn.DataParallel spelling
		{"cuda:0, cuda:2", DeviceSpec{IDs: []int{0, 2}}, ""},
		{"0,0", DeviceSpec{}, "twice"},
		{"-1", DeviceSpec{}, "want cpu"},
		{"gpu", DeviceSpec{}, "want cpu"},
		{"", DeviceSpec{}, "want cpu"},
		{"0,", DeviceSpec{}, "want cpu"},
	} {
		got, err := ParseDevice(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDevice(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestPlanDevice drives the device choice with CUDA present and absent: the same function
// picks cuda:N on a GPU machine and the CPU here.
func TestPlanDevice(t *testing.T) {
	cuda := func(i uint) gotch.Device { return gotch.CudaBuilder(i) }
	for _, tc := range []struct {
		flag      string
		cuda      bool
		count     int
		localRank int
		want      gotch.Device
		procs     int
		note, err string
	}{
		{"cpu", true, 2, -1, gotch.CPU, 1, "", ""},
		{"0", true, 2, -1, cuda(0), 1, "", ""},
		{"cuda:1", true, 2, -1, cuda(1), 1, "", ""},
		{"0,1", true, 2, -1, cuda(0), 2, "", ""}, // the launcher starts 2 processes
		{"0,1", true, 2, 1, cuda(1), 2, "local rank 1", ""},
		{"1,0", true, 2, 0, cuda(1), 2, "local rank 0", ""},
		{"0", true, 2, 1, cuda(1), 1, "LOCAL_RANK", ""}, // torchrun with one GPU named: cuda:LOCAL_RANK
		{"2", true, 2, -1, gotch.Device{}, 0, "", "does not exist"},
		{"0,1", true, 2, 2, gotch.Device{}, 0, "", "local rank 2"},
		{"0", true, 1, 1, gotch.Device{}, 0, "", "no GPU of its own"},
		{"0", false, 0, -1, gotch.CPU, 1, "falling back to the CPU", ""}, // the script's fallback
		{"cuda:0", false, 0, -1, gotch.CPU, 1, "falling back to the CPU", ""},
		{"0,1", false, 0, -1, gotch.CPU, 1, "falling back to the CPU", ""},
		{"3", false, 0, -1, gotch.Device{}, 0, "", "CUDA is not available here"},
		{"x", true, 2, -1, gotch.Device{}, 0, "", "want cpu"},
	} {
		got, err := PlanDevice(tc.flag, tc.cuda, tc.count, tc.localRank)
		name := fmt.Sprintf("PlanDevice(%q, cuda=%v, count=%d, localRank=%d)", tc.flag, tc.cuda, tc.count, tc.localRank)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s = %+v, %v; want an error with %q", name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.Device != tc.want || got.Procs != tc.procs || !strings.Contains(got.Note, tc.note) {
			t.Errorf("%s = %+v, %v; want %v, %d procs, note with %q", name, got, err, tc.want, tc.procs, tc.note)
		}
	}
}

// TestRunWithGradScalerOnCPU runs the CUDA AMP path's GradScaler through Run on the CPU: the
// loss is scaled by 2^16 before backward and the gradients unscaled before Adam, all exact
// in binary floating point, so the run must end with the unscaled run's weights bit for bit
// (a scaler that did not unscale, or unscaled twice, changes Adam's eps and weight-decay
// terms). It also logs the scaler's line each epoch. With and without bfloat16 autocast.
func TestRunWithGradScalerOnCPU(t *testing.T) {
	for _, useAMP := range []bool{false, true} {
		t.Run(fmt.Sprintf("use_amp=%v", useAMP), func(t *testing.T) {
			plain, scaled := t.TempDir(), t.TempDir()
			cfg := tinyConfig(t, plain)
			cfg.Epochs, cfg.UseAMP = 2, useAMP
			if _, err := Run(cfg, &bytes.Buffer{}, nil); err != nil {
				t.Fatal(err)
			}
			cfg = tinyConfig(t, scaled)
			cfg.Epochs, cfg.UseAMP, cfg.forceScaler = 2, useAMP, true
			var log bytes.Buffer
			if _, err := Run(cfg, &log, nil); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if !strings.Contains(log.String(), "GradScaler: 0 of 6 steps skipped (inf/NaN gradients), scale now 65536") {
				t.Errorf("no GradScaler line in the log:\n%s", log.String())
			}
			last := func(dir string) string { return filepath.Join(dir, "weights", "shufflenet_small", "last.pth") }
			sameTensors(t, modelBytes(t, last(plain)), modelBytes(t, last(scaled)))
		})
	}
}

// TestGradScalerSkipsOverflowSteps: with a scale so large that the gradients overflow, the
// scaler skips those optimiser steps (weights untouched), counts them, and halves the scale
// each time until the steps go through, as torch.cuda.amp.GradScaler does.
func TestGradScalerSkipsOverflowSteps(t *testing.T) {
	locked.Run(func() {
		torchext.SetNumThreads(1)
		torchext.ManualSeed(1)
		m, err := models.New("shufflenet_small", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		crit, _ := loss.NewCrossEntropy(nil)
		defer crit.Close()
		opt, _ := NewAdam(m.StateDict().Parameters(), 1e-3, 1e-4)
		defer opt.Close()
		scaler, err := NewGradScalerOn(true, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer scaler.Close()
		const huge = 3.0e38 // 2^127.8: loss × scale and its gradients overflow float32
		if err := scaler.scale.Fill_(ts.FloatScalar(huge)); err != nil {
			t.Fatal(err)
		}
		before := modelSnapshot(t, m)
		x := ts.MustRandn([]int64{4, 3, 32, 32}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		y, _ := torchext.FromSlice([]int64{0, 1, 2, 3}, []int64{4})
		defer y.MustDrop()
		opt.LR = 1e-3
		st, err := TrainStep(m, crit, opt, scaler, AMP{}, x, y)
		if err != nil {
			t.Fatal(err)
		}
		if st.Stepped {
			t.Fatalf("a step with overflowing gradients was taken")
		}
		if got := scaler.ScaleValue(); got != float64(float32(huge))/2 {
			t.Errorf("scale after an overflow %g, want half of %g", got, float64(float32(huge)))
		}
		if !sameSnapshot(before, modelSnapshot(t, m)) {
			t.Error("a skipped step changed the parameters")
		}
		skipped := 1
		for i := 0; i < 200 && !st.Stepped; i++ {
			if st, err = TrainStep(m, crit, opt, scaler, AMP{}, x, y); err != nil {
				t.Fatal(err)
			}
			if !st.Stepped {
				skipped++
			}
		}
		if !st.Stepped || sameSnapshot(before, modelSnapshot(t, m)) {
			t.Fatalf("no step went through after %d skipped ones (scale %g)", skipped, scaler.ScaleValue())
		}
		if opt.StepCount != 1 {
			t.Errorf("Adam counted %d steps, want 1 (skipped steps are not steps)", opt.StepCount)
		}
		t.Logf("%d steps skipped before the scale (now %g) let one through", skipped, scaler.ScaleValue())
	})
}

func modelSnapshot(t *testing.T, m models.Model) [][]float32 {
	t.Helper()
	var out [][]float32
	for _, p := range m.StateDict().Parameters() {
		v := make([]float32, p.Numel())
		if err := torchext.CopyTo(p, v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func sameSnapshot(a, b [][]float32) bool {
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// oomModel is a registered toy model whose forward fails as libtorch does when a CUDA
// allocation fails, so the out-of-memory path runs here without a GPU.
type oomModel struct{ models.Model }

func (m oomModel) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	if train {
		return nil, errors.New("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.10 GiB total capacity; 77.00 GiB already allocated)\nException raised from malloc at ../c10/cuda/CUDACachingAllocator.cpp:1438")
	}
	return m.Model.ForwardT(x, train)
}

// TestRunOutOfMemory: an out-of-memory error in a step ends the run with an error that names
// the model, the batch size and what to change, keeps the C++ trace out, and leaves last.pth
// of the finished epochs in place.
var (
	oomOnce sync.Once // go test -count=N runs the tests N times in one process
	oomErr  error
)

func TestRunOutOfMemory(t *testing.T) {
	oomOnce.Do(func() {
		oomErr = models.Register("oom_toy", func(n int) (models.Model, error) {
			m, err := models.New("shufflenet_small", n)
			if err != nil {
				return nil, err
			}
			return oomModel{m}, nil
		}, models.Config{Arch: "shufflenet_v2_x0_5", Classifier: "fc"})
	})
	if oomErr != nil {
		t.Fatal(oomErr)
	}
	cfg := tinyConfig(t, t.TempDir())
	cfg.Model = "oom_toy"
	_, err := Run(cfg, &bytes.Buffer{}, nil)
	var oom *OutOfMemoryError
	if !errors.As(err, &oom) {
		t.Fatalf("Run returned %v, want an OutOfMemoryError", err)
	}
	msg := err.Error()
	for _, want := range []string{"out of memory on cpu", "--model oom_toy", "--batch_size 8", "smaller --batch_size", "no last.pth", "Tried to allocate 2.00 GiB"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "Exception raised from") {
		t.Errorf("the error carries the C++ trace:\n%s", msg)
	}
}

// TestTrainOneEpochOnDevice: the public epoch API with an unset Device trains on the CPU (the
// zero gotch.Device would otherwise read as CUDA).
func TestTrainOneEpochOnDevice(t *testing.T) {
	dir := tinySet(t)
	locked.Run(func() {
		torchext.SetNumThreads(1)
		m, err := models.New("shufflenet_small", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := ToDevice(m, gotch.Device{}); err != nil {
			t.Fatal(err)
		}
		dl := tinyLoader(t, dir)
		crit, _ := loss.NewCrossEntropy([]float64{1, 2, 3, 4, 5})
		defer crit.Close()
		if err := loss.ToDevice(crit, gotch.CPU); err != nil {
			t.Fatal(err)
		}
		opt, _ := NewAdam(m.StateDict().Parameters(), 1e-3, 1e-4)
		defer opt.Close()
		sched, _ := schedule.NewScript(schedule.Config{LR: 1e-3, LRF: 0.1, Epochs: 1, LoaderLen: dl.Len(), Warmup: true})
		res, err := TrainOneEpoch(EpochArgs{Model: m, Optimizer: opt, DataLoader: dl, LRMethod: sched, Criterion: crit})
		if err != nil || res.Steps == 0 || res.Steps != dl.Len() {
			t.Fatalf("TrainOneEpoch = %+v, %v", res, err)
		}
	})
}

func tinyLoader(t *testing.T, dir string) *loader.Loader {
	t.Helper()
	mcfg, _ := models.Lookup("shufflenet_small")
	tcfg := TransformConfig(mcfg, 32, TransformsScript)
	pipe, err := transforms.TrainPipeline(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Load(dir, "train", 5)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := loader.New(ds, pipe, tcfg.CropSize, loader.Options{BatchSize: 8, Workers: 1, Shuffle: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return dl
}
