package torchext

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestCopyInto(t *testing.T) {
	locked.Run(func() {
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

// TestFromSliceCopyTo round-trips every supported slice type, reads a non-contiguous view in
// C order (checked against gotch's own element-wise copy) and rejects mismatched slices.
func TestFromSliceCopyTo(t *testing.T) {
	locked.Run(func() {
		for _, c := range []struct {
			name string
			in   any
			out  any
		}{
			{"float32", []float32{1.5, -2, 3e-8, 4, 5, 6}, make([]float32, 6)},
			{"float64", []float64{1.5, -2, 3e-300, 4, 5, 6}, make([]float64, 6)},
			{"int64", []int64{1, -2, 1 << 40, 4, 5, 6}, make([]int64, 6)},
		} {
			x, err := FromSlice(c.in, []int64{2, 3})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if err := CopyTo(x, c.out); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			x.MustDrop()
			if fmt.Sprint(c.out) != fmt.Sprint(c.in) {
				t.Errorf("%s: round trip %v, want %v", c.name, c.out, c.in)
			}
		}

		x, err := FromSlice([]float32{1, 2, 3, 4, 5, 6}, []int64{2, 3})
		if err != nil {
			t.Fatal(err)
		}
		defer x.MustDrop()
		xt, err := x.Transpose(0, 1, false) // a view with strides (1, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer xt.MustDrop()
		got := make([]float32, 6)
		if err := CopyTo(xt, got); err != nil {
			t.Fatal(err)
		}
		want := xt.Float64Values()
		for i := range want {
			if float64(got[i]) != want[i] {
				t.Fatalf("transposed view copied as %v, want %v", got, want)
			}
		}

		u, err := x.Totype(gotch.Uint8, false)
		if err != nil {
			t.Fatal(err)
		}
		defer u.MustDrop()
		b := make([]uint8, 6)
		if err := CopyTo(u, b); err != nil || fmt.Sprint(b) != "[1 2 3 4 5 6]" {
			t.Fatalf("uint8: %v, %v", b, err)
		}

		for _, c := range []struct {
			name string
			dst  any
			want string
		}{
			{"wrong dtype", make([]float64, 6), "dtype"},
			{"short slice", make([]float32, 5), "bytes"},
			{"long slice", make([]float32, 7), "bytes"},
			{"unsupported type", make([]int32, 6), "unsupported"},
		} {
			err := CopyTo(x, c.dst)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "Exception raised from") {
				t.Errorf("%s: error %v, want one line about %q", c.name, err, c.want)
			}
		}
	})
}

// TestFromSliceToCUDAWithoutGPU: asking for a CUDA tensor where there is no GPU (a CPU build,
// or a CUDA build on a machine without one) is an error returned, not a crash; on the CPU the
// same call gives the values back.
func TestFromSliceToCUDAWithoutGPU(t *testing.T) {
	locked.Run(func() {
		v := []float32{1, 2, 3, 4, 5, 6}
		c, err := FromSliceTo(v, []int64{2, 3}, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 6)
		if err := CopyTo(c, got); err != nil || got[5] != 6 {
			t.Errorf("FromSliceTo on the CPU: %v, %v", got, err)
		}
		c.MustDrop()
		if gotch.CUDA.IsAvailable() {
			return // this machine has a GPU: nothing to refuse
		}
		if x, err := FromSliceTo(v, []int64{2, 3}, gotch.CudaBuilder(0)); err == nil {
			x.MustDrop()
			t.Error("FromSliceTo(cuda:0) without a GPU returned a tensor")
		} else {
			t.Logf("refused: %v", err)
		}
	})
}
