package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/tblog"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/synth"
)

// asMain makes the test binary run this program's main() instead of the tests, so the tests
// run the example exactly as a user does: flags in, files out, in a process of its own.
const asMain = "DRGRADE_TRAIN_DDR_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runExample runs the example's main() in a child process with args.
func runExample(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("train_ddr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// scalars reads a TensorBoard folder's (tag, step, value) points, without wall times.
func scalars(t *testing.T, dir string) []string {
	t.Helper()
	events, err := tblog.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range tblog.Scalars(events) {
		out = append(out, fmt.Sprintf("%s@%d=%v", s.Tag, s.Step, s.Value))
	}
	return out
}

// TestSameAsDrgradeTrain: the example and `drgrade train` (trainer.Run) given the same seed and
// flags write the same DDR.txt and the same best checkpoint DDR.pth byte for byte, and the same
// TensorBoard scalars (wall times aside). DDR.txt holds no times, so nothing is masked. One
// case trains from scratch with the weighted cross-entropy; the other loads --weights with a
// 7-class head (sliced to 5, as train_original.py does) and uses --use_focal_loss.
func TestSameAsDrgradeTrain(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	// 60 images of 64 px in the researcher's class proportions: 47 train, 13 val.
	if _, err := synth.Generate(data, synth.Options{N: 60, Size: 64, Seed: 3, Workers: 2}, nil); err != nil {
		t.Fatal(err)
	}
	// A checkpoint with more classes than the run, from other random weights.
	pretrained := filepath.Join(root, "pretrained7.pth")
	var err error
	trainer.RunLocked(func() {
		trainer.ManualSeed(99)
		var m models.Model
		if m, err = models.New("shufflenet_small", 7); err != nil {
			return
		}
		defer m.Close()
		err = models.SaveStateDict(m, pretrained)
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		epochs int
		lr     float64
		focal  bool
		wts    string
	}{
		{"scratch_ce_2_epochs", 2, 0.002, false, ""},
		{"weights_focal_1_epoch", 1, 0.0002, true, pretrained},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outRun, outEx := filepath.Join(root, tc.name, "run"), filepath.Join(root, tc.name, "example")
			cfg := trainer.DefaultConfig()
			cfg.DataPath, cfg.Model, cfg.Weights = data, "shufflenet_small", tc.wts
			cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.UseFocalLoss = tc.epochs, 8, tc.lr, tc.focal
			cfg.ImgSize, cfg.Threads, cfg.NumWorkers = 64, 1, 1
			cfg.Output, cfg.Quiet = outRun, true
			var log bytes.Buffer
			res, err := trainer.Run(cfg, &log, nil)
			if err != nil {
				t.Fatalf("trainer.Run: %v\n%s", err, log.String())
			}

			stdout := runExample(t, "--data_path", data, "--model", "shufflenet_small", "--weights", tc.wts,
				"--epochs", fmt.Sprint(tc.epochs), "--batch_size", "8", "--lr", fmt.Sprint(tc.lr),
				fmt.Sprintf("--use_focal_loss=%v", tc.focal), "--img_size", "64", "--threads", "1",
				"--num_workers", "1", "--output", outEx, "--quiet")
			if tc.wts != "" && !strings.Contains(stdout, "_IncompatibleKeys") {
				t.Errorf("the example did not report loading --weights:\n%s", stdout)
			}

			wRun, wEx := filepath.Join(outRun, "weights", "shufflenet_small"), filepath.Join(outEx, "weights", "shufflenet_small")
			a, err := os.ReadFile(filepath.Join(wRun, "DDR.txt"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(wEx, "DDR.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("DDR.txt differs:\ndrgrade train:\n%s\nexample:\n%s", a, b)
			}
			if n := strings.Count(string(a), "\n"); n != 3*tc.epochs {
				t.Errorf("DDR.txt has %d lines, want 3 per epoch:\n%s", n, a)
			}

			// Both save DDR.pth when val_accuracy beats 0; the test data is chosen so that one does.
			if res.BestEpoch == 0 {
				t.Fatalf("no epoch was saved as best, so DDR.pth cannot be compared:\n%s", a)
			}
			pa, err := os.ReadFile(filepath.Join(wRun, "DDR.pth"))
			if err != nil {
				t.Fatal(err)
			}
			pb, err := os.ReadFile(filepath.Join(wEx, "DDR.pth"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pa, pb) {
				t.Error("DDR.pth differs: the two loops did not train the same weights")
			}

			sa := scalars(t, res.LogPath)
			sb := scalars(t, filepath.Join(outEx, "tensorboard", "shufflenet_small", "run1"))
			if len(sa) != 10*tc.epochs || strings.Join(sa, "\n") != strings.Join(sb, "\n") {
				t.Errorf("TensorBoard scalars differ:\ndrgrade train: %v\nexample:       %v", sa, sb)
			}
		})
	}
}

// TestFlags: the script's argparse defaults, and a bad flag is an error, not a crash.
func TestFlags(t *testing.T) {
	opt, err := parseArgs(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := options{NumClasses: 5, Epochs: 100, BatchSize: 32, LR: 0.0002, LRF: 0.0001, Seed: 1, Tensorboard: true,
		DataPath: "data/DDR5", Model: "resnet", Device: "0", Weights: "model_pth/resnet50-19c8e357.pth",
		Output: "DRresults/DDR5/Resnet_Adam_L2", NumWorkers: -1}
	if *opt != want {
		t.Errorf("defaults %+v\nwant     %+v", *opt, want)
	}
	// They are trainer.DefaultConfig's too, so the two programs agree when no flag is given.
	d := trainer.DefaultConfig()
	if d.NumClasses != opt.NumClasses || d.Epochs != opt.Epochs || d.BatchSize != opt.BatchSize || d.LR != opt.LR ||
		d.LRF != opt.LRF || d.Seed != opt.Seed || d.Tensorboard != opt.Tensorboard || d.DataPath != opt.DataPath ||
		d.Model != opt.Model || d.Device != opt.Device || d.Weights != opt.Weights || d.Output != opt.Output ||
		d.NumWorkers != opt.NumWorkers || d.ImgSize != opt.ImgSize || d.Threads != opt.Threads {
		t.Errorf("defaults differ from trainer.DefaultConfig(): %+v vs %+v", *opt, d)
	}
	for _, bad := range [][]string{{"--epochs", "many"}, {"--no_such_flag"}, {"extra"}} {
		if _, err := parseArgs(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}
