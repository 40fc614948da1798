package preprocess

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/testutil"
	"github.com/drgrade/drgrade/vision/imageio"
)

type genManifest struct {
	Inputs  []string
	Chains  []string
	NoField []string `json:"no_field"`
}

// tolerance: each value within 1/255 of the Python reference (the bound).
const tolerance = 1

// compareChains runs every chain of the manifest on every input and compares with the
// reference's .npy, and checks the inputs the reference found no field in fail with ErrNoField.
func compareChains(t *testing.T, dir string, inputs map[string]*imageio.RGB) {
	var man genManifest
	pyoracle.ReadJSON(t, dir, "manifest.json", &man)
	if len(man.Chains) != 4 {
		t.Fatalf("manifest has chains %v, want 4", man.Chains)
	}
	for name, img := range inputs {
		for _, cname := range man.Chains {
			t.Run(name+"."+cname, func(t *testing.T) {
				chain, err := Parse(strings.ReplaceAll(cname, "+", ","))
				if err != nil {
					t.Fatal(err)
				}
				got, err := chain.Run(img)
				if slices.Contains(man.NoField, name+"."+cname) {
					if !errors.Is(err, ErrNoField) {
						t.Fatalf("the reference finds no field; got err %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				want, err := npy.ReadFile(filepath.Join(dir, name+"."+cname+".npy"))
				if err != nil {
					t.Fatal(err)
				}
				if len(want.Shape) != 3 || want.Shape[0] != got.H || want.Shape[1] != got.W {
					t.Fatalf("size %dx%d, reference shape %v", got.W, got.H, want.Shape)
				}
				maxd, differ := 0, 0
				for i, v := range got.Pix {
					d := int(v) - int(want.I64[i])
					d = max(d, -d)
					if d > 0 {
						differ++
					}
					maxd = max(maxd, d)
				}
				t.Logf("%dx%d: max |Δ| %d, %d of %d values differ", got.W, got.H, maxd, differ, len(got.Pix))
				if maxd > tolerance {
					t.Errorf("max |Δ| %d from the reference (tolerance %d); %d values differ", maxd, tolerance, differ)
				}
			})
		}
	}
}

// TestParityPreprocess compares crop, graham, clahe and crop+graham with the Python reference
// (testdata/preprocess_gen.py: OpenCV 4.11, NumPy) on small synthetic fundus pictures (the
// committed goldens), within 1/255 per value; a scene without a dark border has no field.
func TestParityPreprocess(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/golden", "testdata/preprocess_gen.py")
	in := goldenInputs(t, dir)
	delete(in, "dark") // the quality gate's inputs only
	delete(in, "blurred")
	compareChains(t, dir, in)
}

// TestParityPreprocessRealPhoto is TestParityPreprocess and TestParityQuality on the real photo
// (skimage's retina.jpg; outputs of 6 MB each, so the reference runs live), its darkened and
// blurred versions and two pictures that are not fundus photographs (skimage's chelsea.png and
// coffee.png). Skips only without the venv (make test); make parity runs it.
func TestParityPreprocessRealPhoto(t *testing.T) {
	photo := testutil.RetinaPhoto(t)
	others := []string{testutil.SkimagePicture(t, "chelsea.png"), testutil.SkimagePicture(t, "coffee.png")}
	if pyoracle.Python() == "" {
		t.Skip("the reference runs live on the real photo: needs the venv (make parity)")
	}
	dir := t.TempDir()
	if _, err := pyoracle.Run("testdata/preprocess_gen.py", append([]string{"--out", dir, "--photo", photo, "--other"}, others...)...); err != nil {
		t.Fatal(err)
	}
	decode := func(p string) *imageio.RGB {
		img, err := imageio.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	img := decode(photo)
	compareChains(t, dir, map[string]*imageio.RGB{"retina": img})
	compareQuality(t, dir, map[string]*imageio.RGB{
		"retina": img, "retina_dark": decode(filepath.Join(dir, "retina_dark.png")), "retina_blurred": decode(filepath.Join(dir, "retina_blurred.png")),
		"chelsea": decode(others[0]), "coffee": decode(others[1]),
	}, map[string]string{"retina": VerdictGood, "retina_dark": VerdictDark, "retina_blurred": VerdictBlurry, "chelsea": VerdictNoField, "coffee": VerdictNoField})
}

// TestParityQuality checks the quality gate's measurements against the reference (field and
// box exact; brightness and the variance of cv2.Laplacian within 1e-9 relative) and its
// verdicts with the default thresholds on the synthetic goldens.
func TestParityQuality(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/golden", "testdata/preprocess_gen.py")
	in := goldenInputs(t, dir)
	compareQuality(t, dir, in, map[string]string{"field": VerdictGood, "dark": VerdictDark, "blurred": VerdictBlurry, "scene": VerdictNoField})
}

func compareQuality(t *testing.T, dir string, inputs map[string]*imageio.RGB, verdicts map[string]string) {
	for name, img := range inputs {
		t.Run("quality/"+name, func(t *testing.T) {
			var want struct {
				LaplacianVar float64 `json:"laplacian_var"`
				Radius       float64
				Field        bool
				Box          [4]int
				Brightness   float64
			}
			pyoracle.ReadJSON(t, dir, name+".quality.json", &want)
			q := Measure(img, DefaultQuality)
			t.Logf("%s: field %v %v, brightness %.3f, sharpness %.4f: %s", name, q.Field, q.Box, q.Brightness, q.Sharpness, q.Verdict)
			near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
			if !near(q.Sharpness, want.LaplacianVar) {
				t.Errorf("sharpness %v, OpenCV %v", q.Sharpness, want.LaplacianVar)
			}
			if r := Radius(img); r != want.Radius {
				t.Errorf("radius %v, reference %v", r, want.Radius)
			}
			if q.Field != want.Field {
				t.Fatalf("field %v, reference %v", q.Field, want.Field)
			}
			if q.Field {
				b := want.Box
				if q.Box != image.Rect(b[0], b[1], b[0]+b[2], b[1]+b[3]) || !near(q.Brightness, want.Brightness) {
					t.Errorf("box %v brightness %v, reference %v %v", q.Box, q.Brightness, b, want.Brightness)
				}
			}
			if q.Verdict != verdicts[name] {
				t.Errorf("verdict %s, want %s", q.Verdict, verdicts[name])
			}
		})
	}
}

// goldenInputs decodes the generator's input pictures (PNG: Pillow's pixels exactly).
func goldenInputs(t *testing.T, dir string) map[string]*imageio.RGB {
	t.Helper()
	var man genManifest
	pyoracle.ReadJSON(t, dir, "manifest.json", &man)
	in := map[string]*imageio.RGB{}
	for _, name := range man.Inputs {
		p := filepath.Join(dir, name+".png")
		if _, err := os.Stat(p); err != nil {
			t.Fatal(fmt.Errorf("input %s: %w", name, err))
		}
		img, err := imageio.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		in[name] = img
	}
	return in
}
