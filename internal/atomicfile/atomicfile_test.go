package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	boom := errors.New("boom")
	for _, c := range []struct {
		name    string
		write   func(io.Writer) error
		wantErr error
		want    string // file content afterwards
	}{
		{"new file", func(w io.Writer) error { _, err := io.WriteString(w, "first"); return err }, nil, "first"},
		{"replace", func(w io.Writer) error { _, err := io.WriteString(w, "second"); return err }, nil, "second"},
		{"failed write keeps the old file", func(w io.Writer) error {
			io.WriteString(w, "partial")
			return boom
		}, boom, "second"},
		{"large", func(w io.Writer) error { _, err := w.Write(make([]byte, 3<<20)); return err }, nil, string(make([]byte, 3<<20))},
	} {
		err := Write(path, c.write)
		if !errors.Is(err, c.wantErr) {
			t.Fatalf("%s: error %v, want %v", c.name, err, c.wantErr)
		}
		got, rerr := os.ReadFile(path)
		if rerr != nil || string(got) != c.want {
			t.Fatalf("%s: file holds %d bytes (%v), want %d", c.name, len(got), rerr, len(c.want))
		}
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", c.name, fi.Mode().Perm())
		}
		left, _ := filepath.Glob(filepath.Join(dir, TempPattern("out.bin")))
		if len(left) != 0 {
			t.Errorf("%s: temporary files left: %v", c.name, left)
		}
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "x"), []byte("x")); err == nil {
		t.Error("writing into a missing directory: no error")
	}
}
