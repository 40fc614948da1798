package pth

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"
)

// TestSaveDiskFull: on a full disk Save fails with an error naming the checkpoint (not the
// temporary file) and ENOSPC, the previous checkpoint keeps its bytes, and no temporary file
// is left (the space it took is free again).
func TestSaveDiskFull(t *testing.T) {
	dir := testutil.MountTmpfs(t, "1m")
	path := filepath.Join(dir, "last.pth")
	floats := func(name string, n int) []*Entry { return []*Entry{NewFloat32(name, []int{n}, make([]float32, n))} }
	if err := Save(path, floats("old", 100_000)); err != nil { // 400 KB
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	err = Save(path, floats("new", 175_000)) // 700 KB: old + new do not fit in 1 MB
	if err == nil {
		t.Fatal("saving 700 KB next to 400 KB on a 1 MB tmpfs succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), path+": cannot write: ") {
		t.Errorf("error %q: want it to start with %s and wrap ENOSPC", err, path)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("the previous checkpoint changed")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files after the failed save: %v, want only last.pth", names)
	}
	// The temporary file's space is back: a checkpoint that fits next to the old one saves.
	if err := Save(path, floats("new", 120_000)); err != nil {
		t.Errorf("a 480 KB save after the failed one: %v", err)
	}
	if sd, err := Load(path); err != nil || sd.Get("new") == nil {
		t.Errorf("the replacing checkpoint does not load: %v", err)
	}
}
