package models

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/registry"
	"github.com/drgrade/drgrade/internal/suggest"
)

// Model is a registered architecture: a Layer whose parameters and buffers live in a
// torchvision-named StateDict.
type Model interface {
	Layer
	StateDict() *StateDict
	Config() Config
	// Close frees the model's tensors.
	Close()
}

// Config is what the rest of drgrade needs to know about a model (timm's pretrained_cfg).
type Config struct {
	Name       string     // the --model name, e.g. "resnet"
	Arch       string     // the torchvision (or timm) architecture, e.g. "resnet50"
	InputSize  int        // train crop size (224; 299 for xception)
	CropPct    float64    // val centre-crop fraction: resize to InputSize/CropPct, crop InputSize
	Mean, Std  [3]float64 // Normalize statistics
	Classifier string     // prefix of the head's parameters, e.g. "fc" or "classifier.6"
	FixedInput bool       // the architecture only accepts InputSize×InputSize (ViT)
	Head       string     // the output head: "" (class logits), HeadRegression or HeadOrdinal (NewHead)
	Grades     int        // with Head: the number of grades the head's outputs decode to
}

// Constructor builds a model with numClasses outputs and freshly initialised weights.
type Constructor func(numClasses int) (Model, error)

type registration struct {
	zoo  bool // registered by this package's own init (the researcher's zoo), not by a user
	ctor Constructor
	cfg  Config
}

// IsNil makes a registration without a constructor a nil value for registry.Add.
func (r registration) IsNil() bool { return r.ctor == nil }

var registered = registry.New[registration]("models: Register", "constructor")

// ImageNet statistics, torchvision's Normalize defaults for every zoo model.
var (
	ImageNetMean = [3]float64{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float64{0.229, 0.224, 0.225}
)

// Register adds a model under name (call it from an init function, like
// image.RegisterFormat). Zero fields of cfg get the zoo's defaults: 224 input, crop 224/256,
// ImageNet mean/std. A name already taken, an empty name or a nil constructor is an error:
// the rule of loss.Register and trainer.RegisterMetric too.
func Register(name string, ctor Constructor, cfg Config) error {
	_, file, _, _ := runtime.Caller(1)
	return register(name, ctor, cfg, file)
}

// zoo registers one of the researcher's zoo models from this package's init functions. Their
// names are fixed at compile time, so a failure is a bug of this package that every test run
// shows at once: it panics (at init, the program's edge) instead of returning.
func zoo(name string, ctor Constructor, cfg Config) {
	_, file, _, _ := runtime.Caller(1)
	if err := register(name, ctor, cfg, file); err != nil {
		panic(err)
	}
}

func register(name string, ctor Constructor, cfg Config, file string) error {
	cfg.Name = name
	if cfg.InputSize == 0 {
		cfg.InputSize = 224
	}
	if cfg.CropPct == 0 {
		cfg.CropPct = 224.0 / 256.0
	}
	if cfg.Mean == ([3]float64{}) {
		cfg.Mean, cfg.Std = ImageNetMean, ImageNetStd
	}
	zoo := filepath.Dir(file) == registryDir && !strings.HasSuffix(file, "_test.go")
	return registered.Add(name, registration{zoo: zoo, ctor: ctor, cfg: cfg})
}

// registryDir is this package's source folder: Register calls from files in it are the zoo's.
var registryDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}()

// zooNames lists the models this package registers itself (tests check each against PyTorch;
// models a user registers are theirs to test).
func zooNames() []string {
	return registered.Names(func(_ string, r registration) bool { return r.zoo })
}

// Names lists the registered model names, sorted.
func Names() []string { return registered.Names(nil) }

// Lookup returns a model's config, or an error naming the valid names and the closest one.
func Lookup(name string) (Config, error) {
	r, ok := registered.Get(name)
	if !ok {
		return Config{}, unknownModel(name)
	}
	return r.cfg, nil
}

// New builds the model registered as name (find_model_using_name in the original).
func New(name string, numClasses int) (Model, error) {
	r, ok := registered.Get(name)
	if !ok {
		return nil, unknownModel(name)
	}
	if numClasses < 1 {
		return nil, fmt.Errorf("model %s: num_classes must be at least 1, got %d", name, numClasses)
	}
	return r.ctor(numClasses)
}

func unknownModel(name string) error {
	names := Names()
	hint := ""
	if c := suggest.Closest(name, names); c != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", c)
	}
	return fmt.Errorf("unknown model %q%s; valid names: %s", name, hint, strings.Join(names, ", "))
}

// base carries what every model has: its state dict, config and top-level layer.
type base struct {
	sd   *StateDict
	cfg  Config
	body Layer
}

func (b *base) StateDict() *StateDict { return b.sd }
func (b *base) Config() Config        { return b.cfg }
func (b *base) Close()                { b.sd.Close() }

// ForwardT checks the input's shape, then runs the body, so a wrong input gives an error
// naming what was expected rather than a libtorch trace.
func (b *base) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	s, err := x.Size()
	if err != nil {
		return nil, err
	}
	if len(s) != 4 || s[1] != 3 {
		return nil, fmt.Errorf("model %s expects a batch of RGB images [N, 3, H, W], got %s", b.cfg.Name, describeShape(s))
	}
	if b.cfg.FixedInput && (s[2] != int64(b.cfg.InputSize) || s[3] != int64(b.cfg.InputSize)) {
		return nil, fmt.Errorf("model %s expects %d×%d images, got %d×%d", b.cfg.Name, b.cfg.InputSize, b.cfg.InputSize, s[2], s[3])
	}
	return b.body.ForwardT(x, train)
}

// finish turns a constructor's registrations into a Model, or frees them on error.
func finish(sd *StateDict, cfg Config, body Layer) (Model, error) {
	if err := sd.Err(); err != nil {
		sd.Close()
		return nil, err
	}
	full, err := Lookup(cfg.Name)
	if err != nil {
		sd.Close()
		return nil, err
	}
	return &base{sd: sd, cfg: full, body: body}, nil
}
