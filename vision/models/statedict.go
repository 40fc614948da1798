package models

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/torchext"
)

// Entry is one named tensor of a state_dict.
type Entry struct {
	Name   string
	Tensor *ts.Tensor
	Buffer bool // running statistics and the like: saved and loaded, never trained
}

// StateDict is an ordered set of named parameters and buffers, in torchvision's
// registration order (the order of model.state_dict().keys()). It owns its tensors.
type StateDict struct {
	entries []*Entry
	index   map[string]int
	err     error // first error met while registering (see Path)

	batchNorms []*BatchNorm2d     // every BatchNorm2d built on this state dict (ConvertSyncBatchNorm)
	linears    map[string]*Linear // every Linear by its path, e.g. "fc" (NewHead's CORAL layer)
}

// NewStateDict returns an empty state dict.
func NewStateDict() *StateDict {
	return &StateDict{index: map[string]int{}, linears: map[string]*Linear{}}
}

// Entries returns the entries in order. The slice is shared; do not modify it.
func (sd *StateDict) Entries() []*Entry { return sd.entries }

// Names returns the keys in order, like state_dict().keys().
func (sd *StateDict) Names() []string {
	out := make([]string, len(sd.entries))
	for i, e := range sd.entries {
		out[i] = e.Name
	}
	return out
}

// Get returns the entry named name, or nil.
func (sd *StateDict) Get(name string) *Entry {
	if i, ok := sd.index[name]; ok {
		return sd.entries[i]
	}
	return nil
}

// Parameters returns the trainable tensors in order, like model.parameters().
func (sd *StateDict) Parameters() []*ts.Tensor {
	var out []*ts.Tensor
	for _, e := range sd.entries {
		if !e.Buffer {
			out = append(out, e.Tensor)
		}
	}
	return out
}

// NumParameters counts the elements of the trainable tensors (sum of p.numel()).
func (sd *StateDict) NumParameters() int64 {
	var n int64
	for _, e := range sd.entries {
		if !e.Buffer {
			n += int64(e.Tensor.Numel())
		}
	}
	return n
}

// Err is the first error met while building the state dict.
func (sd *StateDict) Err() error { return sd.err }

// Close frees every tensor.
func (sd *StateDict) Close() {
	for _, e := range sd.entries {
		if e.Tensor != nil {
			e.Tensor.MustDrop()
			e.Tensor = nil
		}
	}
}

// splice replaces the entries named in drop by add, placed where the first dropped entry was,
// and frees the dropped tensors (NewHead swapping a classifier for another layer).
func (sd *StateDict) splice(drop []string, add []*Entry) error {
	at := -1
	gone := map[string]bool{}
	for _, name := range drop {
		i, ok := sd.index[name]
		if !ok {
			return fmt.Errorf("models: no tensor %q to replace", name)
		}
		if at < 0 || i < at {
			at = i
		}
		gone[name] = true
	}
	for _, e := range add {
		if _, dup := sd.index[e.Name]; dup && !gone[e.Name] {
			return fmt.Errorf("models: %q registered twice", e.Name)
		}
	}
	var out []*Entry
	for i, e := range sd.entries {
		if i == at {
			out = append(out, add...)
		}
		if gone[e.Name] {
			e.Tensor.MustDrop()
			continue
		}
		out = append(out, e)
	}
	sd.entries = out
	sd.index = make(map[string]int, len(out))
	for i, e := range out {
		sd.index[e.Name] = i
	}
	return nil
}

func (sd *StateDict) add(name string, t *ts.Tensor, buffer bool) {
	if _, dup := sd.index[name]; dup && sd.err == nil {
		sd.err = fmt.Errorf("models: %q registered twice", name)
	}
	sd.index[name] = len(sd.entries)
	sd.entries = append(sd.entries, &Entry{Name: name, Tensor: t, Buffer: buffer})
}

// Path is a position in the module tree ("layer1.0.conv1"), used by constructors to create
// and register tensors under torchvision's names. Like bufio.Scanner it keeps the first error
// in the StateDict, so constructors read straight and check sd.Err() once at the end.
type Path struct {
	sd     *StateDict
	prefix string
}

// Root returns the path of the top-level module.
func (sd *StateDict) Root() Path { return Path{sd: sd} }

// Sub descends into a child module.
func (p Path) Sub(name string) Path {
	if p.prefix == "" {
		return Path{sd: p.sd, prefix: name}
	}
	return Path{sd: p.sd, prefix: p.prefix + "." + name}
}

// Subf descends into a child module named with a format (e.g. an index).
func (p Path) Subf(format string, a ...any) Path { return p.Sub(fmt.Sprintf(format, a...)) }

func (p Path) name(n string) string {
	if p.prefix == "" {
		return n
	}
	return p.prefix + "." + n
}

// Name is the full key of a tensor called n under this path.
func (p Path) Name(n string) string { return p.name(n) }

