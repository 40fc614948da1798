package npy

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/drgrade/drgrade/internal/atomicfile"
)

func TestWriteFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npy")
	cases := []struct {
		data  any
		shape []int
		dtype string
		get   func(*Array) any
		want  any
	}{
		{[]float32{1, -2.5, 3}, []int{3}, "<f4", func(a *Array) any { return a.F32 }, []float32{1, -2.5, 3}},
		{[]float64{1, 2, 3, 4, 5, 6}, []int{2, 3}, "<f8", func(a *Array) any { return a.F64 }, []float64{1, 2, 3, 4, 5, 6}},
		{[]int64{-1, 7}, []int{2, 1}, "<i8", func(a *Array) any { return a.I64 }, []int64{-1, 7}},
		{[]uint8{0, 255}, []int{2}, "|u1", func(a *Array) any { return a.I64 }, []int64{0, 255}},
	}
	for _, c := range cases {
		if err := WriteFile(path, c.data, c.shape); err != nil {
			t.Fatalf("%T: %v", c.data, err)
		}
		a, err := ReadFile(path)
		if err != nil {
			t.Fatalf("%T: %v", c.data, err)
		}
		if !reflect.DeepEqual(a.Shape, c.shape) || a.Dtype != c.dtype || !reflect.DeepEqual(c.get(a), c.want) {
			t.Errorf("%T: read back %v %s %v, want %v %s %v", c.data, a.Shape, a.Dtype, c.get(a), c.shape, c.dtype, c.want)
		}
	}
}

// A write that fails leaves what was there and no temporary file: here the rename fails
// because the target is a non-empty directory.
func TestWriteFileFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.npy")
	if err := os.MkdirAll(filepath.Join(target, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, []float32{1}, []int{1}); err == nil {
		t.Fatal("WriteFile onto a non-empty directory: no error")
	}
	left, _ := filepath.Glob(filepath.Join(dir, atomicfile.TempPattern("out.npy")))
	all, _ := os.ReadDir(dir)
	if len(left) != 0 || len(all) != 1 {
		t.Errorf("after the failed write the folder holds %v (temporaries %v), want only out.npy/", all, left)
	}
	if _, err := os.Stat(filepath.Join(target, "keep")); err != nil {
		t.Errorf("the existing target was touched: %v", err)
	}
	if err := WriteFile(target+"2", []string{"x"}, []int{1}); err == nil {
		t.Error("WriteFile of []string: no error")
	}
	if _, err := os.Stat(target + "2"); !os.IsNotExist(err) {
		t.Errorf("a file was left for the failed []string write: %v", err)
	}
}
