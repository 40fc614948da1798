package transforms

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/vision/imageio"
)

// goldenArgs makes the live run (DRGRADE_PARITY=1) store every output in full, so the measured
// differences cover all cases; committed goldens keep only the small outputs plus digests.
func goldenArgs() []string {
	if pyoracle.Mode() == "1" {
		return []string{"--full"}
	}
	return nil
}

type caseParams struct {
	Size       []int      `json:"size"`
	Top        int        `json:"top"`
	Left       int        `json:"left"`
	Height     int        `json:"height"`
	Width      int        `json:"width"`
	Angle      float64    `json:"angle"`
	Factor     float64    `json:"factor"`
	Resize     int        `json:"resize"`
	Crop       int        `json:"crop"`
	Mean       [3]float32 `json:"mean"`
	Std        [3]float32 `json:"std"`
	Flip       bool       `json:"flip"`
	Order      []int      `json:"order"`
	Brightness float64    `json:"brightness"`
	Contrast   float64    `json:"contrast"`
	Saturation float64    `json:"saturation"`
	Hue        float64    `json:"hue"`
}

type parityCase struct {
	ID     int        `json:"id"`
	Image  string     `json:"image"`
	Op     string     `json:"op"`
	Params caseParams `json:"params"`
	Shape  []int      `json:"shape"`
	Dtype  string     `json:"dtype"`
	SHA256 string     `json:"sha256"`
	Sums   []float64  `json:"sums"`
	File   *string    `json:"file"`
}

type parityImage struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// loadPNG decodes an 8-bit opaque PNG with the standard library.
func loadPNG(t testing.TB, path string) *imageio.RGB {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := m.Bounds()
	out := imageio.NewRGB(b.Dx(), b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			switch p := m.(type) {
			case *image.RGBA:
				i := p.PixOffset(x+b.Min.X, y+b.Min.Y)
				out.Set(x, y, p.Pix[i], p.Pix[i+1], p.Pix[i+2])
			case *image.NRGBA:
				i := p.PixOffset(x+b.Min.X, y+b.Min.Y)
				out.Set(x, y, p.Pix[i], p.Pix[i+1], p.Pix[i+2])
			default:
				r, g, bb, _ := m.At(x+b.Min.X, y+b.Min.Y).RGBA()
				out.Set(x, y, uint8(r>>8), uint8(g>>8), uint8(bb>>8))
			}
		}
	}
	return out
}

// runCase applies the Go counterpart of one generator op. It returns uint8 HWC bytes or, for
// tensor ops, float32 CHW values.
func runCase(c parityCase, img *imageio.RGB) (*imageio.RGB, []float32, error) {
	p := c.Params
	var out *imageio.RGB
	var err error
	switch c.Op {
	case "resize":
		out, err = Resize(img, p.Size)
	case "center_crop":
		out, err = CenterCrop(img, p.Size)
	case "crop":
		out, err = Crop(img, p.Top, p.Left, p.Height, p.Width)
	case "resized_crop":
		out, err = ResizedCrop(img, p.Top, p.Left, p.Height, p.Width, p.Size)
	case "hflip":
		out, err = HorizontalFlip(img)
	case "rotate":
		out, err = Rotate(img, p.Angle, [3]uint8{})
	case "brightness":
		out, err = AdjustBrightness(img, p.Factor)
	case "contrast":
		out, err = AdjustContrast(img, p.Factor)
	case "saturation":
		out, err = AdjustSaturation(img, p.Factor)
	case "hue":
		out, err = AdjustHue(img, p.Factor)
	case "val", "val_tensor":
		cfg := DefaultConfig()
		cfg.ResizeSize, cfg.CropSize, cfg.Mean, cfg.Std = p.Resize, p.Crop, p.Mean, p.Std
		if c.Op == "val" {
			cfg.Mean, cfg.Std = ImageNetMean, ImageNetStd
		}
		pl, perr := ValPipeline(cfg)
		if perr != nil {
			return nil, nil, perr
		}
		s, rerr := pl.Run(img, nil, nil)
		if rerr != nil {
			return nil, nil, rerr
		}
		if c.Op == "val_tensor" {
			return nil, s.CHW, nil
		}
		out = s.RGB
	case "train":
		out, err = ResizedCrop(img, p.Top, p.Left, p.Height, p.Width, p.Size)
		if err == nil && p.Flip {
			out, err = HorizontalFlip(out)
		}
		if err == nil {
			out, err = Rotate(out, p.Angle, [3]uint8{})
		}
		if err == nil {
			jp := JitterParams{Brightness: p.Brightness, Contrast: p.Contrast, Saturation: p.Saturation, Hue: p.Hue,
				HasBrightness: true, HasContrast: true, HasSaturation: true, HasHue: true}
			copy(jp.Order[:], p.Order)
			out, err = ApplyJitter(out, jp)
		}
	default:
		return nil, nil, fmt.Errorf("unknown op %q", c.Op)
	}
	return out, nil, err
}

// opStats accumulates the measured agreement of one op over all images.
type opStats struct {
	cases, compared, hashed int
	maxDiff                 float64
	maxFracPixels           float64
}

