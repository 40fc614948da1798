package pth

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are the fixtures plus truncations of each (the corpus FuzzLoad starts from).
func fuzzSeeds(t testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.pt*"))
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures missing (%d found): %v", len(files), err)
	}
	var seeds [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
		for _, n := range []int{len(b) / 2, len(b) - 1, len(b) * 3 / 4, 700, 100} {
			if n > 0 && n < len(b) {
				seeds = append(seeds, b[:n])
			}
		}
	}
	return seeds
}

// checkLoaded asserts the invariants of any successfully loaded checkpoint: every entry is
// self-consistent and the state_dict survives Encode → Load unchanged.
func checkLoaded(t *testing.T, sd *StateDict) {
	for _, e := range sd.Entries {
		if err := e.check(); err != nil {
			t.Fatalf("loaded an inconsistent entry: %v", err)
		}
	}
	var buf bytes.Buffer
	if err := Encode(&buf, sd.Entries); err != nil {
		t.Fatalf("re-encoding a loaded state_dict: %v", err)
	}
	again, err := LoadReader(&buf)
	if err != nil {
		t.Fatalf("re-loading a re-encoded state_dict: %v", err)
	}
	if len(again.Entries) != len(sd.Entries) {
		t.Fatalf("round trip: %d entries, want %d", len(again.Entries), len(sd.Entries))
	}
	for i, e := range again.Entries {
		w := sd.Entries[i]
		if e.Dtype != w.Dtype || !bytes.Equal(e.Data, w.Data) || len(e.Shape) != len(w.Shape) {
			t.Fatalf("round trip changed entry %q", w.Name)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to the loader: it must return an error or a consistent
// state_dict, never panic, hang or allocate without bound.
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := LoadReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		checkLoaded(t, sd)
	})
}

// FuzzUnpickle fuzzes the pickle machine directly (inside a zip, the CRC check hides most
// mutations of data.pkl from FuzzLoad); persistent ids resolve to small storages.
func FuzzUnpickle(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if zr, err := zip.NewReader(bytes.NewReader(s), int64(len(s))); err == nil {
			for _, zf := range zr.File {
				if filepath.Base(zf.Name) == "data.pkl" {
					rc, _ := zf.Open()
					b, _ := io.ReadAll(rc)
					f.Add(b)
				}
			}
		} else if len(s) > 0 && s[0] == 0x80 {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u := newUnpickler(data, 0, nil)
		u.loadBytes = nestedLoader(0, u.work)
		u.persistentLoad = func(pid any) (any, error) {
			n := int64(64)
			if tp, ok := pid.(*Tuple); ok && len(tp.Items) > 4 {
				if m, ok := asInt(tp.Items[4]); ok && m >= 0 && m < 4096 {
					n = m
				}
			}
			return &storage{dtype: Float32, numel: n, data: make([]byte, 4*n)}, nil
		}
		obj, err := u.load()
		if err != nil {
			return
		}
		sd, err := buildStateDict(obj, len(data))
		if err != nil {
			return
		}
		sd.Format = FormatZip
		checkLoaded(t, sd)
	})
}
