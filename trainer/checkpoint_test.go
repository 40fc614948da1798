package trainer

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestRemoveStaleTemps: the hidden temporary files of interrupted atomic writes go, every
// other file (checkpoints, logs, a user's own hidden file, a folder of a matching name) stays.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := []string{".DDR.pth.tmp123", ".last.pth.tmp4567", ".metrics.json.tmp89", ".metrics.csv.tmp0", ".curves.png.tmp-12", ".confusion_matrix.png.tmp-3"}
	kept := []string{"DDR.pth", "last.pth", "DDR.txt", "metrics.json", ".last.pth", ".notes.tmp1", "last.pth.tmp1", ".DDR.txt.tmp2"}
	for _, n := range append(append([]string{}, stale...), kept...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".last.pth.tmpdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, ".last.pth.tmpdir")
	removed, err := removeStaleTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range removed {
		got = append(got, filepath.Base(p))
	}
	sort.Strings(got)
	sort.Strings(stale)
	if strings.Join(got, " ") != strings.Join(stale, " ") {
		t.Errorf("removed %v, want %v", got, stale)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	sort.Strings(kept)
	if strings.Join(left, " ") != strings.Join(kept, " ") {
		t.Errorf("left %v, want %v", left, kept)
	}
	if again, err := removeStaleTemps(dir); err != nil || len(again) != 0 {
		t.Errorf("second call removed %v (%v), want nothing", again, err)
	}
}
