package trainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
	"github.com/drgrade/drgrade/vision/transforms"
)

func init() {
	// A --best_metric with a known course, for --keep_topk and --patience: 0.1, 0.3, 0.2, 0.4, 0.4, ...
	course := []float64{0.1, 0.3, 0.2, 0.4}
	if err := RegisterMetric("test_course", func(r EpochRecord) float64 {
		return course[min(r.Epoch-1, len(course)-1)]
	}); err != nil {
		panic(err)
	}
}

// lastConfig is the config_json of a last.pth.
func lastConfig(t *testing.T, path string) map[string]any {
	t.Helper()
	sd, err := pth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(sd.Get(ckConfig).Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecipeThroughRun: every recipe flag, one short run each, changes what it must (the
// training loss, the logged learning rate, the files written), appears in the run header and
// in last.pth's config; the default recipe prints no recipe line.
func TestRecipeThroughRun(t *testing.T) {
	base, baseLog, _ := runTiny(t, func(*Config) {})
	if strings.Contains(baseLog, "Recipe:") {
		t.Errorf("the script's run prints a recipe line:\n%s", baseLog)
	}
	baseLoss, baseLR := base.Epochs[0].TrainLoss, base.Epochs[0].LR
	for _, tc := range []struct {
		name, header, key string
		change            func(*Config)
		lossDiffers       bool
		lr                float64 // the logged lr of the last epoch (0: not checked)
	}{
		{"opt sgd", "--opt sgd (weight_decay 0.0001, momentum 0.9, nesterov)", "opt", func(c *Config) { c.Opt, c.Nesterov, c.LR = "sgd", true, 0.05 }, true, 0},
		{"opt adamw", "--opt adamw (weight_decay 0.05)", "weight_decay", func(c *Config) { c.Opt, c.WeightDecay = "adamw", 0.05 }, true, 0},
		// The lr logged for an epoch is the one its last step used (the script reads it before
		// scheduler.step()): epoch 2's is StepLR's first decay, CosineAnnealingLR(T_max=2)'s
		// midpoint; OneCycleLR's after the epoch's 6 steps of 6 (torch lets the last step's
		// cosine run past its end).
		{"sched step", "--sched step (step_size 1, gamma 0.5)", "sched", func(c *Config) { c.Sched, c.StepSize, c.Gamma, c.Epochs = "step", 1, 0.5, 2 }, true, 1e-4},
		{"sched cosine", "--sched cosine", "sched", func(c *Config) { c.Sched, c.Epochs = "cosine", 2 }, true, 2e-8 + (2e-4-2e-8)*(1+math.Cos(math.Pi/2))/2},
		{"sched plateau", "--sched plateau (factor 0.1, patience 10", "plateau_patience", func(c *Config) { c.Sched = "plateau" }, true, 2e-4},
		{"sched onecycle", "--sched onecycle", "sched", func(c *Config) { c.Sched = "onecycle" }, true, oneCycleAfter(6, 6)},
		{"label_smoothing", "--label_smoothing 0.1", "label_smoothing", func(c *Config) { c.LabelSmoothing = 0.1 }, true, 0},
		{"clip_grad value", "--clip_grad 1e-05 --clip_mode value", "clip_mode", func(c *Config) { c.ClipGrad, c.ClipMode = 1e-5, "value" }, true, 0},
		{"clip_grad norm", "--clip_grad 0.001 --clip_mode norm", "clip_grad", func(c *Config) { c.ClipGrad = 1e-3 }, true, 0},
		{"accum_steps", "--accum_steps 2", "accum_steps", func(c *Config) { c.AccumSteps = 2 }, true, 0},
		{"head_lr_mult", "--head_lr_mult 100", "head_lr_mult", func(c *Config) { c.HeadLRMult = 100 }, true, 0},
		{"ema", "--ema 0.5 (the EMA weights validate", "ema_eval", func(c *Config) { c.EMA, c.EMAEval = 0.5, true }, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, log, _ := runTiny(t, tc.change)
			if !strings.Contains(log, "Recipe: ") || !strings.Contains(log, tc.header) {
				t.Errorf("the run header does not say %q:\n%s", tc.header, log)
			}
			cfg := lastConfig(t, filepath.Join(res.SavePath, "last.pth"))
			if _, ok := cfg[tc.key]; !ok {
				t.Errorf("last.pth's config has no %q: %v", tc.key, cfg)
			}
			loss := res.Epochs[0].TrainLoss
			if tc.lossDiffers && loss == baseLoss {
				t.Errorf("train loss %v, the script's run's", loss)
			}
			if !tc.lossDiffers && loss != baseLoss {
				t.Errorf("train loss %v, want the script's run's %v", loss, baseLoss)
			}
			if tc.lr != 0 {
				if got := res.Epochs[len(res.Epochs)-1].LR; relErr(got, tc.lr) > 1e-12 {
					t.Errorf("logged lr %.17g, want %.17g (the script's: %g)", got, tc.lr, baseLR)
				}
			}
		})
	}
}

// oneCycleAfter is OneCycleLR(max_lr=2e-4, total_steps=total)'s lr after n steps.
func oneCycleAfter(n, total int) float64 {
	g := schedule.NewGroup(2e-4)
	s, err := schedule.NewOneCycleLR(g, 2e-4, total)
	if err != nil {
		panic(err)
	}
	for i := 0; i < n; i++ {
		if err := s.Step(); err != nil {
			panic(err)
		}
	}
	return g.LR
}

func relErr(got, want float64) float64 {
	d := got - want
	if d < 0 {
		d = -d
	}
	if want < 0 {
		want = -want
	}
	return d / want
}

// TestEMAEvalWritesEMAWeights: with --ema --ema_eval, DDR.pth holds the EMA weights (last.pth's
// ema.* entries after the best epoch), DDR.pth.json says so, and validation differs from the
// model's; without --ema_eval DDR.pth is the model's and the json says "model".
func TestEMAEvalWritesEMAWeights(t *testing.T) {
	for _, evalEMA := range []bool{true, false} {
		res, log, _ := runTiny(t, func(c *Config) { c.EMA, c.EMAEval, c.BestMetric = 0.9, evalEMA, "test_course" })
		var info bestInfo
		b := readFile(t, filepath.Join(res.SavePath, "DDR.pth.json"))
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatal(err)
		}
		want, prefix := "model", ckModel
		if evalEMA {
			want, prefix = "ema", ckEMA
		}
		if info.Weights != want || info.EMADecay != 0.9 || info.Epoch != 1 {
			t.Errorf("--ema_eval=%v: DDR.pth.json %s", evalEMA, b)
		}
		best, err := pth.Load(filepath.Join(res.SavePath, "DDR.pth"))
		if err != nil {
			t.Fatal(err)
		}
		last, err := pth.Load(filepath.Join(res.SavePath, "last.pth"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range best.Entries {
			l := last.Get(prefix + e.Name)
			if l == nil || !bytes.Equal(l.Data, e.Data) {
				t.Fatalf("--ema_eval=%v: DDR.pth's %s is not last.pth's %s%s\n%s", evalEMA, e.Name, prefix, e.Name, log)
			}
		}
	}
}

// TestKeepTopKAndPatience: --keep_topk 2 over a metric course 0.1, 0.3, 0.2, 0.4 keeps
// epochs 2 and 4 (epoch 1 leaves when 3 enters, 3 when 4 enters, as timm's CheckpointSaver),
// no temporary files; --patience 2 on a metric that stops improving after epoch 4 ends the
// run after epoch 6 with a message and the final logs.
func TestKeepTopKAndPatience(t *testing.T) {
	res, log, _ := runTiny(t, func(c *Config) { c.Epochs, c.KeepTopK, c.BestMetric = 4, 2, "test_course" })
	files, _ := filepath.Glob(filepath.Join(res.SavePath, "DDR-epoch*"))
	all, _ := filepath.Glob(filepath.Join(res.SavePath, ".*"))
	sort.Strings(files)
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if strings.Join(names, " ") != "DDR-epoch2.pth DDR-epoch4.pth" || len(all) != 0 {
		t.Errorf("kept %v (hidden files %v), want DDR-epoch2.pth DDR-epoch4.pth\n%s", names, all, log)
	}
	if !bytes.Equal(readFile(t, filepath.Join(res.SavePath, "DDR.pth")), readFile(t, files[1])) {
		t.Error("DDR-epoch4.pth is not DDR.pth (epoch 4 is the best)")
	}

	res, log, _ = runTiny(t, func(c *Config) { c.Epochs, c.Patience, c.BestMetric = 9, 2, "test_course" })
	if len(res.Epochs) != 6 || res.BestEpoch != 4 || !strings.Contains(log, "Early stopping") {
		t.Errorf("--patience 2: %d epochs (best %d), want 6 (best 4)\n%s", len(res.Epochs), res.BestEpoch, log)
	}
	if n := strings.Count(string(readFile(t, filepath.Join(res.SavePath, "DDR.txt"))), "[epoch"); n != 0 && n != 6 {
		t.Errorf("DDR.txt has %d epochs", n)
	}
}

// TestRecipeResume: a run with a recipe stopped after its first epoch and resumed with the
// script's flags on the command line continues with its own recipe from last.pth (said on
// the console) and ends bit for bit as the uninterrupted run: DDR.txt, DDR.pth, the model,
// the optimiser state (SGD momentum buffers, AdamW moments), the EMA, the top-k files and the
// plateau scheduler.
func TestRecipeResume(t *testing.T) {
	for _, tc := range []struct {
		name          string
		flags, recipe func(*Config) // flags: the script's and drgrade's, given again on resume
	}{
		{"sgd onecycle ema accum clip topk", func(c *Config) { c.LR = 0.01 }, func(c *Config) {
			c.Opt, c.Nesterov, c.Sched, c.EMA, c.EMAEval, c.AccumSteps, c.ClipGrad, c.KeepTopK, c.LabelSmoothing =
				"sgd", true, "onecycle", 0.9, true, 2, 1, 1, 0.1
		}},
		{"adamw plateau head_lr_mult patience", func(c *Config) { c.BestMetric = "test_course" }, func(c *Config) {
			c.Opt, c.Sched, c.PlateauPatience, c.Gamma, c.HeadLRMult, c.Patience = "adamw", "plateau", 0, 0.5, 3, 5
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := t.TempDir()
			cfg := tinyConfig(t, full)
			tc.flags(&cfg)
			tc.recipe(&cfg)
			if _, err := Run(cfg, &bytes.Buffer{}, nil); err != nil {
				t.Fatal(err)
			}
			fullDir := filepath.Join(full, "weights", "shufflenet_small")

			part := t.TempDir()
			dir := filepath.Join(part, "weights", "shufflenet_small")
			stop := func() bool {
				b, _ := os.ReadFile(filepath.Join(dir, "DDR.txt"))
				return strings.Count(string(b), "\n") >= 3
			}
			cfg = tinyConfig(t, part)
			tc.flags(&cfg)
			tc.recipe(&cfg)
			var log bytes.Buffer
			if _, err := Run(cfg, &log, stop); !errors.Is(err, ErrInterrupted) {
				t.Fatalf("interrupted run returned %v\n%s", err, log.String())
			}
			resume := tinyConfig(t, part) // no recipe flags: the recipe comes from last.pth
			tc.flags(&resume)
			resume.Resume = filepath.Join(dir, "last.pth")
			log.Reset()
			if _, err := Run(resume, &log, nil); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if !strings.Contains(log.String(), "the run's own recipe from") {
				t.Errorf("resume does not say it kept the recipe:\n%s", log.String())
			}
			if a, b := readFile(t, filepath.Join(fullDir, "DDR.txt")), readFile(t, filepath.Join(dir, "DDR.txt")); !bytes.Equal(a, b) {
				t.Errorf("DDR.txt differs:\nuninterrupted:\n%s\nresumed:\n%s", a, b)
			}
			for _, f := range []string{"DDR.pth", "DDR-epoch1.pth", "DDR-epoch2.pth", "DDR-epoch3.pth", "DDR.pth.json"} {
				a, errA := os.ReadFile(filepath.Join(fullDir, f))
				b, errB := os.ReadFile(filepath.Join(dir, f))
				if (errA == nil) != (errB == nil) || !bytes.Equal(a, b) {
					t.Errorf("%s differs from the uninterrupted run's (%v, %v)", f, errA, errB)
				}
			}
			all := func(p string) map[string][]byte {
				sd, err := pth.Load(p)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string][]byte{}
				for _, e := range sd.Entries {
					if e.Name != ckRNG && e.Name != ckConfig {
						out[e.Name] = e.Data
					}
				}
				return out
			}
			sameTensors(t, all(filepath.Join(fullDir, "last.pth")), all(filepath.Join(dir, "last.pth")))
		})
	}
}

// TestRecipeValidateAndRestore: every bad recipe value is refused by Validate naming its
// flag; a last.pth config written before the recipe existed restores nothing, and one with
// a recipe restores it and names the flags that differ from the command line's.
func TestRecipeValidateAndRestore(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Opt = "lamb" }, "--opt"},
		{func(c *Config) { c.WeightDecay = -1 }, "--weight_decay"},
		{func(c *Config) { c.Nesterov = true }, "--nesterov"},
		{func(c *Config) { c.Sched = "cyclic" }, "--sched"},
		{func(c *Config) { c.StepSize = 0 }, "--step_size"},
		{func(c *Config) { c.Gamma = 1 }, "--gamma"},
		{func(c *Config) { c.LabelSmoothing = 1.5 }, "--label_smoothing"},
		{func(c *Config) { c.ClipGrad = math.NaN() }, "--clip_grad"},
		{func(c *Config) { c.ClipMode = "max" }, "--clip_mode"},
		{func(c *Config) { c.AccumSteps = 0 }, "--accum_steps"},
		{func(c *Config) { c.EMA = 1 }, "--ema"},
		{func(c *Config) { c.EMAEval = true }, "--ema_eval"},
		{func(c *Config) { c.Patience = -1 }, "--patience"},
		{func(c *Config) { c.KeepTopK = -1 }, "--keep_topk"},
		{func(c *Config) { c.HeadLRMult = 0 }, "--head_lr_mult"},
	} {
		c := DefaultConfig()
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate said %v", tc.want, err)
		}
	}
	cur := DefaultRecipe()
	cur.Opt = "sgd"
	r, changed, err := resumeRecipe([]byte(`{"Model":"resnet","NumClasses":5}`), cur)
	if err != nil || r != cur || len(changed) != 0 {
		t.Errorf("an old config: %+v %v %v, want the command line's recipe", r, changed, err)
	}
	old := DefaultConfig()
	old.Opt, old.EMA = "adamw", 0.99
	b, _ := json.Marshal(old)
	r, changed, err = resumeRecipe(b, cur)
	if err != nil || r.Opt != "adamw" || r.EMA != 0.99 || strings.Join(changed, "; ") != "--ema 0.99 (the command line's 0); --opt adamw (the command line's sgd)" {
		t.Errorf("restored %+v, changed %q, %v", r, changed, err)
	}
}

