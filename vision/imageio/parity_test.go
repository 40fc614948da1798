package imageio

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
)

type manifest struct {
	Images []struct {
		File        string
		Format      string
		PilMode     string `json:"pil_mode"`
		Width       int
		Height      int
		Lossless    bool
		Sha256      string
		ChannelSums [3]int64 `json:"channel_sums"`
		Goldens     []struct {
			File       string
			X, Y, W, H int
		}
	}
	Bad []struct {
		File     string
		PilError string `json:"pil_error"`
	}
}

func loadGoldens(t *testing.T) (string, manifest) {
	t.Helper()
	dir := pyoracle.Golden(t, "testdata/images", "testdata/images_gen.py")
	var m manifest
	pyoracle.ReadJSON(t, dir, "manifest.json", &m)
	if len(m.Images) < 20 {
		t.Fatalf("manifest lists %d images, want at least 20", len(m.Images))
	}
	return dir, m
}

// diffStats compares a decode with Pillow's on the golden regions.
type diffStats struct {
	n, differ int
	max       int
	sum       int64
}

func (s *diffStats) add(got, want uint8) {
	d := int(got) - int(want)
	if d < 0 {
		d = -d
	}
	s.n++
	if d > 0 {
		s.differ++
		s.sum += int64(d)
	}
	s.max = max(s.max, d)
}

// merge adds o's counts to s.
func (s *diffStats) merge(o diffStats) {
	s.n += o.n
	s.differ += o.differ
	s.sum += o.sum
	s.max = max(s.max, o.max)
}

// mean is the mean |Δ| over all compared values.
func (s diffStats) mean() float64 { return float64(s.sum) / float64(max(s.n, 1)) }

func (s diffStats) String() string {
	return fmt.Sprintf("max |Δ| %d, mean |Δ| %.4f, %.2f%% of values differ (%d values)",
		s.max, s.mean(), 100*float64(s.differ)/float64(max(s.n, 1)), s.n)
}

// compareRegions checks m against every golden array of one image.
func compareRegions(t *testing.T, dir string, m *RGB, goldens []struct {
	File       string
	X, Y, W, H int
}) diffStats {
	t.Helper()
	var st diffStats
	for _, g := range goldens {
		a, err := npy.ReadFile(filepath.Join(dir, "pil", g.File))
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Shape) != 3 || a.Shape[0] != g.H || a.Shape[1] != g.W || a.Shape[2] != 3 {
			t.Fatalf("%s: shape %v, want [%d %d 3]", g.File, a.Shape, g.H, g.W)
		}
		for y := range g.H {
			for x := range g.W {
				for c := range 3 {
					st.add(m.Pix[3*((g.Y+y)*m.W+g.X+x)+c], uint8(a.I64[3*(y*g.W+x)+c]))
				}
			}
		}
	}
	return st
}

// TestParityImages decodes every image of the corpus with every JPEG decoder compiled in and
// compares with Pillow's Image.open(p).convert('RGB').
//
// Tolerance: none for every format and the LibjpegTurbo decoder. Lossless formats are exact by
// definition; JPEG because libjpeg-turbo is Pillow's own decoder, run with Pillow's settings;
// lossy WebP because webp.go is libwebp's upsampler. The SHA-256 of the whole decode covers
// the large images, whose goldens are crops.
//
// The PureGo decoder's JPEGs are held to pureGoBounds, the measured gap (see there).
//
// The generator runs once (live mode) for all groups.
func TestParityImages(t *testing.T) {
	dir, man := loadGoldens(t)
	for _, jd := range JPEGDecoders() {
		t.Run("decode/"+string(jd), func(t *testing.T) { testDecodeCorpus(t, dir, man, jd) })
		t.Run("bad/"+string(jd), func(t *testing.T) { testBadFiles(t, dir, man, jd) })
	}
	t.Run("jpeg_stdlib_plain", func(t *testing.T) { testJPEGStdlibPlain(t, dir, man) })
}

// pureGoBounds hold the PureGo decoder's JPEGs to the gap measured over the corpus, by Pillow
// mode: the largest |Δ| of any channel value and the largest per-image mean |Δ| (Pillow
// 13.0.0 with its libjpeg-turbo, Go 1.26; `go test -run ParityImages/decode/pure-go -v` prints
// them per image and in total). Measured: colour max 3, per-image mean at most 0.047 (all
// colour JPEGs together: mean 0.028, 2.4% of values differ); greyscale max 1, mean 0.017;
// CMYK max 1, mean 0.013. The gap is Go's IDCT, which is not libjpeg's islow. The bounds are
// those maxima (means rounded up), so a toolchain change that widens the gap fails here.
var pureGoBounds = map[string]struct {
	max  int     // largest |Δ|
	mean float64 // largest mean |Δ| of one image
}{
	"RGB":  {3, 0.05},
	"L":    {1, 0.02},
	"CMYK": {1, 0.015},
}

