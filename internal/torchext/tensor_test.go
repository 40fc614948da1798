package torchext

import (
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestCopyInto(t *testing.T) {
	onLockedThread(t, func() {
		dst := ts.MustZeros([]int64{2, 3}, gotch.Float, gotch.CPU)
		defer dst.MustDrop()
		if err := dst.RequiresGrad_(true); err != nil {
			t.Fatal(err)
		}
		src, err := ts.NewTensorFromData([]float64{1, 2, 3, 4, 5, 6}, []int64{2, 3})
		if err != nil {
			t.Fatal(err)
		}
		defer src.MustDrop()
		// A leaf that requires grad: copy_ outside no-grad would fail; CopyInto must not.
		if err := CopyInto(dst, src); err != nil {
			t.Fatal(err)
		}
		got := dst.Float64Values()
		for i, v := range []float64{1, 2, 3, 4, 5, 6} {
			if got[i] != v {
				t.Fatalf("dst = %v", got)
			}
		}
		if dst.DType() != gotch.Float {
			t.Fatalf("dtype changed to %v", dst.DType())
		}

		bad := ts.MustZeros([]int64{4}, gotch.Float, gotch.CPU)
		defer bad.MustDrop()
		err = CopyInto(dst, bad)
		if err == nil {
			t.Fatal("copying [4] into [2, 3]: no error")
		}
		if strings.Contains(err.Error(), "Exception raised from") || !strings.Contains(err.Error(), "size") {
			t.Fatalf("error should be libtorch's first line only, about sizes: %q", err)
		}
	})
}
