package models

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// Head modes for a classifier whose size differs from the model's num_classes.
const (
	HeadSlice = "slice" // the script's: keep the first num_classes rows (fc.weight[:n], fc.bias[:n])
	HeadReset = "reset" // keep the model's freshly initialised head (recommended for ImageNet weights)
)

// LoadReport says what LoadStateDict did, like the _IncompatibleKeys PyTorch returns plus
// what drgrade adds (head handling, dtype conversions, the file's format).
type LoadReport struct {
	File           string
	Format         string
	NestedKey      string   // "model"/"state_dict" when the file was a whole checkpoint
	StrippedPrefix string   // "module." when DataParallel's prefix was removed
	Loaded         int      // tensors copied into the model
	Missing        []string // model keys the file lacks (missing_keys)
	Unexpected     []string // file keys the model lacks (unexpected_keys)
	Head           []string // what happened to the classifier, one line per tensor
	Converted      []string // tensors converted from another floating-point dtype
	// Set by trainer's checkpoint loading: the output head the checkpoint holds (DetectHead;
	// "" for class logits), and a regression head's grade thresholds with where they came from.
	OutputHead      string
	GradeThresholds []float64
	ThresholdsFrom  string
}

// String formats the report as PyTorch prints load_state_dict's result, plus drgrade's notes.
func (r *LoadReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loaded %d tensors from %s (%s format", r.Loaded, r.File, r.Format)
	if r.NestedKey != "" {
		fmt.Fprintf(&b, ", state_dict under %q", r.NestedKey)
	}
	if r.StrippedPrefix != "" {
		fmt.Fprintf(&b, ", %q prefix removed", r.StrippedPrefix)
	}
	b.WriteString(")\n")
	for _, h := range r.Head {
		fmt.Fprintf(&b, "head: %s\n", h)
	}
	for _, c := range r.Converted {
		fmt.Fprintf(&b, "converted: %s\n", c)
	}
	if r.OutputHead != "" {
		fmt.Fprintf(&b, "output head: %s\n", r.OutputHead)
	}
	if r.GradeThresholds != nil {
		fmt.Fprintf(&b, "grade thresholds: %v (%s)\n", r.GradeThresholds, r.ThresholdsFrom)
	}
	fmt.Fprintf(&b, "_IncompatibleKeys(missing_keys=%s, unexpected_keys=%s)", pyList(r.Missing), pyList(r.Unexpected))
	return b.String()
}

func pyList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = "'" + v + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// LoadWeights reads a .pth file in any format torch.load reads (zip, legacy pickle, the
// oldest tar format; a whole checkpoint with a "model"/"state_dict" entry; DataParallel's
// "module." prefix) and loads it into m with LoadStateDict. A missing file is an error
// naming it (the script asserts).
func LoadWeights(m Model, path, head string) (*LoadReport, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("weights file: '%s' does not exist or cannot be read: %w", path, err)
	}
	src, err := pth.Load(path)
	if err != nil {
		return nil, fmt.Errorf("weights file %w", err) // pth.Load's errors start with the path
	}
	r, err := LoadStateDict(m, src, head)
	if err != nil {
		return nil, fmt.Errorf("weights file %s: %w", path, err)
	}
	r.File = path
	return r, nil
}

// LoadStateDict is the script's weight loading: a classifier with more rows than the model
// is sliced to the first num_classes rows (or, with HeadReset, left at the model's fresh
// initialisation), then the tensors are loaded like load_state_dict(strict=False): missing
// and unexpected keys are reported, a shape mismatch elsewhere is an error naming the key
// and both shapes. Every check runs before anything is copied, so on error m is unchanged.
func LoadStateDict(m Model, src *pth.StateDict, head string) (*LoadReport, error) {
	if head == "" {
		head = HeadSlice
	}
	if head != HeadSlice && head != HeadReset {
		return nil, fmt.Errorf("head mode %q: want %s or %s", head, HeadSlice, HeadReset)
	}
	sd := m.StateDict()
	cfg := m.Config()
	r := &LoadReport{Format: src.Format.String(), NestedKey: src.NestedKey, StrippedPrefix: src.StrippedPrefix}
	isHead := func(name string) bool {
		return cfg.Classifier != "" && strings.HasPrefix(name, cfg.Classifier+".")
	}

	type job struct {
		dst  *Entry
		src  *pth.Entry
		rows int // >0: copy only the first rows along dim 0
	}
	var jobs []job
	var problems []string
	seen := map[string]bool{}
	for _, e := range renameLegacyKeys(cfg, src.Entries) {
		seen[e.Name] = true
		dst := sd.Get(e.Name)
		if dst == nil {
			r.Unexpected = append(r.Unexpected, e.Name)
			continue
		}
		want := dst.Tensor.MustSize()
		got := make([]int64, len(e.Shape))
		for i, d := range e.Shape {
			got[i] = int64(d)
		}
		if err := checkDtype(dst, e); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if e.Dtype != pth.Float32 && e.Dtype != pth.Int64 {
			r.Converted = append(r.Converted, fmt.Sprintf("%s from %s to %s", e.Name, e.Dtype, dst.Tensor.DType()))
		}
		if sameShape(got, want) {
			jobs = append(jobs, job{dst: dst, src: e})
			continue
		}
		if isHead(e.Name) && len(got) == len(want) && len(got) >= 1 && sameShape(got[1:], want[1:]) {
			switch {
			case head == HeadReset:
				r.Head = append(r.Head, fmt.Sprintf("%s %s in the file, %s in the model: kept the fresh initialisation (--head reset)", e.Name, describeShape(got), describeShape(want)))
				continue
			case got[0] > want[0]:
				r.Head = append(r.Head, fmt.Sprintf("%s sliced from %s to its first %d rows %s", e.Name, describeShape(got), want[0], describeShape(want)))
				jobs = append(jobs, job{dst: dst, src: e, rows: int(want[0])})
				continue
			}
		}
		problems = append(problems, fmt.Sprintf("size mismatch for %s: copying a param with shape %s from checkpoint, the shape in current model is %s", e.Name, describeShape(got), describeShape(want)))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot load into %s (%s):\n\t%s", cfg.Name, cfg.Arch, strings.Join(problems, "\n\t"))
	}
	for _, e := range sd.Entries() {
		if !seen[e.Name] {
			r.Missing = append(r.Missing, e.Name)
		}
	}
	sort.Strings(r.Unexpected)

	for _, j := range jobs {
		t, err := hostTensor(j.src, j.rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", j.src.Name, err)
		}
		err = torchext.CopyInto(j.dst.Tensor, t)
		t.MustDrop()
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", j.src.Name, err)
		}
		r.Loaded++
	}
	return r, nil
}

