package preprocess

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drgrade/drgrade/internal/atomicfile"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/transforms"
)

// PrepareOptions are `drgrade prepare`'s settings.
type PrepareOptions struct {
	Source      string // --data_path, as given (recorded)
	Out         string // --out
	Size        int    // the shorter side after resizing (--size)
	Chain       Chain  // --preprocess, applied before the resize
	Format      string // "jpg" or "png"
	JPEGQuality int    // for "jpg" (95)
	Workers     int    // images at once (0: GOMAXPROCS)
	// Quality, when set, also grades every source image (Measure) into Out/quality.csv and
	// prepare.json's verdict counts (prepare --quality); no image is left out for it.
	Quality *QualityThresholds
}

// PrepareFile is what `drgrade prepare` writes to Q/prepare.json and `drgrade train` prints.
type PrepareFile struct {
	Source      string         `json:"source"`
	Size        int            `json:"size"`
	Preprocess  string         `json:"preprocess"`
	Format      string         `json:"format"`
	JPEGQuality int            `json:"jpeg_quality,omitempty"`
	Resize      string         `json:"resize"`
	Splits      map[string]int `json:"splits"`            // images written per split
	Failed      []string       `json:"failed"`            // images left out, with why (e.g. no field of view)
	Reused      int            `json:"reused"`            // outputs of an earlier, interrupted run kept
	Quality     map[string]int `json:"quality,omitempty"` // --quality: source images per verdict
	Finished    string         `json:"finished"`          // RFC 3339; "" while a run is under way or was interrupted
}

// PrepareJSON is the record's file name in the prepared folder.
const PrepareJSON = "prepare.json"

// ReadPrepared reads dir/prepare.json; (nil, nil) when there is none.
func ReadPrepared(dir string) (*PrepareFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, PrepareJSON))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p PrepareFile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, PrepareJSON), err)
	}
	return &p, nil
}

// Describe is the line `drgrade train` prints for a prepared data set.
func (p *PrepareFile) Describe() string {
	return fmt.Sprintf("Prepared by drgrade prepare from %s: preprocess %s, %s, %s (%s)", p.Source, p.Preprocess, p.Resize, p.Format, p.Finished)
}

// outName is the prepared file's name: the source name with the format's extension.
func outName(name, format string) string {
	return strings.TrimSuffix(name, filepath.Ext(name)) + "." + format
}

// samePath reports whether a and b name the same file or folder.
func samePath(a, b string) bool {
	ia, ea := os.Stat(a)
	ib, eb := os.Stat(b)
	if ea == nil && eb == nil {
		return os.SameFile(ia, ib)
	}
	aa, _ := filepath.Abs(a)
	ab, _ := filepath.Abs(b)
	return aa == ab
}