// TestOneCycleCyclesMomentum: trainer.TrainOneEpoch with a OneCycleLR schedule steps SGD with
// the cycled momentum and Adam with the cycled beta1 (torch's cycle_momentum): after the epoch
// the optimiser holds the momentum of its last step; without the cycling it keeps 0.9.
func TestOneCycleCyclesMomentum(t *testing.T) {
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
		for _, kind := range []string{OptSGD, OptAdam} {
			m, err := models.New("shufflenet_small", 5)
			if err != nil {
				t.Fatal(err)
			}
			opt, err := NewOptimizer(m.StateDict().Parameters(), OptimizerOptions{Kind: kind, LR: 1e-3, Momentum: 0.9})
			if err != nil {
				t.Fatal(err)
			}
			ce, _ := loss.NewCrossEntropy(nil)
			sched, err := schedule.NewScript(schedule.Config{LR: 1e-3, LRF: 0.01, Epochs: 2, LoaderLen: dl.Len(), Sched: schedule.SchedOneCycle})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := TrainOneEpoch(EpochArgs{Model: m, Optimizer: opt, DataLoader: dl, LRMethod: sched, Criterion: ce}); err != nil {
				t.Fatal(err)
			}
			// the momentum the epoch's last step used: OneCycleLR's after len-1 steps
			g := schedule.NewGroup(1e-3)
			ref, _ := schedule.NewOneCycleLR(g, 1e-3, 2*dl.Len())
			for i := 0; i < dl.Len()-1; i++ {
				_ = ref.Step()
			}
			got := opt.Beta1
			if kind == OptSGD {
				got = opt.Momentum
			}
			if got != ref.Momentum() || got == 0.9 {
				t.Errorf("%s: momentum %v after the epoch, want OneCycleLR's %v", kind, got, ref.Momentum())
			}
			opt.Close()
			ce.Close()
			m.Close()
		}
	})
}
