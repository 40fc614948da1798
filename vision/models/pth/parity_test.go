package pth

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
)

const (
	goldenDir = "testdata/pth"
	genScript = "testdata/pth_gen.py"
)

type goldenTensor struct {
	Name   string `json:"name"`
	Dtype  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	Stride []int  `json:"stride"`
	Offset int    `json:"offset"`
}

type goldenFile struct {
	Format         string         `json:"format"`
	Names          []string       `json:"names"`
	NestedKey      string         `json:"nested_key"`
	StrippedPrefix string         `json:"stripped_prefix"`
	Metadata       map[string]any `json:"metadata"`
}

type goldenMeta struct {
	Torch   string                `json:"torch"`
	Tensors []goldenTensor        `json:"tensors"`
	Files   map[string]goldenFile `json:"files"`
}

// npyName is the values/ file holding a fixture tensor's values: the shared state_dict's
// tensors by name, the fixture-specific ones prefixed by the fixture's stem.
func npyName(file, tensor string, shared map[string]bool) string {
	if shared[tensor] || tensor == "extra.sview" {
		return tensor + ".npy"
	}
	return strings.TrimSuffix(file, ".pth") + "." + tensor + ".npy"
}

// equalBits compares an entry with numpy's values bit for bit. float16/bfloat16 goldens
// are stored widened to float32, which is exact, so comparing the widened bits is too.
func equalBits(t *testing.T, where string, e *Entry, a *npy.Array) {
	t.Helper()
	if !reflect.DeepEqual(e.Shape, a.Shape) {
		t.Errorf("%s: shape %v, numpy %v", where, e.Shape, a.Shape)
		return
	}
	switch {
	case a.F32 != nil:
		got, err := e.Float32s()
		if err != nil || (e.Dtype != Float32 && e.Dtype != Float16 && e.Dtype != BFloat16) {
			t.Errorf("%s: dtype %s vs numpy float32 (%v)", where, e.Dtype, err)
			return
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(a.F32[i]) {
				t.Errorf("%s[%d] = %v, numpy %v", where, i, got[i], a.F32[i])
				return
			}
		}
	case a.F64 != nil:
		if e.Dtype != Float64 {
			t.Errorf("%s: dtype %s vs numpy float64", where, e.Dtype)
			return
		}
		got, _ := e.Float64s()
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(a.F64[i]) {
				t.Errorf("%s[%d] = %v, numpy %v", where, i, got[i], a.F64[i])
				return
			}
		}
	default:
		got, err := e.Int64s()
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		if !reflect.DeepEqual(got, a.I64) && !(len(got) == 0 && len(a.I64) == 0) {
			t.Errorf("%s = %v, numpy %v", where, got, a.I64)
		}
	}
}

// TestParityFixtures loads every checkpoint torch.save (or our torch.load-proven writers
// for the tar and view layouts) produced and compares each tensor bit for bit with numpy.
func TestParityFixtures(t *testing.T) {
	dir := pyoracle.Golden(t, goldenDir, genScript)
	var meta goldenMeta
	pyoracle.ReadJSON(t, dir, "meta.json", &meta)
	if len(meta.Files) < 9 || len(meta.Tensors) < 15 {
		t.Fatalf("golden meta.json lists only %d files and %d tensors", len(meta.Files), len(meta.Tensors))
	}
	shared := map[string]goldenTensor{}
	isShared := map[string]bool{}
	for _, gt := range meta.Tensors {
		shared[gt.Name] = gt
		isShared[gt.Name] = true
	}
	for file, gf := range meta.Files {
		t.Run(file, func(t *testing.T) {
			sd, err := Load(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			if sd.Format.String() != gf.Format || sd.NestedKey != gf.NestedKey || sd.StrippedPrefix != gf.StrippedPrefix {
				t.Errorf("format %s nested %q prefix %q, want %s %q %q", sd.Format, sd.NestedKey, sd.StrippedPrefix,
					gf.Format, gf.NestedKey, gf.StrippedPrefix)
			}
			var names []string
			for _, e := range sd.Entries {
				names = append(names, e.Name)
			}
			if !reflect.DeepEqual(names, gf.Names) {
				t.Fatalf("names %v\nwant %v", names, gf.Names)
			}
			for _, e := range sd.Entries {
				a, err := npy.ReadFile(filepath.Join(dir, "values", npyName(file, e.Name, isShared)))
				if err != nil {
					t.Fatal(err)
				}
				equalBits(t, file+":"+e.Name, e, a)
				if gt, ok := shared[e.Name]; ok {
					// The stored layout survives every format (views keep stride and offset).
					if string(e.Dtype) != gt.Dtype || !reflect.DeepEqual(e.Shape, gt.Shape) ||
						!reflect.DeepEqual(e.Stride, gt.Stride) || e.Offset != gt.Offset {
						t.Errorf("%s: %s %v stride %v offset %d, torch %s %v stride %v offset %d", e.Name,
							e.Dtype, e.Shape, e.Stride, e.Offset, gt.Dtype, gt.Shape, gt.Stride, gt.Offset)
					}
				}
			}
			got := map[string]any{}
			for _, m := range sd.Metadata {
				switch v := m.Value.(type) {
				case int64:
					got[m.Name] = float64(v) // JSON numbers decode as float64
				default:
					got[m.Name] = v
				}
			}
			if len(got) != len(gf.Metadata) || (len(got) > 0 && !reflect.DeepEqual(got, gf.Metadata)) {
				t.Errorf("metadata %v, want %v", got, gf.Metadata)
			}
		})
	}
}

type saveGolden struct {
	Entries []struct {
		Name  string `json:"name"`
		Dtype string `json:"dtype"`
		Shape []int  `json:"shape"`
	} `json:"entries"`
	SerializationIDOffset int `json:"serialization_id_offset"`
}

// formulaEntry mirrors formula_values in pth_gen.py: float32 ((7i+13k) % 2001 - 1000)/512
// (exact in float32), int64 1000k + i.
func formulaEntry(k int, name string, dt Dtype, shape []int) *Entry {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if dt == Int64 {
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(1000*k + i)
		}
		return NewInt64(name, shape, v)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((7*i+13*k)%2001-1000) / 512
	}
	return NewFloat32(name, shape, v)
}