// densenetLegacy matches the old key names of torchvision's DenseNet checkpoints
// ("denselayer1.norm.1.weight"), which torchvision's _load_state_dict renames on load.
var densenetLegacy = regexp.MustCompile(`^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$`)

// renameLegacyKeys mirrors torchvision.models.densenet._load_state_dict's key fix-up, so the
// ImageNet DenseNet files torchvision ships load like they do in torchvision.
func renameLegacyKeys(cfg Config, entries []*pth.Entry) []*pth.Entry {
	if !strings.HasPrefix(cfg.Arch, "densenet") {
		return entries
	}
	out := make([]*pth.Entry, len(entries))
	for i, e := range entries {
		out[i] = e
		if m := densenetLegacy.FindStringSubmatch(e.Name); m != nil {
			c := *e
			c.Name = m[1] + m[2]
			out[i] = &c
		}
	}
	return out
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkDtype refuses what load_state_dict would silently convert but no user means:
// integer data for a floating-point parameter, or floating-point data for an integer buffer.
func checkDtype(dst *Entry, e *pth.Entry) error {
	isFloatFile := e.Dtype == pth.Float32 || e.Dtype == pth.Float64 || e.Dtype == pth.Float16 || e.Dtype == pth.BFloat16
	switch dst.Tensor.DType() {
	case gotch.Int64:
		if e.Dtype != pth.Int64 && e.Dtype != pth.Int32 {
			return fmt.Errorf("dtype mismatch for %s: the checkpoint has %s, the model an integer buffer", e.Name, e.Dtype)
		}
	default:
		if !isFloatFile {
			return fmt.Errorf("dtype mismatch for %s: the checkpoint has %s, the model a floating-point tensor", e.Name, e.Dtype)
		}
	}
	return nil
}

// hostTensor makes a CPU tensor from a checkpoint entry (its first rows along dim 0 when
// rows > 0); the caller owns it.
func hostTensor(e *pth.Entry, rows int) (*ts.Tensor, error) {
	shape := make([]int64, len(e.Shape))
	for i, d := range e.Shape {
		shape[i] = int64(d)
	}
	var data any
	if e.Dtype == pth.Int64 || e.Dtype == pth.Int32 {
		v, err := e.Int64s()
		if err != nil {
			return nil, err
		}
		data = v
	} else {
		v, err := e.Float32s()
		if err != nil {
			return nil, err
		}
		data = v
	}
	if rows > 0 {
		per := 1
		for _, d := range e.Shape[1:] {
			per *= d
		}
		shape[0] = int64(rows)
		switch v := data.(type) {
		case []float32:
			data = v[:rows*per]
		case []int64:
			data = v[:rows*per]
		}
	}
	return TensorFrom(data, shape)
}

// SaveStateDict writes m's state_dict as a PyTorch zip-format .pth (torch.save(model.state_dict())),
// atomically, with torchvision's key order; torch.load and load_state_dict(strict=True) accept it.
func SaveStateDict(m Model, path string) error {
	entries, err := HostEntries(m.StateDict())
	if err != nil {
		return err
	}
	return pth.Save(path, entries)
}

// HostEntries copies every tensor of sd to host memory as checkpoint entries, in order.
func HostEntries(sd *StateDict) ([]*pth.Entry, error) {
	out := make([]*pth.Entry, 0, len(sd.Entries()))
	for _, e := range sd.Entries() {
		h, err := HostEntry(e.Name, e.Tensor)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// HostEntry copies one float32 or int64 tensor (borrowed) to a checkpoint entry.
func HostEntry(name string, t *ts.Tensor) (*pth.Entry, error) {
	size := t.MustSize()
	shape := make([]int, len(size))
	for i, d := range size {
		shape[i] = int(d)
	}
	n := t.Numel()
	switch t.DType() {
	case gotch.Int64:
		v := make([]int64, n)
		if err := torchext.CopyTo(t, v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return pth.NewInt64(name, shape, v), nil
	case gotch.Float:
		v := make([]float32, n)
		if err := torchext.CopyTo(t, v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return pth.NewFloat32(name, shape, v), nil
	}
	return nil, fmt.Errorf("%s: cannot save dtype %v", name, t.DType())
}
