package dataset

import (
	"fmt"
	"sort"
	"sync"
)

// MinImageSide is the smallest width and height CheckImages accepts. An image smaller than one
// 8×8 JPEG block holds no retinal detail at all: such a file is a placeholder (a 1×1 pixel
// from a failed export or download), not a photograph. PyTorch would train on it silently,
// upsampled to a flat colour.
const MinImageSide = 8

// ImageSizer reads the image at path and returns its size, or an error that names the file
// and says what is wrong with it.
type ImageSizer func(path string) (w, h int, err error)

// CheckImages runs size on every image of the split, on up to workers goroutines, and
// returns an *Error listing, by label-file line, every image it cannot read (Unreadable) and
// every image smaller than MinImageSide (TooSmall); nil when all are fine. The training
// script only meets a bad image when a batch needs it, possibly hours in; checking first
// lets a run stop before it writes anything.
func (d *Dataset) CheckImages(size ImageSizer, workers int) error {
	workers = max(1, min(workers, d.Len()))
	probs := make([]*Problem, d.Len())
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				probs[i] = d.checkImage(i, size)
			}
		}()
	}
	for i := range d.Paths {
		next <- i
	}
	close(next)
	wg.Wait()
	e := &Error{Split: d.Split, Listed: d.Len()}
	for _, p := range probs {
		if p != nil {
			e.Problems = append(e.Problems, *p)
		}
	}
	if len(e.Problems) == 0 {
		return nil
	}
	sort.SliceStable(e.Problems, func(i, j int) bool { return e.Problems[i].less(e.Problems[j]) })
	return e
}

// checkImage checks image i; nil when it is fine.
func (d *Dataset) checkImage(i int, size ImageSizer) *Problem {
	line := 0
	if i < len(d.Lines) {
		line = d.Lines[i]
	}
	w, h, err := size(d.Paths[i])
	switch {
	case err != nil:
		return &Problem{File: d.LabelFile, Line: line, Kind: Unreadable,
			Msg: fmt.Sprintf("image %q cannot be read: %v", d.Names[i], err)}
	case w < MinImageSide || h < MinImageSide:
		return &Problem{File: d.LabelFile, Line: line, Kind: TooSmall,
			Msg: fmt.Sprintf("image %q (%s) is %d×%d pixels, smaller than %d×%d: a placeholder, not a photograph; "+
				"remove it from the label file", d.Names[i], d.Paths[i], w, h, MinImageSide, MinImageSide)}
	}
	return nil
}