func testDecodeCorpus(t *testing.T, dir string, man manifest, jd JPEGDecoder) {
	dec := Decoder{JPEG: jd}
	inexact := jd == PureGo
	totals := map[string]*diffStats{}
	for _, im := range man.Images {
		t.Run(im.File, func(t *testing.T) {
			m, err := dec.Decode(filepath.Join(dir, "images", im.File))
			if err != nil {
				t.Fatal(err)
			}
			if m.W != im.Width || m.H != im.Height {
				t.Fatalf("size %dx%d, Pillow %dx%d", m.W, m.H, im.Width, im.Height)
			}
			st := compareRegions(t, dir, m, im.Goldens)
			if inexact && im.Format == "JPEG" {
				b, ok := pureGoBounds[im.PilMode]
				if !ok {
					t.Fatalf("no PureGo bound for JPEG mode %s", im.PilMode)
				}
				t.Logf("mode %s: %v", im.PilMode, st)
				if totals[im.PilMode] == nil {
					totals[im.PilMode] = &diffStats{}
				}
				totals[im.PilMode].merge(st)
				if st.max > b.max || st.mean() > b.mean {
					t.Errorf("PureGo differs from Pillow by more than max %d, mean %g: %v", b.max, b.mean, st)
				}
				return
			}
			if st.max != 0 {
				t.Errorf("%s mode %s differs from Pillow: %v", im.Format, im.PilMode, st)
			}
			sum := sha256.Sum256(m.Pix)
			if got := hex.EncodeToString(sum[:]); got != im.Sha256 {
				t.Errorf("SHA-256 of the full decode %s, Pillow's %s", got, im.Sha256)
			}
			var sums [3]int64
			for i, v := range m.Pix {
				sums[i%3] += int64(v)
			}
			if sums != im.ChannelSums {
				t.Errorf("channel sums %v, Pillow's %v", sums, im.ChannelSums)
			}
		})
	}
	for mode, st := range totals {
		t.Logf("all %s JPEGs: %v", mode, st)
	}
}

// testBadFiles checks the broken files: where Pillow raises we must fail too, with an
// error that names the file and says what is wrong. The two files Pillow accepts are the
// documented cases: a PNG missing only IEND decodes (like Pillow), a JPEG with corrupt
// entropy-coded data is refused (Pillow decodes it with a libjpeg warning).
func testBadFiles(t *testing.T, dir string, man manifest, jd JPEGDecoder) {
	kinds := map[string]error{
		"zero_bytes.jpg":        ErrEmpty,
		"text_named.jpg":        ErrUnknownFormat,
		"unknown_format.img":    ErrUnknownFormat,
		"gif_unsupported.gif":   ErrUnknownFormat,
		"truncated_half.jpg":    ErrTruncated,
		"truncated_header.jpg":  ErrTruncated,
		"truncated_no_eoi.jpg":  ErrTruncated,
		"truncated_half.png":    ErrTruncated,
		"truncated_no_iend.png": nil,
		"truncated.webp":        ErrTruncated,
		"truncated.bmp":         ErrTruncated,
		"truncated.tif":         ErrTruncated,
		"corrupt_sof.jpg":       ErrCorrupt,
		"corrupt_entropy.jpg":   ErrCorrupt,
		"corrupt_png_crc.png":   ErrCorrupt,
		"header_only.png":       ErrTruncated,
	}
	if len(man.Bad) != len(kinds) {
		t.Fatalf("manifest has %d bad files, the test knows %d", len(man.Bad), len(kinds))
	}
	for _, b := range man.Bad {
		t.Run(b.File, func(t *testing.T) {
			want, ok := kinds[b.File]
			if !ok {
				t.Fatalf("no expectation for %s", b.File)
			}
			path := filepath.Join(dir, "bad", b.File)
			m, err := Decoder{JPEG: jd}.Decode(path)
			if want == nil {
				if b.PilError != "" || err != nil {
					t.Fatalf("Pillow error %q, ours %v; both should decode", b.PilError, err)
				}
				ref, err := Decode(filepath.Join(dir, "images", "rgb_97x61.png"))
				if err != nil || !bytes.Equal(m.Pix, ref.Pix) {
					t.Errorf("PNG without IEND decodes differently from the complete file (%v)", err)
				}
				return
			}
			if b.PilError == "" && b.File != "corrupt_entropy.jpg" {
				t.Errorf("Pillow decodes %s but we expect an error", b.File)
			}
			if err == nil {
				t.Fatalf("decoded %dx%d; Pillow: %s", m.W, m.H, b.PilError)
			}
			if !errors.Is(err, want) {
				t.Errorf("error %q is not %v", err, want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// testJPEGStdlibPlain measures how far plain image/jpeg (its own YCbCr→RGB with
// nearest-neighbour chroma, what At() gives) is from Pillow on the corpus's YCbCr JPEGs: the
// reason the PureGo decoder finishes image/jpeg's planes with libjpeg's upsampling and colour
// tables. The bound is the measured maximum (Pillow 13.0.0, Go 1.26); `go test -run
// ParityImages/jpeg_stdlib_plain -v` prints the numbers.
func testJPEGStdlibPlain(t *testing.T, dir string, man manifest) {
	const maxPlain = 57 // measured maximum |Δ| over the corpus
	var total diffStats
	for _, im := range man.Images {
		if im.Format != "JPEG" || im.PilMode != "RGB" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "images", im.File))
		if err != nil {
			t.Fatal(err)
		}
		src, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := src.(*image.YCbCr); !ok {
			continue // RGB-coded JPEGs: no YCbCr conversion to compare
		}
		plain := NewRGB(im.Width, im.Height)
		for y := range im.Height {
			for x := range im.Width {
				r, g, b, _ := src.At(x, y).RGBA()
				plain.Set(x, y, uint8(r>>8), uint8(g>>8), uint8(b>>8))
			}
		}
		st := compareRegions(t, dir, plain, im.Goldens)
		t.Logf("%-34s %v", im.File, st)
		total.merge(st)
	}
	t.Logf("all YCbCr JPEGs, plain image/jpeg: %v", total)
	if total.n == 0 || total.max > maxPlain {
		t.Errorf("plain image/jpeg gap changed: %v (bound %d)", total, maxPlain)
	}
}