// Param creates a trainable float32 tensor of the given shape, initialised by init,
// and registers it as name.
func (p Path) Param(name string, shape []int64, init Init) *ts.Tensor {
	t := p.newTensor(name, shape, init)
	if t == nil {
		return nil
	}
	if err := t.RequiresGrad_(true); err != nil {
		p.fail(name, err)
	}
	p.sd.add(p.name(name), t, false)
	return t
}

// Buffer creates a non-trainable tensor (float32 unless dtype says otherwise) and registers it.
func (p Path) Buffer(name string, shape []int64, init Init) *ts.Tensor {
	t := p.newTensor(name, shape, init)
	if t == nil {
		return nil
	}
	p.sd.add(p.name(name), t, true)
	return t
}

// BufferInt64 registers an int64 scalar-like buffer such as num_batches_tracked.
func (p Path) BufferInt64(name string, shape []int64) *ts.Tensor {
	if p.sd.err != nil {
		return nil
	}
	var t *ts.Tensor
	var err error
	if len(shape) == 0 {
		// gotch cannot pass an empty size to libtorch; squeeze a [1] instead.
		var one *ts.Tensor
		if one, err = ts.Zeros([]int64{1}, gotch.Int64, gotch.CPU); err == nil {
			defer one.MustDrop()
			t, err = one.Squeeze(false)
		}
	} else {
		t, err = ts.Zeros(shape, gotch.Int64, gotch.CPU)
	}
	if err != nil {
		p.fail(name, err)
		return nil
	}
	p.sd.add(p.name(name), t, true)
	return t
}

func (p Path) fail(name string, err error) {
	if p.sd.err == nil {
		p.sd.err = fmt.Errorf("models: creating %s: %w", p.name(name), err)
	}
}

func (p Path) newTensor(name string, shape []int64, init Init) *ts.Tensor {
	if p.sd.err != nil {
		return nil
	}
	t, err := ts.Empty(shape, gotch.Float, gotch.CPU)
	if err == nil {
		err = init(t)
	}
	if err != nil {
		if t != nil {
			t.MustDrop()
		}
		p.fail(name, err)
		return nil
	}
	return t
}

// Init fills a freshly allocated tensor in place (torch.nn.init semantics).
type Init func(t *ts.Tensor) error

// Zeros is nn.init.zeros_.
func Zeros(t *ts.Tensor) error { return t.Fill_(ts.FloatScalar(0)) }

// Ones is nn.init.ones_.
func Ones(t *ts.Tensor) error { return t.Fill_(ts.FloatScalar(1)) }

// Normal is nn.init.normal_(mean, std).
func Normal(mean, std float64) Init {
	return func(t *ts.Tensor) error { return t.Normal_(mean, std) }
}

// Uniform is nn.init.uniform_(a, b).
func Uniform(a, b float64) Init {
	return func(t *ts.Tensor) error { return t.Uniform_(a, b) }
}

// fans mirrors torch.nn.init._calculate_fan_in_and_fan_out.
func fans(shape []int64) (fanIn, fanOut float64) {
	recept := int64(1)
	for _, d := range shape[2:] {
		recept *= d
	}
	in, out := int64(1), shape[0]
	if len(shape) > 1 {
		in = shape[1]
	}
	return float64(in * recept), float64(out * recept)
}

// KaimingNormalFanOut is nn.init.kaiming_normal_(mode="fan_out", nonlinearity="relu"),
// torchvision's conv initialisation for ResNet and most CNNs.
func KaimingNormalFanOut(t *ts.Tensor) error {
	_, fanOut := fans(t.MustSize())
	return t.Normal_(0, math.Sqrt(2)/math.Sqrt(fanOut))
}

// LinearDefault is nn.Linear's / nn.Conv2d's reset_parameters for the weight:
// kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
func LinearDefault(t *ts.Tensor) error {
	fanIn, _ := fans(t.MustSize())
	b := 1 / math.Sqrt(fanIn)
	return t.Uniform_(-b, b)
}

// BiasDefault is the bias half of nn.Linear's reset_parameters: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// with fan_in taken from the weight.
func BiasDefault(fanIn int64) Init {
	b := 1 / math.Sqrt(float64(fanIn))
	return Uniform(-b, b)
}

// describeShape formats a shape like torch.Size.
func describeShape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// TensorFrom copies a Go slice ([]float32, []float64, []int64, ...) into a new CPU tensor
// of the given shape; the caller owns it. Unlike ts.NewTensorFromData it accepts the empty
// shape of a 0-dim tensor (num_batches_tracked), and copies []float32, []float64 and []int64
// in one memcpy instead of element by element.
func TensorFrom(data any, shape []int64) (*ts.Tensor, error) {
	switch data.(type) {
	case []float32, []float64, []int64:
		return torchext.FromSlice(data, shape)
	}
	if len(shape) > 0 {
		return ts.NewTensorFromData(data, shape)
	}
	one, err := ts.NewTensorFromData(data, []int64{1})
	if err != nil {
		return nil, err
	}
	defer one.MustDrop()
	return one.Squeeze(false)
}