// TestParitySaveGolden checks the writer against torch.save byte for byte: every record up
// to torch's random .data/serialization_id (data.pkl with its memo numbering, byteorder,
// the 64-byte-aligned storages, version) must be identical.
func TestParitySaveGolden(t *testing.T) {
	dir := pyoracle.Golden(t, goldenDir, genScript)
	var g saveGolden
	pyoracle.ReadJSON(t, dir, "save_golden.json", &g)
	want, err := os.ReadFile(filepath.Join(dir, "save_golden.pth"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []*Entry
	for k, ge := range g.Entries {
		entries = append(entries, formulaEntry(k, ge.Name, Dtype(ge.Dtype), ge.Shape))
	}
	var buf bytes.Buffer
	if err := Encode(&buf, entries); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	cut := g.SerializationIDOffset
	if cut < 1000 || cut > len(want) || cut > len(got) {
		t.Fatalf("serialization_id offset %d (torch file %d bytes, ours %d)", cut, len(want), len(got))
	}
	if i := firstDiff(got[:cut], want[:cut]); i >= 0 {
		t.Fatalf("Encode differs from torch.save at byte %d of %d:\n ours  % x\n torch % x", i, cut,
			got[i:min(i+24, cut)], want[i:min(i+24, cut)])
	}
	// And torch's file reads back as the same entries.
	sd, err := Load(filepath.Join(dir, "save_golden.pth"))
	if err != nil {
		t.Fatal(err)
	}
	compareEntries(t, sd.Entries, entries)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// compareEntries requires identical names, dtypes, shapes and bytes.
func compareEntries(t *testing.T, got, want []*Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Dtype != w.Dtype || !reflect.DeepEqual(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("entry %d: %s %s %v (%d bytes), want %s %s %v (%d bytes)", i, g.Name, g.Dtype, g.Shape,
				len(g.Data), w.Name, w.Dtype, w.Shape, len(w.Data))
		}
	}
}

type keySpec struct {
	Name  string `json:"name"`
	Dtype string `json:"dtype"`
	Shape []int  `json:"shape"`
}

// TestParitySaveLive writes state_dicts with Save and has PyTorch load them (weights_only
// False and True), load_state_dict(strict=True) them into the reference modules (the tiny
// conv+bn+linear and torchvision's resnet18), compare every value and compare the bytes
// with torch.save's. Live only: it needs the venv.
func TestParitySaveLive(t *testing.T) {
	if pyoracle.Mode() == "" {
		t.Skip("live PyTorch check: run with DRGRADE_PARITY=1 (the golden side is TestParitySaveGolden)")
	}
	dir := pyoracle.Golden(t, goldenDir, genScript)
	var meta goldenMeta
	pyoracle.ReadJSON(t, dir, "meta.json", &meta)
	var tiny []keySpec
	for _, gt := range meta.Tensors {
		if !strings.HasPrefix(gt.Name, "extra.") {
			tiny = append(tiny, keySpec{gt.Name, gt.Dtype, gt.Shape})
		}
	}
	var r18 []keySpec
	pyoracle.ReadJSON(t, dir, "resnet18_keys.json", &r18)
	for _, m := range []struct {
		name string
		keys []keySpec
	}{{"tiny", tiny}, {"resnet18", r18}} {
		t.Run(m.name, func(t *testing.T) {
			var entries []*Entry
			for k, ks := range m.keys {
				entries = append(entries, formulaEntry(k, ks.Name, Dtype(ks.Dtype), ks.Shape))
			}
			path := filepath.Join(t.TempDir(), m.name+".pth")
			if err := Save(path, entries); err != nil {
				t.Fatal(err)
			}
			out, err := pyoracle.Run(genScript, "--check", path, "--model", m.name)
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				WeightsOnlyFalse int  `json:"weights_only_False"`
				WeightsOnlyTrue  int  `json:"weights_only_True"`
				PrefixBytes      int  `json:"prefix_bytes"`
				PrefixEqual      bool `json:"prefix_equal"`
			}
			if err := json.Unmarshal(bytes.TrimSpace(out), &rep); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if rep.WeightsOnlyFalse != len(entries) || rep.WeightsOnlyTrue != len(entries) || !rep.PrefixEqual {
				t.Fatalf("python check: %+v (want %d entries and equal bytes)", rep, len(entries))
			}
			t.Logf("%s: %d tensors; first %d bytes identical to torch.save", m.name, len(entries), rep.PrefixBytes)
		})
	}
}
