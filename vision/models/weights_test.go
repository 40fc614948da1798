package models

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
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
