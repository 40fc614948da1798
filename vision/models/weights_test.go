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
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// newConvBN is the block of convbn_gen.py wrapped as a Model, with "conv" as its head so
// head slicing can be exercised on it.
func newConvBN(t testing.TB) Model {
	sd := NewStateDict()
	root := sd.Root()
	body := Sequential{
		NewConv2d(root.Sub("conv"), 3, 8, 3, ConvOpts{Stride: 2, Padding: 1}, nil),
		NewBatchNorm2d(root.Sub("bn"), 8),
	}
	if err := sd.Err(); err != nil {
		t.Fatal(err)
	}
	return &base{sd: sd, cfg: Config{Name: "convbn", Arch: "test", Classifier: "conv"}, body: body}
}

// TestParityReadStateDict: state_dicts saved by PyTorch 2.1 in the zip format, the legacy
// pickle format and with DataParallel's "module." prefix load into drgrade's tensors bit for bit.
func TestParityReadStateDict(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/convbn", "testdata/convbn_gen.py")
	for _, tc := range []struct {
		file, format, prefix string
	}{
		{"convbn_zip.pth", "zip", ""},
		{"convbn_legacy.pth", "legacy", ""},
		{"convbn_module.pth", "zip", "module."},
	} {
		t.Run(tc.file, func(t *testing.T) {
			locked.Run(func() {
				m := newConvBN(t)
				defer m.Close()
				r, err := LoadWeights(m, filepath.Join(dir, tc.file), HeadSlice)
				if err != nil {
					t.Fatal(err)
				}
				if r.Format != tc.format || r.StrippedPrefix != tc.prefix || r.Loaded != 7 || len(r.Missing)+len(r.Unexpected) != 0 {
					t.Fatalf("report: %+v", r)
				}
				for _, e := range m.StateDict().Entries() {
					want, err := npy.ReadFile(filepath.Join(dir, "param_"+e.Name+".npy"))
					if err != nil {
						t.Fatal(err)
					}
					if want.I64 != nil {
						if got := e.Tensor.Int64Values(); got[0] != want.I64[0] {
							t.Errorf("%s = %v, PyTorch %v", e.Name, got, want.I64)
						}
						continue
					}
					got := e.Tensor.Float64Values()
					for i, w := range want.F32 {
						if math.Float32bits(float32(got[i])) != math.Float32bits(w) {
							t.Fatalf("%s[%d] = %v, PyTorch %v (not bit-identical)", e.Name, i, got[i], w)
						}
					}
				}
			})
		})
	}
}

func TestLoadStateDictHeadAndErrors(t *testing.T) {
	locked.Run(func() {
		f32 := func(name string, shape []int) *pth.Entry {
			n := 1
			for _, d := range shape {
				n *= d
			}
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(i)
			}
			return pth.NewFloat32(name, shape, v)
		}
		cases := []struct {
			name     string
			entries  []*pth.Entry
			head     string
			wantErr  string
			wantHead string
			loaded   int
			missing  int
			unexpect int
		}{
			{"slice a bigger head", []*pth.Entry{f32("conv.weight", []int{10, 3, 3, 3}), f32("conv.bias", []int{10})}, HeadSlice, "", "sliced from [10, 3, 3, 3] to its first 8 rows", 2, 5, 0},
			{"reset a bigger head", []*pth.Entry{f32("conv.weight", []int{10, 3, 3, 3})}, HeadReset, "", "kept the fresh initialisation", 0, 6, 0},
			{"smaller head is an error", []*pth.Entry{f32("conv.weight", []int{4, 3, 3, 3})}, HeadSlice, "size mismatch for conv.weight: copying a param with shape [4, 3, 3, 3]", "", 0, 0, 0},
			{"non-head mismatch", []*pth.Entry{f32("bn.weight", []int{9})}, HeadSlice, "size mismatch for bn.weight", "", 0, 0, 0},
			{"integer data for a float", []*pth.Entry{pth.NewInt64("bn.weight", []int{8}, make([]int64, 8))}, HeadSlice, "dtype mismatch for bn.weight", "", 0, 0, 0},
			{"unexpected keys", []*pth.Entry{f32("extra.weight", []int{2}), f32("bn.bias", []int{8})}, HeadSlice, "", "", 1, 6, 1},
			{"bad head mode", nil, "chop", `head mode "chop"`, "", 0, 0, 0},
		}
		for _, tc := range cases {
			m := newConvBN(t)
			before := m.StateDict().Get("bn.weight").Tensor.Float64Values()
			r, err := LoadStateDict(m, &pth.StateDict{Format: pth.FormatZip, Entries: tc.entries}, tc.head)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
				}
				if after := m.StateDict().Get("bn.weight").Tensor.Float64Values(); after[0] != before[0] {
					t.Errorf("%s: the model changed although loading failed", tc.name)
				}
			case err != nil:
				t.Errorf("%s: %v", tc.name, err)
			default:
				if r.Loaded != tc.loaded || len(r.Missing) != tc.missing || len(r.Unexpected) != tc.unexpect {
					t.Errorf("%s: loaded %d missing %v unexpected %v", tc.name, r.Loaded, r.Missing, r.Unexpected)
				}
				if tc.wantHead != "" && !strings.Contains(strings.Join(r.Head, "\n"), tc.wantHead) {
					t.Errorf("%s: head report %q lacks %q", tc.name, r.Head, tc.wantHead)
				}
			}
			m.Close()
		}
	})
}

func TestDenseNetLegacyKeys(t *testing.T) {
	e := pth.NewFloat32("features.denseblock1.denselayer1.norm.1.weight", []int{2}, []float32{1, 2})
	k := pth.NewFloat32("features.denseblock1.denselayer1.norm1.weight", []int{2}, []float32{1, 2})
	out := renameLegacyKeys(Config{Arch: "densenet121"}, []*pth.Entry{e, k})
	if out[0].Name != "features.denseblock1.denselayer1.norm1.weight" || out[1].Name != k.Name {
		t.Fatalf("renamed to %q, %q", out[0].Name, out[1].Name)
	}
	if e.Name != "features.denseblock1.denselayer1.norm.1.weight" {
		t.Fatal("the source entry was modified")
	}
	if got := renameLegacyKeys(Config{Arch: "resnet50"}, []*pth.Entry{e}); got[0].Name != e.Name {
		t.Fatal("non-DenseNet keys were renamed")
	}
}

// TestHeadSliceEveryModel: for every zoo model, a 1000-class state_dict loads into a 5-class
// model with --head slice, and the classifier (Config's Classifier prefix: fc,
// classifier.1/.2/.3/.6, head, heads.head, ...) holds the first 5 rows of the 1000-class
// weight and bias, exactly, as the script's fc.weight[:n] gives. The 1000-class head is first
// filled with distinct values (its element index), since several models initialise it to
// zeros (ViT's weight and bias, most biases) where first and last rows would look alike.
// The state_dict goes through SaveStateDict and LoadWeights (a .pth file) for the models up
// to 100M parameters, through HostEntries and LoadStateDict (the same slicing, no file) for
// the bigger ones (zooCase.big), which -short skips (make test runs them): see checkHeadSlice.
func TestHeadSliceEveryModel(t *testing.T) {
	dir := t.TempDir() // on disk: a tmpfs would hold up to 1.4 GB more memory
	for _, name := range zooNames() {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && zooCaseOf(t, name).big {
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
	if zooCaseOf(t, name).big {
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
