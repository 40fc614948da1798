package pth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRoundTrip saves entries of every savable dtype and shape kind and reads them back.
func TestRoundTrip(t *testing.T) {
	raw := func(name string, dt Dtype, shape []int, data []byte) *Entry {
		return &Entry{Name: name, Dtype: dt, Shape: shape, Data: data}
	}
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + 11)
		}
		return b
	}
	cases := []struct {
		name    string
		entries []*Entry
	}{
		{"empty state_dict", nil},
		{"one entry (SETITEM)", []*Entry{NewFloat32("w", []int{2, 2}, []float32{1, -2, 3.5, float32(math.Inf(1))})}},
		{"mixed dtypes", []*Entry{
			NewFloat32("conv.weight", []int{4, 3, 3, 3}, make([]float32, 108)),
			NewInt64("bn.num_batches_tracked", nil, []int64{-7}),
			raw("f64", Float64, []int{3}, seq(24)),
			raw("f16", Float16, []int{5}, seq(10)),
			raw("bf16", BFloat16, []int{2, 2}, seq(8)),
			raw("i32", Int32, []int{2}, seq(8)),
			raw("i16", Int16, []int{1}, seq(2)),
			raw("i8", Int8, []int{3}, seq(3)),
			raw("u8", Uint8, []int{3}, seq(3)),
			raw("bool", Bool, []int{2}, []byte{1, 0}),
			raw("c64", Complex64, []int{1}, seq(8)),
			raw("empty", Float32, []int{0, 5}, nil),
			raw("big", Int64, []int{1 << 31, 0}, nil),
		}},
		{"more than 1000 entries (two SETITEMS batches) and long memo indices", func() []*Entry {
			var es []*Entry
			for i := range 1003 {
				es = append(es, NewFloat32(strings.Repeat("x", i%7)+string(rune('a'+i%26))+"."+strconv.Itoa(i), []int{1}, []float32{float32(i)}))
			}
			return es
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.pth")
			if err := Save(path, c.entries); err != nil {
				t.Fatal(err)
			}
			sd, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if sd.Format != FormatZip || sd.NestedKey != "" || sd.StrippedPrefix != "" || len(sd.Metadata) != 0 {
				t.Errorf("format %v nested %q prefix %q metadata %v", sd.Format, sd.NestedKey, sd.StrippedPrefix, sd.Metadata)
			}
			compareEntries(t, sd.Entries, c.entries)
			for _, e := range sd.Entries {
				if e.Offset != 0 || len(e.Stride) != len(e.Shape) {
					t.Errorf("%s: offset %d stride %v", e.Name, e.Offset, e.Stride)
				}
			}
			// Atomic write: only the final file is left, with ordinary permissions.
			files, _ := os.ReadDir(dir)
			if len(files) != 1 {
				t.Errorf("directory holds %d files after Save", len(files))
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("stat %v %v", st, err)
			}
		})
	}
}

// TestResaveFixtures re-saves every loaded fixture (views and shared storages become
// contiguous copies) and requires the re-read values to be identical.
func TestResaveFixtures(t *testing.T) {
	for _, f := range []string{"zip.pth", "legacy.pth", "tar.pth", "legacy_views.pth"} {
		sd, err := Load(filepath.Join(goldenDir, f))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), f)
		if err := Save(path, sd.Entries); err != nil {
			t.Fatal(err)
		}
		again, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		compareEntries(t, again.Entries, sd.Entries)
	}
}

func TestSaveErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		path    string
		entries []*Entry
		want    string
	}{
		{"duplicate name", "a.pth", []*Entry{NewInt64("x", nil, []int64{1}), NewInt64("x", nil, []int64{2})}, "duplicate"},
		{"short data", "b.pth", []*Entry{{Name: "x", Dtype: Float32, Shape: []int{3}, Data: make([]byte, 8)}}, "8 bytes of data"},
		{"unknown dtype", "c.pth", []*Entry{{Name: "x", Dtype: "float8", Shape: []int{1}, Data: make([]byte, 1)}}, "unknown dtype"},
		{"negative dim", "d.pth", []*Entry{{Name: "x", Dtype: Uint8, Shape: []int{-1}}}, "negative"},
		{"missing directory", "no/such/dir/e.pth", nil, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Save(filepath.Join(dir, c.path), c.entries)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("failed saves left %d files behind", len(files))
	}
}

