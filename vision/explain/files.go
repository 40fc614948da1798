package explain

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/vision/imageio"
)

// Write saves r's heatmap as dir/<stem>_cam.npy (float32 [H, W], the values before any
// colouring) and its Overlay on img (the picture the model saw) as dir/<stem>_overlay.png,
// and returns the two paths.
func Write(dir, stem string, img *imageio.RGB, r Result) (camPath, overlayPath string, err error) {
	camPath = filepath.Join(dir, stem+"_cam.npy")
	overlayPath = filepath.Join(dir, stem+"_overlay.png")
	if err := npy.WriteFile(camPath, r.Data, []int{r.H, r.W}); err != nil {
		return "", "", err
	}
	ov, err := Overlay(img, r.Map)
	if err != nil {
		return "", "", err
	}
	if err := WritePNG(overlayPath, ov); err != nil {
		return "", "", fmt.Errorf("explain: writing %s: %w", overlayPath, err)
	}
	return camPath, overlayPath, nil
}

// Stems gives each image path a distinct file stem for Write: its base name without the
// extension, with _2, _3, ... appended to a name seen before (photos/a.jpg, other/a.png →
// a, a_2).
func Stems(paths []string) []string {
	seen := map[string]bool{}
	out := make([]string, len(paths))
	for i, p := range paths {
		base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		stem := base
		for k := 2; seen[stem]; k++ {
			stem = fmt.Sprintf("%s_%d", base, k)
		}
		seen[stem] = true
		out[i] = stem
	}
	return out
}
