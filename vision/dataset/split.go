package dataset

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// mt19937 is the Mersenne Twister of numpy.random.RandomState (init_genrand seeding,
// genrand_int32 output), which scikit-learn's random_state=int draws from.
type mt19937 struct {
	mt  [624]uint32
	idx int
}

func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{idx: 624}
	m.mt[0] = seed
	for i := 1; i < 624; i++ {
		m.mt[i] = 1812433253*(m.mt[i-1]^(m.mt[i-1]>>30)) + uint32(i)
	}
	return m
}

func (m *mt19937) uint32() uint32 {
	if m.idx >= 624 {
		for i := 0; i < 624; i++ {
			y := (m.mt[i] & 0x80000000) | (m.mt[(i+1)%624] & 0x7fffffff)
			v := m.mt[(i+397)%624] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			m.mt[i] = v
		}
		m.idx = 0
	}
	y := m.mt[m.idx]
	m.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// interval mirrors numpy's legacy random_interval: a uniform integer in [0, max] by masked
// rejection sampling.
func (m *mt19937) interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	for s := uint(1); s < 32; s <<= 1 {
		mask |= mask >> s
	}
	for {
		if v := m.uint32() & mask; v <= max {
			return v
		}
	}
}

// shuffle mirrors RandomState.shuffle of a 1-d array (Fisher–Yates from the end).
func (m *mt19937) shuffle(x []int) {
	for i := len(x) - 1; i > 0; i-- {
		j := m.interval(uint32(i))
		x[i], x[j] = x[j], x[i]
	}
}

// permutation mirrors RandomState.permutation(n).
func (m *mt19937) permutation(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	m.shuffle(p)
	return p
}

// approximateMode mirrors sklearn.utils._approximate_mode: per-class draws proportional to
// counts, the remaining draws given to the largest remainders, ties broken with rng.choice.
func approximateMode(counts []int, draws int, rng *mt19937) []int {
	total := 0
	for _, c := range counts {
		total += c
	}
	cont := make([]float64, len(counts))
	floored := make([]int, len(counts))
	fsum := 0.0
	for i, c := range counts {
		cont[i] = float64(c) / float64(total) * float64(draws)
		f := math.Floor(cont[i])
		floored[i] = int(f)
		fsum += f
	}
	need := int(float64(draws) - fsum)
	if need <= 0 {
		return floored
	}
	rem := make([]float64, len(counts))
	for i := range cont {
		rem[i] = cont[i] - math.Floor(cont[i])
	}
	values := append([]float64(nil), rem...)
	sort.Sort(sort.Reverse(sort.Float64Slice(values)))
	for k, v := range values {
		if k > 0 && v == values[k-1] {
			continue // np.unique
		}
		var inds []int
		for i, r := range rem {
			if r == v {
				inds = append(inds, i)
			}
		}
		add := min(len(inds), need)
		perm := rng.permutation(len(inds)) // rng.choice(inds, add, replace=False)
		for _, p := range perm[:add] {
			floored[inds[p]]++
		}
		need -= add
		if need == 0 {
			break
		}
	}
	return floored
}

// StratifiedSplit divides the indices 0..len(labels)-1 into train and test with each label's
// share kept: it returns exactly what scikit-learn's
// train_test_split(range(n), test_size=testSize, stratify=labels, random_state=seed) returns
// (same members, same order). Its errors are sklearn's ValueErrors, reworded.
func StratifiedSplit(labels []int, testSize float64, seed uint32) (train, test []int, err error) {
	n := len(labels)
	if !(testSize > 0 && testSize < 1) {
		return nil, nil, fmt.Errorf("the held-out fraction must lie strictly between 0 and 1, got %g", testSize)
	}
	nTest := int(math.Ceil(testSize * float64(n)))
	nTrain := n - nTest
	if nTrain <= 0 || nTest <= 0 {
		return nil, nil, fmt.Errorf("a fraction %g of %d images leaves an empty part", testSize, n)
	}
	// np.unique(y, return_inverse=True); class_indices from a stable argsort.
	var classes []int
	seen := map[int]bool{}
	for _, l := range labels {
		if !seen[l] {
			seen[l] = true
			classes = append(classes, l)
		}
	}
	sort.Ints(classes)
	pos := map[int]int{}
	for i, c := range classes {
		pos[c] = i
	}
	classIdx := make([][]int, len(classes))
	counts := make([]int, len(classes))
	for i, l := range labels {
		classIdx[pos[l]] = append(classIdx[pos[l]], i)
		counts[pos[l]]++
	}
	for i, c := range counts {
		if c < 2 {
			return nil, nil, fmt.Errorf("grade %d has only %d image: a stratified split needs at least 2 of every grade", classes[i], c)
		}
	}
	if nTrain < len(classes) || nTest < len(classes) {
		return nil, nil, fmt.Errorf("the parts would have %d and %d images, fewer than the %d grades: every part needs one of each",
			nTrain, nTest, len(classes))
	}
	rng := newMT19937(seed)
	nI := approximateMode(counts, nTrain, rng)
	left := make([]int, len(counts))
	for i := range counts {
		left[i] = counts[i] - nI[i]
	}
	tI := approximateMode(left, nTest, rng)
	for i := range classes {
		perm := rng.permutation(counts[i])
		for k, p := range perm {
			switch {
			case k < nI[i]:
				train = append(train, classIdx[i][p])
			case k < nI[i]+tI[i]:
				test = append(test, classIdx[i][p])
			}
		}
	}
	rng.shuffle(train)
	rng.shuffle(test)
	return train, test, nil
}

