package transforms

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/vision/imageio"
)

// fakeSource serves windows of a decoded image the way a region decoder may: each window is
// widened by up to margin pixels on every side (clipped to the image), and the pixels outside
// the requested window are garbage, so a step that reads outside its window is caught.
type fakeSource struct {
	img             *imageio.RGB
	windowed        bool
	margin          int
	rng             Rand
	windows, decode int
}

func (s *fakeSource) WindowSize() (int, int, bool) { return s.img.W, s.img.H, s.windowed }

func (s *fakeSource) DecodeWindow(r image.Rectangle) (*imageio.RGB, image.Point, error) {
	s.windows++
	if r.Empty() || !r.In(image.Rect(0, 0, s.img.W, s.img.H)) {
		return nil, image.Point{}, fmt.Errorf("window %v outside %dx%d", r, s.img.W, s.img.H)
	}
	m := func() int {
		if s.margin == 0 {
			return 0
		}
		return s.rng.IntN(s.margin + 1)
	}
	reg := image.Rect(max(r.Min.X-m(), 0), max(r.Min.Y-m(), 0), min(r.Max.X+m(), s.img.W), min(r.Max.Y+m(), s.img.H))
	win := imageio.NewRGB(reg.Dx(), reg.Dy())
	for y := reg.Min.Y; y < reg.Max.Y; y++ {
		for x := reg.Min.X; x < reg.Max.X; x++ {
			v := (*[3]uint8)(s.img.Pix[(y*s.img.W+x)*3:])
			if !image.Pt(x, y).In(r) {
				v = &[3]uint8{uint8(s.rng.IntN(256)), uint8(s.rng.IntN(256)), uint8(s.rng.IntN(256))}
			}
			win.Set(x-reg.Min.X, y-reg.Min.Y, v[0], v[1], v[2])
		}
	}
	return win, reg.Min, nil
}

func (s *fakeSource) Decode() (*imageio.RGB, error) {
	s.decode++
	return s.img.Clone(), nil
}