func TestParityTransforms(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/transforms", "testdata/transforms_gen.py", goldenArgs()...)
	var spec struct {
		Images []parityImage `json:"images"`
		Cases  []parityCase  `json:"cases"`
	}
	pyoracle.ReadJSON(t, dir, "cases.json", &spec)
	if len(spec.Images) < 20 || len(spec.Cases) == 0 {
		t.Fatalf("golden set too small: %d images, %d cases", len(spec.Images), len(spec.Cases))
	}
	imgs := map[string]*imageio.RGB{}
	for _, im := range spec.Images {
		m := loadPNG(t, filepath.Join(dir, im.File))
		if m.W != im.Width || m.H != im.Height {
			t.Fatalf("%s decoded as %dx%d, want %dx%d", im.File, m.W, m.H, im.Width, im.Height)
		}
		imgs[im.Name] = m
	}
	stats := map[string]*opStats{}
	for _, c := range spec.Cases {
		st := stats[c.Op]
		if st == nil {
			st = &opStats{}
			stats[c.Op] = st
		}
		st.cases++
		name := fmt.Sprintf("case %d %s %s %+v", c.ID, c.Image, c.Op, c.Params)
		img := imgs[c.Image]
		if img == nil {
			t.Fatalf("%s: unknown image", name)
		}
		out, tensor, err := runCase(c, img)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if tensor != nil {
			checkTensorCase(t, dir, name, c, tensor, st)
			continue
		}
		checkImageCase(t, dir, name, c, out, st)
	}
	ops := make([]string, 0, len(stats))
	for op := range stats {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		s := stats[op]
		t.Logf("%-13s cases=%3d full=%3d digest=%3d max|diff|=%g max differing pixels=%.4f%%",
			op, s.cases, s.compared, s.hashed, s.maxDiff, 100*s.maxFracPixels)
	}
}

func checkImageCase(t *testing.T, dir, name string, c parityCase, out *imageio.RGB, st *opStats) {
	t.Helper()
	if len(c.Shape) != 3 || out.H != c.Shape[0] || out.W != c.Shape[1] || c.Shape[2] != 3 {
		t.Errorf("%s: Go output %dx%d, reference shape %v", name, out.W, out.H, c.Shape)
		return
	}
	if c.File == nil {
		// Digest-only golden: exact equality or nothing. DRGRADE_PARITY=1 stores every
		// output in full and measures the difference instead.
		st.hashed++
		sum := sha256.Sum256(out.Pix)
		if hex.EncodeToString(sum[:]) != c.SHA256 {
			var sums [3]float64
			for i, v := range out.Pix {
				sums[i%3] += float64(v)
			}
			t.Errorf("%s: output differs from the reference digest (channel sums Go %v, ref %v)", name, sums, c.Sums)
		}
		return
	}
	st.compared++
	ref, err := npy.ReadFile(filepath.Join(dir, *c.File))
	if err != nil {
		t.Fatal(err)
	}
	maxDiff, diffPix := 0, 0
	edgeOnly := true
	for i := 0; i < len(out.Pix); i += 3 {
		d := 0
		for k := 0; k < 3; k++ {
			if v := absInt(int(out.Pix[i+k]) - int(ref.I64[i+k])); v > d {
				d = v
			}
		}
		if d > 0 {
			diffPix++
			if !nearFill(ref.I64, out.W, out.H, i/3) {
				edgeOnly = false
			}
		}
		maxDiff = max(maxDiff, d)
	}
	frac := float64(diffPix) / float64(max(1, out.W*out.H))
	st.maxDiff = math.Max(st.maxDiff, float64(maxDiff))
	st.maxFracPixels = math.Max(st.maxFracPixels, frac)
	if c.Op == "rotate" || c.Op == "train" {
		// Brief: rotation may differ in at most 1% of the pixels, and only where a source
		// coordinate lands on the boundary of the rotated area (next to fill pixels).
		if frac > 0.01 || !edgeOnly {
			t.Errorf("%s: %d pixels (%.3f%%) differ, edge-only=%v", name, diffPix, 100*frac, edgeOnly)
		}
		return
	}
	// Brief: at most 1/255 per value before Normalize (the implementation aims at exact).
	if maxDiff > 1 {
		t.Errorf("%s: max abs diff %d > 1", name, maxDiff)
	}
}

// nearFill reports whether pixel p of the reference touches (8-neighbourhood, itself
// included) a black fill pixel or the image border, i.e. lies on the edge of a rotated area.
func nearFill(ref []int64, w, h, p int) bool {
	x0, y0 := p%w, p/w
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			x, y := x0+dx, y0+dy
			if x < 0 || y < 0 || x >= w || y >= h {
				return true
			}
			i := 3 * (y*w + x)
			if ref[i] == 0 && ref[i+1] == 0 && ref[i+2] == 0 {
				return true
			}
		}
	}
	return false
}

func checkTensorCase(t *testing.T, dir, name string, c parityCase, got []float32, st *opStats) {
	t.Helper()
	if len(c.Shape) != 3 || len(got) != c.Shape[0]*c.Shape[1]*c.Shape[2] {
		t.Errorf("%s: Go tensor has %d values, reference shape %v", name, len(got), c.Shape)
		return
	}
	if c.File == nil {
		st.hashed++
		b := make([]byte, 4*len(got))
		for i, v := range got {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != c.SHA256 {
			t.Errorf("%s: tensor differs from the reference digest", name)
		}
		return
	}
	st.compared++
	ref, err := npy.ReadFile(filepath.Join(dir, *c.File))
	if err != nil {
		t.Fatal(err)
	}
	maxDiff := 0.0
	for i, v := range got {
		maxDiff = math.Max(maxDiff, math.Abs(float64(v)-float64(ref.F32[i])))
	}
	st.maxDiff = math.Max(st.maxDiff, maxDiff)
	// The fused table reproduces torch's float32 div/sub/div step by step, so it should be
	// bit-exact; allow one float32 rounding step at the largest magnitude (|x| < 3) anyway.
	if maxDiff > 3*math.Pow(2, -23) {
		t.Errorf("%s: max abs diff %g", name, maxDiff)
	}
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