// SplitIndices makes train/val(/test) parts of one labelled set: with test > 0, first
// train_test_split(test_size=test) holds out the test part, then the rest is split again with
// test_size=val/(1-test), so that val is a fraction val of the whole; each call seeded with
// seed, as two sklearn calls with random_state=seed would be. Each part is in sklearn's order.
func SplitIndices(labels []int, val, test float64, seed uint32) (trainIdx, valIdx, testIdx []int, err error) {
	rest := make([]int, len(labels))
	for i := range rest {
		rest[i] = i
	}
	if test > 0 {
		if val+test >= 1 {
			return nil, nil, nil, fmt.Errorf("--val %g and --test %g leave no training images", val, test)
		}
		tr, te, err := StratifiedSplit(labels, test, seed)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("holding out --test %g: %w", test, err)
		}
		rest, testIdx = tr, te
		val = val / (1 - test)
	}
	sub := make([]int, len(rest))
	for i, r := range rest {
		sub[i] = labels[r]
	}
	tr, va, err := StratifiedSplit(sub, val, seed)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("holding out --val: %w", err)
	}
	for _, i := range tr {
		trainIdx = append(trainIdx, rest[i])
	}
	for _, i := range va {
		valIdx = append(valIdx, rest[i])
	}
	return trainIdx, valIdx, testIdx, nil
}

// SplitFile is what WriteSplit records in <out>/split.json.
type SplitFile struct {
	Source string           `json:"source"` // the label file (or grade-folder root) that was split
	Format string           `json:"format"` // of the source
	Layout string           `json:"layout"` // written: ddr (<part>.txt) or csv (<part>.csv, image,level)
	Images string           `json:"images"` // the image directory the parts' folders link to
	Seed   uint32           `json:"seed"`
	Val    float64          `json:"val"`
	Test   float64          `json:"test"`
	Rule   string           `json:"rule"`
	Counts map[string][]int `json:"counts"` // images per grade of each part
	Total  int              `json:"total"`  // images in the source
}

// WriteSplit writes parts (split name → indices into d) as a data set in out, in meta.Layout:
// for each part <out>/<part>.txt with `name label` lines (ddr, the default) or <out>/<part>.csv
// with an image,level header (csv), and <out>/<part>, a relative symbolic link to d.Dir, so the
// images are not copied and every command reads the result. It refuses an out that exists and
// is not empty, and names that a DDR label file cannot hold.
func WriteSplit(out string, d *Dataset, parts map[string][]int, meta SplitFile) error {
	if meta.Layout == "" {
		meta.Layout = FormatDDR
	}
	if meta.Layout != FormatDDR && meta.Layout != FormatCSV {
		return fmt.Errorf("split: cannot write the layout %q (ddr or csv)", meta.Layout)
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("split: %s exists and is not empty: choose a new --out", out)
	}
	for _, n := range d.Names {
		if meta.Layout == FormatDDR && (n != strings.TrimSpace(n) || strings.ContainsAny(n, "\r\n")) {
			return fmt.Errorf("split: image name %q cannot be written to a label file (leading or trailing space, or a line break)", n)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	absDir, err := filepath.Abs(d.Dir)
	if err != nil {
		return err
	}
	target, err := filepath.Rel(absOut, absDir)
	if err != nil {
		target = absDir
	}
	meta.Counts = map[string][]int{}
	meta.Images = absDir
	meta.Total = d.Len()
	for _, name := range KnownSplits {
		idx, ok := parts[name]
		if !ok {
			continue
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		if meta.Layout == FormatCSV {
			_ = w.Write([]string{"image", "level"})
		}
		counts := make([]int, d.NumClasses)
		for _, i := range idx {
			if meta.Layout == FormatCSV {
				_ = w.Write([]string{d.Names[i], strconv.Itoa(d.Labels[i])})
			} else {
				fmt.Fprintf(&b, "%s %d\n", d.Names[i], d.Labels[i])
			}
			counts[d.Labels[i]]++
		}
		w.Flush()
		meta.Counts[name] = counts
		ext := map[string]string{FormatDDR: ".txt", FormatCSV: ".csv"}[meta.Layout]
		if err := os.WriteFile(filepath.Join(out, name+ext), b.Bytes(), 0o644); err != nil {
			return err
		}
		if err := os.Symlink(target, filepath.Join(out, name)); err != nil {
			return fmt.Errorf("split: linking %s to the images: %w", filepath.Join(out, name), err)
		}
	}
	js, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "split.json"), append(js, '\n'), 0o644)
}