// TestLoadErrors covers the inputs that must be rejected with a clear error.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	zipFile := fixture(t, "zip.pth")
	legacy := fixture(t, "legacy.pth")
	tarFile := fixture(t, "tar.pth")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		path string
		is   error  // errors.Is target, or nil
		want string // substring of the message
	}{
		{"missing file", filepath.Join(dir, "nope.pth"), fs.ErrNotExist, "no such file"},
		{"empty file", write("empty.pth", nil), ErrEmpty, "empty"},
		{"text file", write("notes.txt", []byte("epoch 3: loss 0.25\n")), ErrNotCheckpoint, "neither a zip"},
		{"truncated zip", write("half.pth", zipFile[:len(zipFile)/2]), ErrTruncatedZip, "truncated"},
		{"torchscript", filepath.Join(goldenDir, "torchscript.pt"), ErrTorchScript, "torch.jit.load"},
		{"whole pickled model", filepath.Join(goldenDir, "whole_model.pth"), nil, "pickled __main__.Tiny object"},
		{"garbage pickle", write("garbage.pth", []byte("\x80\x02\xff\xfe\xfd")), ErrNotCheckpoint, "magic number"},
		{"plain pickle", write("plain.pkl", []byte("\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.")), ErrNotCheckpoint, "plain pickle"},
		{"truncated legacy", write("legacy_half.pth", legacy[:len(legacy)/2]), nil, "legacy checkpoint"},
		{"legacy without storages", write("legacy_cut.pth", legacy[:len(legacy)-40]), nil, "truncated storage"},
		{"truncated tar", write("tar_half.pth", tarFile[:len(tarFile)/2]), nil, "tar"},
		{"zip of something else", write("other.zip", zipOf(t, map[string]string{"docs/readme.txt": "hi"})), ErrNotCheckpoint, "data.pkl"},
		{"zip without directory", write("flat.zip", zipOf(t, map[string]string{"data.pkl": "x"})), ErrNotCheckpoint, "subdirectory"},
		{"torchscript code dir", write("ts.zip", zipOf(t, map[string]string{"m/code/__torch__.py": "", "m/data.pkl": ""})), ErrTorchScript, "TorchScript"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sd, err := Load(c.path)
			if err == nil {
				t.Fatalf("loaded %d entries, want an error", len(sd.Entries))
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// TestPrefixNotStrippedWhenMixed keeps names as they are unless every tensor has the prefix.
func TestPrefixNotStrippedWhenMixed(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, []*Entry{NewInt64("module.a", nil, []int64{1}), NewInt64("b", nil, []int64{2})}); err != nil {
		t.Fatal(err)
	}
	sd, err := LoadReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if sd.StrippedPrefix != "" || sd.Entries[0].Name != "module.a" {
		t.Errorf("prefix %q, names %s %s", sd.StrippedPrefix, sd.Entries[0].Name, sd.Entries[1].Name)
	}
}

func TestAccessors(t *testing.T) {
	half := &Entry{Name: "h", Dtype: Float16, Shape: []int{6}, Data: []byte{
		0x00, 0x3c, // 1
		0x00, 0xc0, // -2
		0x01, 0x00, // smallest subnormal 2^-24
		0xff, 0x7b, // 65504
		0x00, 0x7c, // +Inf
		0x00, 0x80, // -0
	}}
	got, err := half.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, -2, float32(math.Ldexp(1, -24)), 65504, float32(math.Inf(1)), float32(math.Copysign(0, -1))}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("half[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	bf := &Entry{Name: "b", Dtype: BFloat16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x20, 0xc1}}
	if f, _ := bf.Float32s(); f[0] != 1 || f[1] != -10 {
		t.Errorf("bfloat16 %v", f)
	}
	i8 := &Entry{Name: "i", Dtype: Int8, Shape: []int{2}, Data: []byte{0xff, 0x7f}}
	if v, _ := i8.Int64s(); !reflect.DeepEqual(v, []int64{-1, 127}) {
		t.Errorf("int8 %v", v)
	}
	if f, _ := i8.Float32s(); !reflect.DeepEqual(f, []float32{-1, 127}) {
		t.Errorf("int8 as float32 %v", f)
	}
	if _, err := NewFloat32("f", []int{1}, []float32{1}).Int64s(); err == nil {
		t.Error("Int64s of a float tensor succeeded")
	}
	if _, err := (&Entry{Name: "c", Dtype: Complex64, Shape: []int{1}, Data: make([]byte, 8)}).Float64s(); err == nil {
		t.Error("Float64s of a complex tensor succeeded")
	}
	if _, err := (&Entry{Name: "bad", Dtype: Float32, Shape: []int{2}, Data: make([]byte, 4)}).Float32s(); err == nil {
		t.Error("Float32s with short data succeeded")
	}
}

// TestMaterializeStrided checks the strided gather against a direct index computation.
func TestMaterializeStrided(t *testing.T) {
	src := make([]byte, 4*64)
	for i := range 64 {
		binary.LittleEndian.PutUint32(src[4*i:], uint32(i))
	}
	st := &storage{dtype: Float32, numel: 64, data: src}
	cases := []struct {
		off          int64
		size, stride []int64
	}{
		{0, []int64{4, 4}, []int64{4, 1}},
		{1, []int64{3, 4}, []int64{1, 6}},
		{5, []int64{2, 3, 2}, []int64{20, 1, 3}},
		{2, []int64{2, 3}, []int64{0, 1}},
		{7, []int64{3, 1, 2}, []int64{9, 100, 1}},
		{63, nil, nil},
		{0, []int64{0, 9}, []int64{9, 1}},
	}
	for _, c := range cases {
		e, err := (&tensorRef{st: st, dtype: Float32, offset: c.off, size: c.size, stride: c.stride}).materialize("t")
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		var want []uint32
		var rec func(d int, pos int64)
		rec = func(d int, pos int64) {
			if d == len(c.size) {
				want = append(want, uint32(pos))
				return
			}
			for i := int64(0); i < c.size[d]; i++ {
				rec(d+1, pos+i*c.stride[d])
			}
		}
		rec(0, c.off)
		got := make([]uint32, len(e.Data)/4)
		for i := range got {
			got[i] = binary.LittleEndian.Uint32(e.Data[4*i:])
		}
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%+v: got %v want %v", c, got, want)
		}
	}
	bad := []tensorRef{
		{st: st, dtype: Float32, offset: 60, size: []int64{5}, stride: []int64{1}},
		{st: st, dtype: Float32, offset: -1, size: []int64{1}, stride: []int64{1}},
		{st: st, dtype: Float32, size: []int64{2}, stride: []int64{-1}},
		{st: st, dtype: Float32, size: []int64{2, 2}, stride: []int64{1}},
		{st: st, dtype: Float64, size: []int64{33}, stride: []int64{1}},
		{st: st, dtype: Float32, size: []int64{1 << 40}, stride: []int64{0}},
		{st: st, dtype: Float32, size: []int64{1 << 62, 4}, stride: []int64{1, 1}},
		{st: &storage{dtype: Float32, numel: 4}, dtype: Float32, size: []int64{1}, stride: []int64{1}},
	}
	for _, b := range bad {
		if _, err := b.materialize("t"); err == nil {
			t.Errorf("%+v materialised", b)
		}
	}
}

// TestBigEndianZip mirrors torch's byteswap for archives whose byteorder record says big.
func TestBigEndianZip(t *testing.T) {
	pkl := encodePickle([]*Entry{NewFloat32("w", []int{2}, []float32{1, 2})})
	be := []byte{0x3f, 0x80, 0, 0, 0x40, 0, 0, 0}
	data := zipOf(t, map[string]string{"a/data.pkl": string(pkl), "a/byteorder": "big", "a/data/0": string(be), "a/version": "3\n"})
	sd, err := LoadReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := sd.Entries[0].Float32s(); !reflect.DeepEqual(f, []float32{1, 2}) {
		t.Errorf("got %v", f)
	}
}
