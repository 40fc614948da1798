package report

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/drgrade/drgrade/internal/testutil"
)

// samplesDir, when set, keeps the screenshot for a look (go test ./trainer/report -samples DIR).
var samplesDir = flag.String("samples", "", "directory to write the report and its screenshot to")

// swatch is a w×h PNG: a gradient, so a broken or blank picture is easy to tell apart.
func swatch(t *testing.T, w, h int, base color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: base.R ^ uint8(x), G: base.G ^ uint8(y), B: base.B, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sample is a report with every kind of part.
func sample(t *testing.T) (Data, int) {
	fig := func(c string, clr color.RGBA) Figure {
		return Figure{Caption: c, Alt: c, PNG: swatch(t, 320, 240, clr)}
	}
	d := Data{
		Title:    "resnet on data/synth — val",
		Subtitle: "DDR.pth, 240 images, 5 grades",
		Sections: []Section{
			{ID: "summary", Title: "Summary", Intro: "Headline numbers.",
				Stats: []Stat{{Name: "Accuracy", Value: "0.812"}, {Name: "Referable AUC", Value: "0.934", Note: "95% CI 0.90–0.96"}}},
			{ID: "classes", Title: "Per class", Tables: []Table{{Caption: "Per-class", Header: []string{"grade", "name", "precision"},
				Rows: [][]string{{"0", "No DR", "0.91"}, {"1", "Mild", "0.40"}}, NumericFrom: 2}},
				Figures: []Figure{fig("Confusion matrix", color.RGBA{R: 30, G: 119, B: 180, A: 255})}},
			{ID: "screening", Title: "Screening", Figures: []Figure{fig("ROC", color.RGBA{R: 200, A: 255}), fig("PR", color.RGBA{G: 150, A: 255})}},
			{ID: "mistakes", Title: "Most confident mistakes", Tiles: []Tile{
				{Caption: "img_001.jpg: true Mild, predicted Moderate (0.97)", Images: []Figure{fig("image", color.RGBA{R: 90, A: 255}), fig("Grad-CAM", color.RGBA{R: 250, G: 90, A: 255})}},
			}},
		},
		Footer: "drgrade eval",
	}
	return d, 5 // pictures in the sample
}

// TestReportRendersInChromium opens a report in headless Chromium: it loads from a file with
// the network off, every picture decodes (complete, with its natural size), and the
// screenshot is not blank.
func TestReportRendersInChromium(t *testing.T) {
	d, nImages := sample(t)
	dir := t.TempDir()
	if *samplesDir != "" {
		dir = *samplesDir
	}
	path := filepath.Join(dir, "report.html")
	if err := Write(path, d); err != nil {
		t.Fatal(err)
	}
	st := testutil.OpenPage(t, "file://"+path)
	title, total, loaded, shot := st.Title, st.Images, st.Loaded, st.Screenshot
	if title != d.Title {
		t.Errorf("page title %q, want %q", title, d.Title)
	}
	if total != nImages || loaded != nImages {
		t.Errorf("%d of %d pictures loaded, want all %d", loaded, total, nImages)
	}
	img, _, err := image.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if *samplesDir != "" {
		if err := os.WriteFile(filepath.Join(dir, "report-screenshot.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := img.Bounds()
	colours := map[color.RGBA]bool{}
	nonWhite := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := color.RGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8)}
			colours[c] = true
			if c.R < 240 || c.G < 240 || c.B < 240 {
				nonWhite++
			}
		}
	}
	if len(colours) < 200 || nonWhite < (b.Dx()*b.Dy()/4)/20 {
		t.Errorf("screenshot %v looks blank: %d colours, %d non-white samples", b.Size(), len(colours), nonWhite)
	}
}

func TestRenderRefusesBrokenParts(t *testing.T) {
	d, _ := sample(t)
	for _, c := range []struct {
		name string
		edit func(*Data)
		want string
	}{
		{"no title", func(d *Data) { d.Title = "" }, "no title"},
		{"not a PNG", func(d *Data) { d.Sections[2].Figures[0].PNG = []byte("GIF89a") }, "not a PNG"},
		{"ragged table", func(d *Data) { d.Sections[1].Tables[0].Rows[1] = []string{"1"} }, "row 2 has 1 cells"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dd := d
			dd.Sections = append([]Section(nil), d.Sections...)
			for i := range dd.Sections {
				dd.Sections[i].Figures = append([]Figure(nil), d.Sections[i].Figures...)
				dd.Sections[i].Tables = append([]Table(nil), d.Sections[i].Tables...)
				for j := range dd.Sections[i].Tables {
					dd.Sections[i].Tables[j].Rows = append([][]string(nil), d.Sections[i].Tables[j].Rows...)
				}
			}
			c.edit(&dd)
			path := filepath.Join(t.TempDir(), "r.html")
			err := Write(path, dd)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if _, serr := os.Stat(path); serr == nil {
				t.Errorf("%s written despite the error", path)
			}
		})
	}
}

// TestNoNetworkReferences: the report is one file; nothing in it points outside.
func TestNoNetworkReferences(t *testing.T) {
	d, _ := sample(t)
	b, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http://", "https://", "src=\"/", "@import", "url("} {
		if bytes.Contains(b, []byte(bad)) {
			t.Errorf("report contains %q", bad)
		}
	}
}
