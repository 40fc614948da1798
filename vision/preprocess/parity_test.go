package preprocess

import (
	"errors"
	"fmt"
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
	compareChains(t, dir, goldenInputs(t, dir))
}

// TestParityPreprocessRealPhoto is TestParityPreprocess on the real photo (skimage's retina.jpg;
// its outputs are 6 MB each, so the reference runs live). Skips only without the venv (make
// test); make parity runs it.
func TestParityPreprocessRealPhoto(t *testing.T) {
	photo := testutil.RetinaPhoto(t)
	if pyoracle.Python() == "" {
		t.Skip("the reference runs live on the real photo: needs the venv (make parity)")
	}
	dir := t.TempDir()
	if _, err := pyoracle.Run("testdata/preprocess_gen.py", "--out", dir, "--photo", photo); err != nil {
		t.Fatal(err)
	}
	img, err := imageio.Decode(photo)
	if err != nil {
		t.Fatal(err)
	}
	compareChains(t, dir, map[string]*imageio.RGB{"retina": img})
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
		if name == "dark" || name == "blurred" { // the quality gate's inputs only
			continue
		}
		in[name] = img
	}
	return in
}
