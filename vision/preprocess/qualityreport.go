package preprocess

import (
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"io"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/transforms"
)

// VerdictUnreadable is the verdict of a file that does not decode.
const VerdictUnreadable = "unreadable"

// verdictRank orders verdicts worst first.
var verdictRank = map[string]int{VerdictUnreadable: 0, VerdictNoField: 1, VerdictDark: 2, VerdictBlurry: 3, VerdictGood: 4}

// Verdicts lists the verdicts worst first.
var Verdicts = []string{VerdictUnreadable, VerdictNoField, VerdictDark, VerdictBlurry, VerdictGood}

// QualityRow is one file's line of the gate's report.
type QualityRow struct {
	Path  string
	Group string // the split, for the report
	Label int
	W, H  int
	Quality
	Err error // decoding failed (Verdict unreadable)
}

// MeasureFiles decodes and measures every file, on workers goroutines (0: GOMAXPROCS); done,
// when set, is called after each file (from any goroutine).
func MeasureFiles(rows []QualityRow, th QualityThresholds, workers int, done func()) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := &rows[i]
				img, err := imageio.Decode(r.Path)
				if err != nil {
					r.Err, r.Verdict = err, VerdictUnreadable
				} else {
					r.W, r.H, r.Quality = img.W, img.H, Measure(img, th)
				}
				if done != nil {
					done()
				}
			}
		}()
	}
	for i := range rows {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// Worst returns the rows ordered worst first: by verdict, then darkest (dark), least sharp
// (blurry, good), then by path.
func Worst(rows []QualityRow) []QualityRow {
	out := append([]QualityRow(nil), rows...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := verdictRank[a.Verdict], verdictRank[b.Verdict]; ra != rb {
			return ra < rb
		}
		switch {
		case a.Verdict == VerdictDark && a.Brightness != b.Brightness:
			return a.Brightness < b.Brightness
		case a.Sharpness != b.Sharpness:
			return a.Sharpness < b.Sharpness
		}
		return a.Path < b.Path
	})
	return out
}

// WriteQualityCSV writes one line per file: group, path, label, size, field and its box,
// brightness, sharpness, verdict, and the decoding error if any.
func WriteQualityCSV(w io.Writer, rows []QualityRow) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"split", "image", "label", "width", "height", "field", "field_x", "field_y", "field_w", "field_h", "brightness", "sharpness", "verdict", "error"})
	for _, r := range rows {
		e := ""
		if r.Err != nil {
			e = r.Err.Error()
		}
		b := r.Box
		cw.Write([]string{r.Group, r.Path, strconv.Itoa(r.Label), strconv.Itoa(r.W), strconv.Itoa(r.H), strconv.FormatBool(r.Field),
			strconv.Itoa(b.Min.X), strconv.Itoa(b.Min.Y), strconv.Itoa(b.Dx()), strconv.Itoa(b.Dy()),
			strconv.FormatFloat(r.Brightness, 'f', 3, 64), strconv.FormatFloat(r.Sharpness, 'f', 4, 64), r.Verdict, e})
	}
	cw.Flush()
	return cw.Error()
}

// verdictColour marks each thumbnail's caption bar.
var verdictColour = map[string][3]uint8{
	VerdictUnreadable: {90, 90, 90}, VerdictNoField: {200, 30, 30}, VerdictDark: {40, 60, 200},
	VerdictBlurry: {230, 140, 0}, VerdictGood: {30, 150, 60},
}

// ContactSheet draws rows (at most n, in order) as thumbnails of side thumb in a grid, each
// with a bar in its verdict's colour naming the verdict, brightness and sharpness, and the
// file's name.
func ContactSheet(rows []QualityRow, n, thumb int) (*imageio.RGB, error) {
	rows = rows[:min(n, len(rows))]
	if len(rows) == 0 {
		return nil, fmt.Errorf("contact sheet: no images")
	}
	const gap, caption = 6, 32
	cols := min(len(rows), 6)
	nrows := (len(rows) + cols - 1) / cols
	sheet := image.NewRGBA(image.Rect(0, 0, gap+cols*(thumb+gap), gap+nrows*(thumb+caption+gap)))
	for i := range sheet.Pix {
		sheet.Pix[i] = 255
	}
	d := font.Drawer{Dst: sheet, Src: image.NewUniform(color.White), Face: basicfont.Face7x13}
	for k, r := range rows {
		ox, oy := gap+(k%cols)*(thumb+gap), gap+(k/cols)*(thumb+caption+gap)
		if r.Err == nil {
			img, err := imageio.Decode(r.Path)
			if err != nil {
				return nil, err
			}
			if img, err = transforms.Resize(img, []int{thumb}); err != nil {
				return nil, err
			}
			if img, err = transforms.CenterCrop(img, []int{thumb}); err != nil {
				return nil, err
			}
			for y := 0; y < img.H; y++ {
				for x := 0; x < img.W; x++ {
					cr, cg, cb := img.At(x, y)
					sheet.SetRGBA(ox+x, oy+y, color.RGBA{cr, cg, cb, 255})
				}
			}
		}
		c := verdictColour[r.Verdict]
		for y := oy + thumb; y < oy+thumb+caption; y++ {
			for x := ox; x < ox+thumb; x++ {
				sheet.SetRGBA(x, y, color.RGBA{c[0], c[1], c[2], 255})
			}
		}
		line1 := r.Verdict
		switch {
		case r.Err == nil && r.Field:
			line1 = fmt.Sprintf("%s b%.0f s%.2f", r.Verdict, r.Brightness, r.Sharpness)
		case r.Err == nil:
			line1 = fmt.Sprintf("%s s%.2f", r.Verdict, r.Sharpness)
		}
		name := filepath.Base(r.Path)
		if max := thumb/7 - 1; len(name) > max && max > 3 {
			name = ".." + name[len(name)-max+2:]
		}
		for i, s := range []string{line1, name} {
			d.Dot = fixed.P(ox+3, oy+thumb+13+i*14)
			d.DrawString(s)
		}
	}
	out := imageio.NewRGB(sheet.Rect.Dx(), sheet.Rect.Dy())
	for i := 0; i < out.W*out.H; i++ {
		copy(out.Pix[3*i:3*i+3], sheet.Pix[4*i:4*i+3])
	}
	return out, nil
}
