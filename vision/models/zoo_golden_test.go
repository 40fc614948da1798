package models

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// mobilenet_v3_w035 is torchvision's mobilenet_v3_small(width_mult=0.35), registered by this
// test only (not a zoo model): drgrade's MobileNetV3 code (newMobileNetV3, the same as the
// zoo's mobilenet_v3 and mobilenet_v3_large) with the small model's table scaled as
// torchvision's InvertedResidualConfig.adjust_channels does, _make_divisible(c * 0.35, 8),
// and last_channel _make_divisible(1024 * 0.35, 8) = 360. Its weights are 0.8 MB, small
// enough to commit (width 1.0: 6 MB).
func init() {
	const width = 0.35
	adjust := func(c int64) int64 { return mbMakeDivisible(float64(c)*width, 8) }
	if err := Register("mobilenet_v3_w035", func(n int) (Model, error) {
		setting := make([]mbBlockConfig, len(mobileNetV3Small))
		for i, c := range mobileNetV3Small {
			c.in, c.expanded, c.out = adjust(c.in), adjust(c.expanded), adjust(c.out)
			setting[i] = c
		}
		return newMobileNetV3("mobilenet_v3_w035", setting, adjust(1024), n)
	}, Config{Arch: "mobilenet_v3_small", Classifier: "classifier.3"}); err != nil {
		panic(err)
	}
}

// goldenForwardNames are the models whose PyTorch-created weights, input and logits are
// committed in testdata/forward (2.8 MB in all: shufflenet_v2_x0_5's state_dict is 1.5 MB,
// mobilenet_v3_w035's 0.9 MB), so that `go test` compares whole models with torchvision
// without the venv. mobilenet_v3_w035 comes first: its train-mode check includes classifier
// dropout, matched for the first model only (see cnnDropoutSeed).
var goldenForwardNames = []string{"mobilenet_v3_w035", "shufflenet_small"}

// TestParityForwardGolden: eval- and train-mode logits and the BatchNorm buffers after the
// train-mode forward, at 64×64 px and batch 2, of two whole models with every parameter and
// buffer perturbed by zoo_ref.perturb (so a dropped bias — squeeze-excitation, classifier —
// or a misplaced BatchNorm statistic changes the logits): compared with the committed
// goldens by `go test`, with the generator's live output under `make parity`. Bounds in
// forwardParity.
func TestParityForwardGolden(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/forward", "testdata/zoo_cnn_gen.py",
		"--forward", strings.Join(goldenForwardNames, ","), "--train_check", strings.Join(goldenForwardNames, ","),
		"--size", "64", "--batch", "2")
	var meta struct {
		Torch, Torchvision string
		Size, Batch        int
	}
	pyoracle.ReadJSON(t, dir, "meta_cnn.json", &meta)
	if !strings.HasPrefix(meta.Torch, "2.1.0") || !strings.HasPrefix(meta.Torchvision, "0.16.0") || meta.Size != 64 || meta.Batch != 2 {
		t.Fatalf("goldens from torch %s / torchvision %s at %d px, batch %d: want 2.1.0 / 0.16.0, 64 px, batch 2", meta.Torch, meta.Torchvision, meta.Size, meta.Batch)
	}
	torchext.ManualSeed(cnnDropoutSeed) // right before the first model's constructor, as the generator replays
	train := map[string]bool{}
	for _, n := range goldenForwardNames {
		train[n] = true
	}
	forwardParityIn(t, dir, goldenForwardNames, train)
}

// TestHeadSliceEveryModel: for every zoo model, a 1000-class state_dict loads into a 5-class
// model with --head slice, and the classifier (Config's Classifier prefix: fc,
// classifier.1/.2/.3/.6, head, heads.head, ...) holds the first 5 rows of the 1000-class
// weight and bias, exactly, as the script's fc.weight[:n] gives. The 1000-class head is first
// filled with distinct values (its element index), since several models initialise it to
// zeros (ViT's weight and bias, most biases) where first and last rows would look alike.
// The state_dict goes through SaveStateDict and LoadWeights (a .pth file) for the models up
// to 100M parameters, through HostEntries and LoadStateDict (the same slicing, no file) for
// the nine bigger ones, which -short skips (make test runs them): see checkHeadSlice.
func TestHeadSliceEveryModel(t *testing.T) {
	names := zooNames()
	if len(names) < 35 {
		t.Errorf("%d zoo models registered, want at least 35", len(names))
	}
	dir := t.TempDir() // on disk: a tmpfs would hold up to 1.4 GB more memory
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && bigModels[name] {
				t.Skip("over 100M parameters: run without -short")
			}
			locked.Run(func() { checkHeadSlice(t, name, filepath.Join(dir, name+".pth")) })
		})
	}
}