// windowPipelines are the pipelines RunSource is checked on: the reference train and val
// pipelines at the reference and at a small size, and first steps that take every branch of
// the Windowed implementations (non-square crops, RandomResizedCrop's central fallback, a
// ResizeCenterCropStep whose crop exceeds the resize, or that resizes one axis or none), plus
// a pipeline whose first step is not Windowed.
func windowPipelines(t testing.TB) map[string]*Pipeline {
	t.Helper()
	cfg := DefaultConfig()
	small := cfg
	small.CropSize, small.ResizeSize = 16, 18
	out := map[string]*Pipeline{}
	add := func(name string, p *Pipeline, err error) {
		if err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	p, err := TrainPipeline(cfg)
	add("train", p, err)
	p, err = ValPipeline(cfg)
	add("val", p, err)
	p, err = TrainPipeline(small)
	add("train16", p, err)
	p, err = ValPipeline(small)
	add("val16", p, err)
	one := func(name string, steps ...Transform) {
		p, err := NewPipeline(steps, cfg.Mean, cfg.Std)
		add(name, p, err)
	}
	one("rrc 20x30", RandomResizedCrop{Size: []int{20, 30}, Scale: cfg.Scale, Ratio: cfg.Ratio}, RandomHorizontalFlip{P: 0.5})
	one("rrc central fallback", RandomResizedCrop{Size: []int{8}, Scale: [2]float64{50, 60}, Ratio: cfg.Ratio})
	one("rrc 1x1 box on 37x23", RandomResizedCrop{Size: []int{1}, Scale: [2]float64{1.0 / (37 * 23), 1.0 / (37 * 23)}, Ratio: [2]float64{1, 1}})
	one("resize<crop", ResizeCenterCropStep{Resize: []int{40}, Crop: []int{50}})
	one("resize width only", ResizeCenterCropStep{Resize: []int{60, 50}, Crop: []int{30}})
	one("resize height only", ResizeCenterCropStep{Resize: []int{40, 100}, Crop: []int{30, 90}})
	one("no resize", ResizeCenterCropStep{Resize: []int{60, 100}, Crop: []int{20}})
	one("flip first", RandomHorizontalFlip{P: 0.5}, ResizeCenterCropStep{Resize: []int{20}, Crop: []int{16}})
	return out
}

// sameSample reports how a RunSource sample differs from Run's, or "".
func sameSample(got, want Sample) string {
	if got.H != want.H || got.W != want.W || len(got.CHW) != len(want.CHW) || !bytes.Equal(got.RGB.Pix, want.RGB.Pix) {
		return fmt.Sprintf("image %dx%d, want %dx%d (or pixels differ)", got.W, got.H, want.W, want.H)
	}
	for i := range want.CHW {
		if math.Float32bits(got.CHW[i]) != math.Float32bits(want.CHW[i]) {
			return fmt.Sprintf("tensor[%d] = %v, want %v", i, got.CHW[i], want.CHW[i])
		}
	}
	return ""
}

// TestRunSourceMatchesRun: for every pipeline, image size, seed and way of serving windows
// (exactly the window, or widened with garbage around it), RunSource gives Run's tensor and
// image bit for bit and leaves the Rand where Run leaves it; it decodes a window exactly when
// the first step is Windowed and the source can, and the whole image otherwise.
func TestRunSourceMatchesRun(t *testing.T) {
	sizes := [][2]int{{640, 480}, {480, 640}, {300, 1000}, {1000, 90}, {257, 256}, {100, 80}, {100, 60}, {37, 23}, {1, 1}}
	for name, p := range windowPipelines(t) {
		_, firstWindowed := p.Steps[0].(Windowed)
		for i, sz := range sizes {
			img := synthImage(sz[0], sz[1], uint64(i))
			for seed := range uint64(3) {
				want, werr := p.Run(img, NewRand(seed, 5), nil)
				wrng := NewRand(seed, 5)
				if _, err := p.Run(img, wrng, nil); (err == nil) != (werr == nil) {
					t.Fatal("Run is not deterministic")
				}
				for _, mode := range []struct {
					windowed bool
					margin   int
				}{{true, 0}, {true, 9}, {false, 0}} {
					src := &fakeSource{img: img, windowed: mode.windowed, margin: mode.margin, rng: NewRand(seed, 77)}
					rng := NewRand(seed, 5)
					got, err := p.RunSource(src, rng, nil)
					where := fmt.Sprintf("%s %dx%d seed %d windowed %v margin %d", name, sz[0], sz[1], seed, mode.windowed, mode.margin)
					if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
						t.Fatalf("%s: error %v, Run gives %v", where, err, werr)
					}
					if err == nil {
						if d := sameSample(got, want); d != "" {
							t.Fatalf("%s: %s", where, d)
						}
					}
					if a, b := rng.Float64(), wrng.Float64(); a != b {
						t.Fatalf("%s: the Rand is not where Run leaves it", where)
					}
					if useWindow := mode.windowed && firstWindowed; src.windows != b2i(useWindow) || src.decode != b2i(!useWindow) {
						t.Fatalf("%s: %d window and %d full decodes", where, src.windows, src.decode)
					}
					wrng = NewRand(seed, 5)
					_, _ = p.Run(img, wrng, nil)
				}
			}
		}
	}
	// Step errors are named as Run names them.
	p := windowPipelines(t)["train"]
	img := synthImage(50, 40, 1)
	_, werr := p.Run(img, nil, nil)
	_, err := p.RunSource(&fakeSource{img: img, windowed: true}, nil, nil)
	if werr == nil || err == nil || err.Error() != werr.Error() || !strings.HasPrefix(err.Error(), "step 0 (transforms.RandomResizedCrop)") {
		t.Errorf("nil Rand: RunSource error %v, Run error %v", err, werr)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bigJPEG encodes a w×h synthetic picture with Go's encoder (4:2:0, baseline).
func bigJPEG(t testing.TB, w, h int) []byte {
	img := synthImage(w, h, 11)
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			r, g, b := img.At(x, y)
			m.Set(x, y, color.RGBA{r, g, b, 255})
		}
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, m, &stdjpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRunSourceJPEG runs the pipelines through imageio.Encoded, which decodes only the regions
// libjpeg-turbo needs, on JPEGs of every subsampling (4:4:4, 4:2:2, 4:2:0, 4:4:0, baseline and
// progressive, odd sizes), a 1600×1200 one, and on the files that take the full decode (PNG,
// grey, CMYK and 4:1:1 JPEGs): every output equals Run on the full decode, bit for bit. The
// wide 517×45 file also makes RandomResizedCrop fall back to its central crop.
func TestRunSourceJPEG(t *testing.T) {
	files, err := filepath.Glob("../imageio/testdata/region/*.jpg")
	if err != nil || len(files) < 10 {
		t.Fatalf("region corpus: %d files (%v)", len(files), err)
	}
	for _, f := range []string{"gray_q85_130x70.jpg", "cmyk_adobe_q90_90x60.jpg", "rgb_97x61.png",
		"progressive444_q80_120x90.jpg", "rgb_ids420_65x47.jpg", "keep_rgb444_q90_64x48.jpg"} {
		files = append(files, "../imageio/testdata/images/images/"+f)
	}
	data := map[string][]byte{"synthetic_1600x1200.jpg": bigJPEG(t, 1600, 1200)}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data[filepath.Base(f)] = b
	}
	pipes := windowPipelines(t)
	var src imageio.Encoded // reused across everything, as a loader worker does
	centralFallbacks, windowed := 0, 0
	for name, b := range data {
		full, err := imageio.DecodeBytes(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for pname, p := range pipes {
			seeds := uint64(6)
			if full.W*full.H > 1e6 {
				seeds = 2
			}
			for seed := range seeds {
				want, werr := p.Run(full, NewRand(seed, 3), nil)
				src.Reset(name, b)
				got, err := p.RunSource(&src, NewRand(seed, 3), nil)
				if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
					t.Fatalf("%s %s seed %d: error %v, Run gives %v", name, pname, seed, err, werr)
				}
				if err == nil {
					if d := sameSample(got, want); d != "" {
						t.Fatalf("%s %s seed %d: %s", name, pname, seed, d)
					}
				}
				if _, _, ok := src.WindowSize(); ok {
					windowed++
				}
				if pname == "train" && name == "b420_wide_q80_517x45.jpg" {
					b, _ := NewRandomResizedCrop(224).Params(full.W, full.H, NewRand(seed, 3))
					if b == (CropBox{Top: 0, Left: 228, Height: 45, Width: 60}) {
						centralFallbacks++
					}
				}
			}
		}
	}
	if centralFallbacks == 0 {
		t.Error("RandomResizedCrop never fell back to the central crop")
	}
	if imageio.DefaultJPEGDecoder() == imageio.LibjpegTurbo && windowed == 0 {
		t.Error("no file was decoded in windows")
	}

	// A damaged JPEG fails with the kind of error the full decode gives, naming the file.
	b := data["b420_q90_197x139.jpg"]
	_, derr := imageio.DecodeBytes(b[:len(b)/2])
	src.Reset("cut.jpg", b[:len(b)/2])
	_, err = pipes["val"].RunSource(&src, nil, nil)
	if !errors.Is(err, imageio.ErrTruncated) || !errors.Is(derr, imageio.ErrTruncated) || !strings.Contains(err.Error(), "cut.jpg") {
		t.Errorf("cut JPEG: RunSource error %v, full decode %v", err, derr)
	}
}

// BenchmarkRunSource times the pipelines on a 2048×1536 JPEG through imageio.Encoded (region
// decoding) against DecodeBytes + Run.
func BenchmarkRunSource(b *testing.B) {
	data := bigJPEG(b, 2048, 1536)
	for _, name := range []string{"train", "val"} {
		p := windowPipelines(b)[name]
		dst := make([]float32, 3*224*224)
		b.Run(name+"/region", func(b *testing.B) {
			var src imageio.Encoded
			rng := NewRand(1, 2)
			for b.Loop() {
				src.Reset("bench.jpg", data)
				if _, err := p.RunSource(&src, rng, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/full", func(b *testing.B) {
			rng := NewRand(1, 2)
			for b.Loop() {
				img, err := imageio.DecodeBytes(data)
				if err == nil {
					_, err = p.Run(img, rng, dst)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