// Prepare writes a resized (shorter side to Size; after crop, the square field), optionally
// preprocessed copy of the sets into Out in the DDR layout (Out/<split>/<name>.<format> and
// Out/<split>.txt), in parallel. It is resumable: every file is written atomically
// (internal/atomicfile), so an existing output is complete and is kept. It refuses to write
// into the source folder or over any source image. Images that fail (undecodable, no field of
// view with crop) are left out of the label files and listed in prepare.json. progress, when
// set, is called after each image.
func Prepare(sets []*dataset.Dataset, o PrepareOptions, progress func()) (*PrepareFile, error) {
	if o.Size < 8 {
		return nil, fmt.Errorf("--size must be at least 8, got %d", o.Size)
	}
	if o.Format != "jpg" && o.Format != "png" {
		return nil, fmt.Errorf("--format %q: want jpg or png", o.Format)
	}
	if o.JPEGQuality == 0 {
		o.JPEGQuality = 95
	}
	if o.Out == "" {
		return nil, fmt.Errorf("--out is required")
	}
	if samePath(o.Out, o.Source) {
		return nil, fmt.Errorf("--out %s is the input data set %s: prepare writes a copy, never over its input", o.Out, o.Source)
	}
	type job struct {
		set      int
		idx      int
		src, dst string
	}
	var jobs []job
	seen := map[string]string{}
	for si, d := range sets {
		for i, p := range d.Paths {
			dst := filepath.Join(o.Out, d.Split, outName(d.Names[i], o.Format))
			if samePath(dst, p) {
				return nil, fmt.Errorf("%s would overwrite the input image %s: choose another --out", dst, p)
			}
			if prev, ok := seen[dst]; ok {
				return nil, fmt.Errorf("%s and %s would both be written to %s", prev, p, dst)
			}
			seen[dst] = p
			jobs = append(jobs, job{si, i, p, dst})
		}
	}
	rec := &PrepareFile{Source: o.Source, Size: o.Size, Preprocess: o.Chain.String(), Format: o.Format, Splits: map[string]int{},
		Resize: fmt.Sprintf("shorter side to %d (torchvision Resize, bilinear)", o.Size), Failed: []string{}}
	if o.Format == "jpg" {
		rec.JPEGQuality = o.JPEGQuality
	}
	// The settings are recorded before any image, so a resumed run can check it continues the
	// same preparation (kept files were made with them).
	if prev, err := ReadPrepared(o.Out); err != nil {
		return nil, err
	} else if prev != nil && (prev.Size != rec.Size || prev.Preprocess != rec.Preprocess || prev.Format != rec.Format || prev.JPEGQuality != rec.JPEGQuality) {
		return nil, fmt.Errorf("%s was prepared with size %d, preprocess %s, format %s: resuming needs the same settings (or another --out)",
			o.Out, prev.Size, prev.Preprocess, prev.Format)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	if err := writePrepared(o.Out, rec); err != nil {
		return nil, err
	}
	failed := make([]error, len(jobs))
	reused := make([]bool, len(jobs))
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ch := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ch {
				j := jobs[k]
				if _, err := os.Stat(j.dst); err == nil { // atomic writes: an output that exists is complete
					reused[k] = true
				} else {
					failed[k] = prepareOne(j.src, j.dst, o)
				}
				if progress != nil {
					progress()
				}
			}
		}()
	}
	for k := range jobs {
		ch <- k
	}
	close(ch)
	wg.Wait()
	for si, d := range sets {
		var lines bytes.Buffer
		for k, j := range jobs {
			if j.set != si {
				continue
			}
			if failed[k] != nil {
				rec.Failed = append(rec.Failed, failed[k].Error())
				continue
			}
			if reused[k] {
				rec.Reused++
			}
			rec.Splits[d.Split]++
			fmt.Fprintf(&lines, "%s %d\n", filepath.ToSlash(outName(d.Names[j.idx], o.Format)), d.Labels[j.idx])
		}
		if err := atomicfile.WriteBytes(filepath.Join(o.Out, d.Split+".txt"), lines.Bytes()); err != nil {
			return nil, err
		}
	}
	sort.Strings(rec.Failed)
	if o.Quality != nil {
		var rows []QualityRow
		for _, d := range sets {
			for i, p := range d.Paths {
				rows = append(rows, QualityRow{Path: p, Group: d.Split, Label: d.Labels[i]})
			}
		}
		MeasureFiles(rows, *o.Quality, workers, nil)
		rec.Quality = map[string]int{}
		for _, r := range rows {
			rec.Quality[r.Verdict]++
		}
		if err := atomicfile.Write(filepath.Join(o.Out, "quality.csv"), func(w io.Writer) error { return WriteQualityCSV(w, rows) }); err != nil {
			return nil, err
		}
	}
	rec.Finished = time.Now().UTC().Format(time.RFC3339)
	if err := writePrepared(o.Out, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func writePrepared(dir string, rec *PrepareFile) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, PrepareJSON), append(b, '\n'))
}

// prepareOne decodes, preprocesses, resizes and writes one image (atomically).
func prepareOne(src, dst string, o PrepareOptions) error {
	img, err := imageio.Decode(src)
	if err != nil {
		return err
	}
	if img, err = o.Chain.Run(img); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if img, err = transforms.Resize(img, []int{o.Size}); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for i := 0; i < img.W*img.H; i++ {
		copy(rgba.Pix[4*i:4*i+3], img.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 255
	}
	return atomicfile.Write(dst, func(w io.Writer) error {
		if o.Format == "png" {
			return png.Encode(w, rgba)
		}
		return jpeg.Encode(w, rgba, &jpeg.Options{Quality: o.JPEGQuality})
	})
}