// releaseMemory hands back what the last model left behind: the Go heap of the host copies
// (SaveStateDict's, pth.Load's, up to 1.4 GB each) and libtorch's freed blocks, which the
// caching CPU allocator would otherwise keep (up to a quarter of RAM). Without it, the process
// reached 13 GB at zfnet after the package's other tests and was killed for memory.
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
	torchext.ReleaseCPUCache()
}

// bigModels are the zoo models of over 100M parameters (the slowest to build, save and load).
var bigModels = map[string]bool{
	"vgg_tiny": true, "vgg_small": true, "vgg": true, "vgg_big": true, "efficient_v2_large": true,
	"convnext_big": true, "convnext_huge": true, "vision_transformer_big": true, "zfnet": true,
}

// headRows is a classifier tensor of the 1000-class model: its name and its first 5 rows.
type headRows struct {
	name  string
	shape []int64
	first []float32
}

func checkHeadSlice(t *testing.T, name, path string) {
	defer torchext.NoGrad()()
	const big, small = 1000, 5
	m, err := New(name, big)
	if err != nil {
		t.Fatal(err)
	}
	prefix := m.Config().Classifier + "."
	var heads []headRows
	for _, e := range m.StateDict().Entries() {
		if !strings.HasPrefix(e.Name, prefix) {
			continue
		}
		shape := e.Tensor.MustSize()
		if shape[0] != big {
			m.Close()
			t.Fatalf("%s %s: the classifier's first dimension is not the %d classes", e.Name, describeShape(shape), big)
		}
		// Distinct values: element i holds i (exact in float32 below 2^24 elements).
		n := e.Tensor.Numel()
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i)
		}
		src, err := TensorFrom(v, shape)
		if err == nil {
			err = torchext.CopyInto(e.Tensor, src)
			src.MustDrop()
		}
		if err != nil {
			m.Close()
			t.Fatal(err)
		}
		heads = append(heads, headRows{name: e.Name, shape: shape, first: v[:int(n)/big*small]})
	}
	// The models over 100M parameters (0.47-1.5 GB) go through LoadStateDict (LoadWeights
	// without the file): reading a .pth back takes LoadWeights about 6 times its size on top
	// of the model (the file, the zip entries, the float32 and libtorch copies: 10 GB for
	// zfnet's 1.5 GB), and the test process was killed for memory at 13 GB.
	var src *pth.StateDict
	if bigModels[name] {
		var entries []*pth.Entry
		if entries, err = HostEntries(m.StateDict()); err == nil {
			src = &pth.StateDict{Format: pth.FormatZip, Entries: entries}
		}
	} else {
		err = SaveStateDict(m, path)
		defer os.Remove(path)
	}
	m.Close()
	releaseMemory()
	defer releaseMemory()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range heads {
		names = append(names, strings.TrimPrefix(h.name, prefix))
	}
	if got := strings.Join(names, ","); got != "weight,bias" {
		t.Fatalf("classifier %q has tensors %q, want weight,bias", prefix, got)
	}

	m, err = New(name, small)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var r *LoadReport
	if src != nil {
		r, err = LoadStateDict(m, src, HeadSlice)
		src = nil
	} else {
		r, err = LoadWeights(m, path, HeadSlice)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Loaded != len(m.StateDict().Entries()) || len(r.Missing)+len(r.Unexpected) > 0 || len(r.Head) != len(heads) {
		t.Fatalf("load: %s", r)
	}
	for _, h := range heads {
		e := m.StateDict().Get(h.name)
		want := append([]int64{small}, h.shape[1:]...)
		if got := describeShape(e.Tensor.MustSize()); got != describeShape(want) {
			t.Errorf("%s: shape %s, want %s", h.name, got, describeShape(want))
			continue
		}
		got := e.Tensor.Float64Values()
		for i, w := range h.first {
			if math.Float32bits(float32(got[i])) != math.Float32bits(w) {
				per := len(h.first) / small
				t.Errorf("%s[%d] (row %d) = %v, want %v: not the 1000-class head's first %d rows", h.name, i, i/per, got[i], w, small)
				break
			}
		}
	}
}
