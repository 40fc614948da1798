package models

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
)

// goldenKeys is one model's entry in testdata/keys/keys_<group>.json, written by torchvision
// (timm for xception) through testdata/zoo_<group>_gen.py --keys.
type goldenKeys struct {
	Arch   string
	Keys   [][]any // [name, shape]
	Params int64
}

// checkKeys compares every model of a generator's group with torchvision's state_dict:
// same keys in the same order, same shapes, same parameter count.
func checkKeys(t *testing.T, group string) {
	dir := pyoracle.Golden(t, "testdata/keys", "testdata/zoo_"+group+"_gen.py", "--keys")
	var golden map[string]goldenKeys
	pyoracle.ReadJSON(t, dir, "keys_"+group+".json", &golden)
	if len(golden) == 0 {
		t.Fatalf("no models in keys_%s.json", group)
	}
	for name, want := range golden {
		t.Run(name, func(t *testing.T) {
			locked.Run(func() {
				m, err := New(name, 5)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if m.Config().Arch != want.Arch {
					t.Errorf("arch %q, golden %q", m.Config().Arch, want.Arch)
				}
				entries := m.StateDict().Entries()
				if len(entries) != len(want.Keys) {
					t.Errorf("%d state_dict entries, torchvision has %d", len(entries), len(want.Keys))
				}
				for i := 0; i < min(len(entries), len(want.Keys)); i++ {
					wk := fmt.Sprint(want.Keys[i][0])
					ws := strings.ReplaceAll(fmt.Sprint(want.Keys[i][1]), " ", ", ")
					gs := describeShape(entries[i].Tensor.MustSize())
					if entries[i].Name != wk || gs != ws {
						t.Errorf("entry %d: %s %s, torchvision %s %s", i, entries[i].Name, gs, wk, ws)
						break
					}
				}
				if got := m.StateDict().NumParameters(); got != want.Params {
					t.Errorf("%d parameters, torchvision %d", got, want.Params)
				}
			})
		})
	}
}

func TestParityKeysResnet(t *testing.T) { checkKeys(t, "resnet") }

// TestEveryModelHasGoldenKeys: no registered model escapes the key-list conformance test.
func TestEveryModelHasGoldenKeys(t *testing.T) {
	files, _ := filepath.Glob("testdata/keys/keys_*.json")
	covered := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g map[string]json.RawMessage
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for n := range g {
			covered[n] = true
		}
	}
	for _, n := range zooNames() {
		if !covered[n] {
			t.Errorf("model %q has no golden key list in testdata/keys/", n)
		}
	}
}

// forwardParity loads weights PyTorch created into the drgrade model and compares eval-mode
// logits (and, for trainCheck models, train-mode logits and BatchNorm buffers) within 1e-4
// of max |logit| — the bound; float32 summation order differs between the two
// convolution call paths, measured at ~1e-6 relative.
func forwardParity(t *testing.T, group string, names []string, trainCheck map[string]bool) {
	var tc []string
	for n := range trainCheck {
		tc = append(tc, n)
	}
	dir := pyoracle.LiveDir(t, "testdata/zoo_"+group+"_gen.py", "--forward", strings.Join(names, ","), "--train_check", strings.Join(tc, ","))
	forwardParityIn(t, dir, names, trainCheck)
}

// forwardParityIn is forwardParity's comparison against the generator's outputs in dir
// (a live directory, or committed goldens: TestParityForwardGolden).
func forwardParityIn(t *testing.T, dir string, names []string, trainCheck map[string]bool) {
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			locked.Run(func() {
				m, err := New(name, 5)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				r, err := LoadWeights(m, filepath.Join(dir, name+".pth"), HeadSlice)
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Missing)+len(r.Unexpected) > 0 || r.Loaded != len(m.StateDict().Entries()) {
					t.Fatalf("load: %s", r)
				}
				checkInformative(t, m)
				x := readNpyTensor(t, filepath.Join(dir, name+"_x.npy"))
				defer x.MustDrop()
				check := func(train bool, file string) {
					defer torchext.NoGrad()()
					y, err := m.ForwardT(x, train)
					if err != nil {
						t.Fatal(err)
					}
					defer y.MustDrop()
					want := readNpyTensor(t, filepath.Join(dir, file))
					defer want.MustDrop()
					d := maxRelDiff(t, y, want)
					t.Logf("%s: max |diff| / max |logit| = %.3g", file, d)
					if d > 1e-4 {
						t.Errorf("%s: max |diff| / max |logit| = %.3g > 1e-4", file, d)
					}
				}
				check(false, name+"_eval.npy")
				if trainCheck[name] {
					check(true, name+"_train.npy")
					bufs := newModelCopy(t, m)
					defer bufs.Close()
					r, err := LoadWeights(bufs, filepath.Join(dir, name+"_train_buffers.pth"), HeadSlice)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range m.StateDict().Entries() {
						if !e.Buffer {
							continue
						}
						w := bufs.StateDict().Get(e.Name)
						if d := maxRelDiff(t, e.Tensor, w.Tensor); d > 1e-5 {
							t.Errorf("%s after a train-mode forward: rel diff %.3g", e.Name, d)
						}
					}
					_ = r
				}
			})
		})
	}
}

// checkInformative fails the test if a floating-point tensor of more than one element is
// constant in the reference weights just loaded into m: a dropped or misplaced tensor
// (a bias left at its zero initialisation) would then give the same logits.
// zoo_ref.check_informative refuses to write such weights; this catches goldens from before.
func checkInformative(t *testing.T, m Model) {
	t.Helper()
	for _, e := range m.StateDict().Entries() {
		if e.Tensor.DType() != gotch.Float || e.Tensor.Numel() < 2 {
			continue
		}
		lo, err := e.Tensor.Min(false)
		if err != nil {
			t.Fatal(err)
		}
		hi, err := e.Tensor.Max(false)
		if err != nil {
			t.Fatal(err)
		}
		l, h := lo.Float64Values()[0], hi.Float64Values()[0]
		lo.MustDrop()
		hi.MustDrop()
		if l == h {
			t.Errorf("%s is constant (%v) in the reference weights: regenerate them with zoo_ref.perturb", e.Name, l)
		}
	}
}

// newModelCopy builds a second model of m's kind (to load reference buffers into).
func newModelCopy(t *testing.T, m Model) Model {
	c, err := New(m.Config().Name, 5)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestParityForwardResnet compares all five ResNet-family models with torchvision (eval-mode
// logits; resnet in train mode too). Live only (`make parity`): the perturbed state_dicts
// are 85 MB (resnet_small) to 354 MB (resnext_big), too big to commit; the ResNet code path
// each of them takes (BasicBlock, Bottleneck, grouped Bottleneck, downsampling) is also in
// the committed key lists (TestParityKeysResnet), and the head slicing of every model in
// TestHeadSliceEveryModel.
func TestParityForwardResnet(t *testing.T) {
	forwardParity(t, "resnet", []string{"resnet_small", "resnet", "resnext", "resnet_big", "resnext_big"}, map[string]bool{"resnet": true})
}
