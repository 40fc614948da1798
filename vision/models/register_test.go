package models_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
	"github.com/drgrade/drgrade/vision/synth"
)

// TestRegisterToyModel: the model registered from one file (toyNet, example_register_test.go)
// gets the zoo's defaults, is found (and suggested) by name, trains under `drgrade train`'s
// loop (trainer.Run) without any other change, and its DDR.pth loads back — into a model with
// fewer classes too, the head sliced as the script slices fc.
func TestRegisterToyModel(t *testing.T) {
	cfg, err := models.Lookup("toy_net")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "toy_net" || cfg.InputSize != 224 || cfg.CropPct != 224.0/256.0 || cfg.Mean != models.ImageNetMean {
		t.Errorf("registered config %+v lacks the zoo's defaults", cfg)
	}
	if _, err := models.New("toy_nett", 5); err == nil || !strings.Contains(err.Error(), `did you mean "toy_net"`) {
		t.Errorf("New(toy_nett) = %v, want a suggestion", err)
	}
	if _, err := models.New("toy_net", 0); err == nil {
		t.Error("New(toy_net, 0 classes) accepted")
	}

	data := filepath.Join(t.TempDir(), "data")
	if _, err := synth.Generate(data, synth.Options{N: 30, Size: 48, Seed: 2, Proportions: "uniform", Workers: 2}, nil); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	tc := trainer.DefaultConfig()
	tc.DataPath, tc.Model, tc.Weights, tc.Epochs, tc.BatchSize = data, "toy_net", "", 1, 8
	tc.ImgSize, tc.Threads, tc.NumWorkers, tc.Output, tc.Quiet, tc.Tensorboard = 32, 1, 1, out, true, false
	tc.LR = 0.01
	var log bytes.Buffer
	res, err := trainer.Run(tc, &log, nil)
	if err != nil {
		t.Fatalf("trainer.Run with the toy model: %v\n%s", err, log.String())
	}
	if len(res.Epochs) != 1 || !strings.Contains(log.String(), "[epoch 1] train_loss:") {
		t.Fatalf("no epoch logged:\n%s", log.String())
	}

	// last.pth is always written; it holds the trained toy under "model.".
	last, err := pth.Load(filepath.Join(res.SavePath, "last.pth"))
	if err != nil {
		t.Fatal(err)
	}
	trained := &pth.StateDict{Format: last.Format}
	for _, e := range last.Entries {
		if name, ok := strings.CutPrefix(e.Name, "model."); ok {
			c := *e
			c.Name = name
			trained.Entries = append(trained.Entries, &c)
		}
	}
	trainer.RunLocked(func() {
		fresh, err := models.New("toy_net", 5)
		if err != nil {
			t.Error(err)
			return
		}
		defer fresh.Close()
		if got, want := len(trained.Entries), len(fresh.StateDict().Names()); got != want {
			t.Errorf("last.pth holds %d model tensors, the toy has %d", got, want)
		}
		r, err := models.LoadStateDict(fresh, trained, models.HeadSlice)
		if err != nil || r.Loaded != 9 || len(r.Missing)+len(r.Unexpected) != 0 {
			t.Errorf("loading the trained toy back: %v, %v", r, err)
		}

		three, err := models.New("toy_net", 3)
		if err != nil {
			t.Error(err)
			return
		}
		defer three.Close()
		r, err = models.LoadStateDict(three, trained, models.HeadSlice)
		if err != nil || r.Loaded != 9 || !strings.Contains(strings.Join(r.Head, "\n"), "fc.weight") {
			t.Errorf("loading the 5-class toy into a 3-class one: %v, %v", r, err)
			return
		}
		want := trained.Get("fc.bias").Data[:3*4] // the first 3 float32 rows
		got, err := models.HostEntry("fc.bias", three.StateDict().Get("fc.bias").Tensor)
		if err != nil || !bytes.Equal(got.Data, want) {
			t.Errorf("fc.bias was not sliced to the trained first 3 rows (%v)", err)
		}
	})
}

// TestRegisterRefusesDuplicates: models.Register follows the rule of loss.Register and
// trainer.RegisterMetric: a taken name (a zoo name or another registration), an empty name
// or a nil constructor is an error returned, not a panic.
func TestRegisterRefusesDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctor models.Constructor
		want string
	}{
		{"toy_net", newToyNet, "already registered"},
		{"resnet", newToyNet, "already registered"},
		{" ", newToyNet, "empty name"},
		{"no_ctor", nil, "nil constructor"},
	} {
		if err := models.Register(tc.name, tc.ctor, models.Config{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register(%q) = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := models.Lookup("no_ctor"); err == nil {
		t.Error("a refused registration was recorded")
	}
}
