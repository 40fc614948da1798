package serve

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drgrade/drgrade/internal/testutil"
)

// TestPage drives the page at / in headless Chromium: choose a real fundus photograph
// (skimage's retina.jpg) and a second picture in the file input, and wait for both grades in
// the session table, the probability bars, the Grad-CAM overlay and the CSV; the screenshot
// must not be blank. DRGRADE_SERVE_SCREENSHOT=file.png keeps it to look at;
// DRGRADE_SERVE_WEIGHTS (a shufflenet_small checkpoint) and DRGRADE_SERVE_IMG_SIZE grade with a
// trained model instead of random weights (scripts/serve-screenshot.sh, for docs/img).
func TestPage(t *testing.T) {
	photo := testutil.RetinaPhoto(t)
	pcfg := predictConfig(t)
	if w := os.Getenv("DRGRADE_SERVE_WEIGHTS"); w != "" {
		pcfg.Weights = w
	}
	if v := os.Getenv("DRGRADE_SERVE_IMG_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("DRGRADE_SERVE_IMG_SIZE=%q: %v", v, err)
		}
		pcfg.ImgSize = n
	}
	ts := startServer(t, pcfg, nil)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testutil.Chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)) // what the page shows
			t.Fatalf("chromium: %s: %v\npage text:\n%s", what, err, text)
		}
	}
	fail("navigate", chromedp.Do(ctx, chromedp.Navigate(ts.url+"/"), chromedp.WaitReady("body")))
	model, err := chromedp.Run(ctx, chromedp.Poll[string](`document.getElementById("model").textContent.startsWith("model ") && document.getElementById("model").textContent`))
	fail("model line", err)
	if !strings.Contains(model, testModel) {
		t.Errorf("model line %q", model)
	}
	second, err := filepath.Abs(imagePath(testImages[0])) // Chromium reads the files: absolute paths
	fail("path", err)
	fail("upload", chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{photo, second})))
	n, err := chromedp.Run(ctx, chromedp.Poll[int](`document.querySelectorAll("#results tbody tr").length >= 2 && document.querySelectorAll("#results tbody tr").length`))
	fail("wait for the grades", err)
	if n != 2 {
		t.Errorf("%d rows in the session table, want 2", n)
	}
	grade, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#results tbody tr td.grade-cell").textContent`))
	fail("grade cell", err)
	if len(grade) != 1 || grade[0] < '0' || grade[0] > '4' {
		t.Errorf("grade cell %q", grade)
	}
	// Wait for the pictures (photo and overlay of both cards) to decode.
	imgs, err := chromedp.Run(ctx, chromedp.Poll[int](`(() => { const i = Array.from(document.querySelectorAll(".card img"));
		return i.length === 4 && i.every(x => x.complete && x.naturalWidth > 0) && i.length })()`))
	fail("pictures", err)
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".card .bar").length`))
	fail("bars", err)
	if imgs != 4 || bars != 10 {
		t.Errorf("%d decoded pictures (want 2 photos + 2 overlays), %d bars (want 2×5)", imgs, bars)
	}
	csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](`csvText()`))
	fail("csv", err)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "n,image,grade,grade_name,prob_0") || !strings.Contains(csv, "retina.jpg") {
		t.Errorf("CSV:\n%s", csv)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	fail("screenshot", err)
	if p := os.Getenv("DRGRADE_SERVE_SCREENSHOT"); p != "" {
		os.WriteFile(p, shot, 0o644)
	}
	m, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if c := colours(m); c < 200 {
		t.Errorf("screenshot has %d colours: blank?", c)
	}
}

// colours counts the distinct colours of an image (up to 10,000).
func colours(m image.Image) int {
	seen := map[[3]uint32]bool{}
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := m.At(x, y).RGBA()
			seen[[3]uint32{r, g, bl}] = true
			if len(seen) >= 10000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
