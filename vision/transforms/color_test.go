package transforms

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/drgrade/drgrade/vision/imageio"
)

// allColours is a 4096×4096 image holding each of the 2^24 RGB colours once.
func allColours() *imageio.RGB {
	img := imageio.NewRGB(4096, 4096)
	for c := 0; c < 1<<24; c++ {
		img.Pix[3*c], img.Pix[3*c+1], img.Pix[3*c+2] = uint8(c>>16), uint8(c>>8), uint8(c)
	}
	return img
}

// firstDiff names the first pixel where two same-size images differ.
func firstDiff(in, got, want *imageio.RGB) string {
	for i := 0; i+2 < len(got.Pix); i += 3 {
		if !bytes.Equal(got.Pix[i:i+3], want.Pix[i:i+3]) {
			return fmt.Sprintf("rgb%v → %v, want %v", in.Pix[i:i+3], got.Pix[i:i+3], want.Pix[i:i+3])
		}
	}
	return ""
}

// TestAdjustHueExhaustive compares the table-driven AdjustHue with the per-pixel float
// reference (refAdjustHue, the code parity-tested against Pillow) on all 2^24 colours for edge
// and ordinary factors.
func TestAdjustHueExhaustive(t *testing.T) {
	img := allColours()
	factors := []float64{0, -0.5, 0.5, 1e-12, -1e-12, 1.0 / 255, -1.0 / 255, 2.0 / 255, 0.2, -0.2, 0.1234, -0.4321}
	if testing.Short() {
		factors = []float64{-0.5, 0.2}
	}
	for _, f := range factors {
		got, err := AdjustHue(img, f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := refAdjustHue(img, f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("hue %v: %s", f, firstDiff(img, got, want))
		}
	}
}

// TestHSVTablesExhaustive checks both halves of adjustHue's loop against the reference over
// their whole 2^24 domains, which covers every one of the 256 hue shifts: hsv(sorted(...)) on
// every RGB colour against rgb2hsv_row's float code, place(values(...)) on every (h, s, v)
// against hsv2rgb's.
func TestHSVTablesExhaustive(t *testing.T) {
	tb, ref := hsvTables(), refHSVTables()
	bad := 0
	for c := 0; c < 1<<24 && bad < 5; c++ {
		a, b, d := uint8(c>>16), uint8(c>>8), uint8(c)
		h, s, v := tb.hsv(tb.sorted(&[3]uint8{a, b, d}))
		rh, rs, rv := rgbToHSV(a, b, d)
		if h != rh || s != rs || v != rv {
			t.Errorf("hsv(%d, %d, %d) = %d, %d, %d; rgb2hsv gives %d, %d, %d", a, b, d, h, s, v, rh, rs, rv)
			bad++
		}
		r, g, bl := tb.place(a, tb.values(a, b, d))
		rr, rg, rb := ref.toRGB(a, b, d)
		if r != rr || g != rg || bl != rb {
			t.Errorf("rgb(h %d, s %d, v %d) = %d, %d, %d; hsv2rgb gives %d, %d, %d", a, b, d, r, g, bl, rr, rg, rb)
			bad++
		}
	}
}

// TestAdjustHueInPlace checks adjustHue may write over its input.
func TestAdjustHueInPlace(t *testing.T) {
	img := synthImage(67, 45, 3)
	want, err := AdjustHue(img, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	shift, err := hueShift(0.3)
	if err != nil {
		t.Fatal(err)
	}
	adjustHue(img.Pix, img.Pix, shift)
	if !bytes.Equal(img.Pix, want.Pix) {
		t.Error("in place differs from AdjustHue")
	}
}

// TestApplyJitterMatchesSteps checks ApplyJitter, which adjusts its copy in place, against the
// four Adjust functions applied one after another, for every order and with parts switched off.
func TestApplyJitterMatchesSteps(t *testing.T) {
	img := synthImage(61, 37, 9)
	orig := img.Clone()
	rng := NewRand(5, 6)
	jitter, err := NewColorJitter(0.4, 0.4, 0.4, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 200; k++ {
		p, err := jitter.Params(rng)
		if err != nil {
			t.Fatal(err)
		}
		p.HasBrightness, p.HasContrast = k%5 != 1, k%7 != 2
		p.HasSaturation, p.HasHue = k%3 != 0, k%11 != 3
		want := img
		for _, id := range p.Order {
			switch {
			case id == 0 && p.HasBrightness:
				want, err = AdjustBrightness(want, p.Brightness)
			case id == 1 && p.HasContrast:
				want, err = AdjustContrast(want, p.Contrast)
			case id == 2 && p.HasSaturation:
				want, err = AdjustSaturation(want, p.Saturation)
			case id == 3 && p.HasHue:
				want, err = AdjustHue(want, p.Hue)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := ApplyJitter(img, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("params %+v: ApplyJitter differs from the steps: %s", p, firstDiff(img, got, want))
		}
		if !bytes.Equal(img.Pix, orig.Pix) {
			t.Fatalf("params %+v: ApplyJitter modified its input", p)
		}
	}
}

// TestSaturateTable checks saturate's tabulated path (large images) against its per-pixel path
// (run row by row, each row below saturateTableMin).
func TestSaturateTable(t *testing.T) {
	img := synthImage(300, 300, 11)
	if len(img.Pix) < saturateTableMin || 3*img.W >= saturateTableMin {
		t.Fatal("image does not take both paths")
	}
	for _, f := range []float64{0.5, 0.8, 0.99999994, 1.2, 1.7, 2.7} {
		got := make([]uint8, len(img.Pix))
		saturate(got, img.Pix, f)
		want := make([]uint8, len(img.Pix))
		for y := 0; y < img.H; y++ {
			o := 3 * img.W * y
			saturate(want[o:o+3*img.W], img.Pix[o:o+3*img.W], f)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("factor %v: tabulated saturation differs from the per-pixel blend", f)
		}
	}
}

func BenchmarkAdjustHue(b *testing.B) {
	img := synthImage(224, 224, 5)
	for _, impl := range []struct {
		name string
		fn   func(*imageio.RGB, float64) (*imageio.RGB, error)
	}{{"tables", AdjustHue}, {"reference", refAdjustHue}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(img.Pix)))
			for i := 0; i < b.N; i++ {
				if _, err := impl.fn(img, 0.17); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
