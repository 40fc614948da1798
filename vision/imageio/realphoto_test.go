package imageio

import (
	"crypto/sha256"
	"encoding/hex"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/testutil"
)

// realEntry is one file of testdata/realjpeg_gen.py's manifest.
type realEntry struct {
	File                string
	Width, Height       int
	Sha256              string
	ChannelSums         [3]int64 `json:"channel_sums"`
	ExifOrientation     int      `json:"exif_orientation"`
	RestartMarkers      int      `json:"restart_markers"`
	Subsampling         string
	Progressive         bool
	RestartMarkerBlocks int `json:"restart_marker_blocks"`
	RestartMarkerRows   int `json:"restart_marker_rows"`
}

type realManifest struct {
	Photo  realEntry
	Shapes []realEntry
}

func channelSums(m *RGB) [3]int64 {
	var s [3]int64
	for i, v := range m.Pix {
		s[i%3] += int64(v)
	}
	return s
}

// TestParityRealPhoto decodes the real fundus photo (skimage/data/retina.jpg, fetched by `make
// retina`) and compares with Pillow's convert('RGB'): bit-exact (SHA-256 of the whole decode)
// with LibjpegTurbo; PureGo's channel means within pureGoBounds' per-image mean.
func TestParityRealPhoto(t *testing.T) {
	photo := testutil.RetinaPhoto(t)
	dir := pyoracle.Golden(t, "testdata/realjpeg", "testdata/realjpeg_gen.py", "--photo", photo)
	var man realManifest
	pyoracle.ReadJSON(t, dir, "manifest.json", &man)
	for _, jd := range JPEGDecoders() {
		t.Run(string(jd), func(t *testing.T) {
			m, err := Decoder{JPEG: jd}.Decode(photo)
			if err != nil {
				t.Fatal(err)
			}
			if m.W != man.Photo.Width || m.H != man.Photo.Height {
				t.Fatalf("size %dx%d, Pillow %dx%d", m.W, m.H, man.Photo.Width, man.Photo.Height)
			}
			sums := channelSums(m)
			if jd == PureGo {
				for c := range 3 {
					d := float64(sums[c]-man.Photo.ChannelSums[c]) / float64(m.W*m.H)
					if d < -pureGoBounds["RGB"].mean || d > pureGoBounds["RGB"].mean {
						t.Errorf("channel %d mean differs from Pillow's by %.4f (bound %g)", c, d, pureGoBounds["RGB"].mean)
					}
				}
				return
			}
			sum := sha256.Sum256(m.Pix)
			if got := hex.EncodeToString(sum[:]); got != man.Photo.Sha256 || sums != man.Photo.ChannelSums {
				t.Errorf("decode differs from Pillow's: SHA-256 %s, sums %v; Pillow's %s, %v", got, sums, man.Photo.Sha256, man.Photo.ChannelSums)
			}
		})
	}
}

// TestParityRealJPEGShapes decodes the JPEG shapes fundus cameras write, made with Pillow from
// the real photo at test time (testdata/realjpeg_gen.py --shapes: EXIF orientation 6, restart
// markers, 4:2:2 and 4:4:4 subsampling, progressive, a 12-megapixel frame; 40 MB, never
// committed), and compares every pixel with Pillow's convert('RGB'): exact with LibjpegTurbo,
// pureGoBounds with PureGo. The EXIF orientation is ignored, as Pillow's convert('RGB') does
// (no ImageOps.exif_transpose in the script). Window decodes (what the loader reads) must equal
// the full decode. It needs Pillow, so it skips when the venv is absent (make test);
// make parity runs it.
func TestParityRealJPEGShapes(t *testing.T) {
	photo := testutil.RetinaPhoto(t)
	if pyoracle.Python() == "" {
		t.Skip("the shapes are written by Pillow at test time: needs the venv (make parity)")
	}
	dir := t.TempDir()
	if _, err := pyoracle.Run("testdata/realjpeg_gen.py", "--out", dir, "--photo", photo, "--shapes"); err != nil {
		t.Fatal(err)
	}
	var man realManifest
	pyoracle.ReadJSON(t, dir, "manifest.json", &man)
	if len(man.Shapes) != 7 {
		t.Fatalf("%d shapes, want 7", len(man.Shapes))
	}
	for _, s := range man.Shapes {
		t.Run(s.File, func(t *testing.T) {
			path := filepath.Join(dir, s.File)
			want, err := os.ReadFile(path[:len(path)-len(".jpg")] + ".rgb")
			if err != nil {
				t.Fatal(err)
			}
			if (s.RestartMarkerBlocks > 0 || s.RestartMarkerRows > 0) && s.RestartMarkers == 0 {
				t.Fatalf("%s has no restart markers", s.File)
			}
			if s.ExifOrientation != 0 && !(s.Width > s.Height) {
				t.Fatalf("%s: want the stored (unrotated) landscape size, Pillow says %dx%d", s.File, s.Width, s.Height)
			}
			for _, jd := range JPEGDecoders() {
				m, err := Decoder{JPEG: jd}.Decode(path)
				if err != nil {
					t.Fatalf("%s: %v", jd, err)
				}
				if m.W != s.Width || m.H != s.Height {
					t.Fatalf("%s: size %dx%d, Pillow %dx%d", jd, m.W, m.H, s.Width, s.Height)
				}
				var st diffStats
				for i := range m.Pix {
					st.add(m.Pix[i], want[i])
				}
				if jd == PureGo {
					b := pureGoBounds["RGB"]
					if st.max > b.max || st.mean() > b.mean {
						t.Errorf("%s differs from Pillow by more than max %d, mean %g: %v", jd, b.max, b.mean, st)
					}
					continue
				}
				if st.max != 0 {
					t.Errorf("%s differs from Pillow: %v", jd, st)
				}
			}
			if jd := DefaultJPEGDecoder(); jd == LibjpegTurbo {
				var e Encoded
				if err := e.ReadFile(path); err != nil {
					t.Fatal(err)
				}
				r := image.Rect(s.Width/3, s.Height/4, s.Width/3+224, s.Height/4+224)
				win, at, err := e.DecodeWindow(r)
				if err != nil {
					t.Fatal(err)
				}
				for y := r.Min.Y; y < r.Max.Y; y++ {
					for x := r.Min.X; x < r.Max.X; x++ {
						for c := range 3 {
							if g, w := win.Pix[3*((y-at.Y)*win.W+x-at.X)+c], want[3*(y*s.Width+x)+c]; g != w {
								t.Fatalf("window %v at (%d,%d,%d): %d, Pillow %d", r, x, y, c, g, w)
							}
						}
					}
				}
			}
		})
	}
}
