package trainer

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/atomicfile"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/vision/mixup"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// Recipe is the training recipe beyond the script's (issue 21): optimiser, schedule, label
// smoothing, gradient clipping and accumulation, model EMA, early stopping, top-k checkpoints
// and the classifier's learning rate. DefaultRecipe is the script's run, bit for bit. It is
// saved in last.pth's config and --resume restores it (resumeRecipe).
type Recipe struct {
	Opt             string  `json:"opt"`              // --opt adam | adamw | sgd
	WeightDecay     float64 `json:"weight_decay"`     // --weight_decay 1e-4 (the script's Adam L2)
	Momentum        float64 `json:"momentum"`         // --momentum 0.9 (sgd)
	Nesterov        bool    `json:"nesterov"`         // --nesterov (sgd)
	Sched           string  `json:"sched"`            // --sched script | cosine | step | plateau | onecycle
	StepSize        int     `json:"step_size"`        // --step_size 30 (--sched step)
	Gamma           float64 `json:"gamma"`            // --gamma 0.1 (--sched step; plateau's factor)
	PlateauPatience int     `json:"plateau_patience"` // --plateau_patience 10 (--sched plateau)
	LabelSmoothing  float64 `json:"label_smoothing"`  // --label_smoothing 0
	ClipGrad        float64 `json:"clip_grad"`        // --clip_grad 0 (off)
	ClipMode        string  `json:"clip_mode"`        // --clip_mode norm | value
	AccumSteps      int     `json:"accum_steps"`      // --accum_steps 1
	EMA             float64 `json:"ema"`              // --ema DECAY (0: off)
	EMAEval         bool    `json:"ema_eval"`         // --ema_eval: validate and save DDR.pth with the EMA weights
	Patience        int     `json:"patience"`         // --patience N (0: off)
	KeepTopK        int     `json:"keep_topk"`        // --keep_topk K (0: off)
	HeadLRMult      float64 `json:"head_lr_mult"`     // --head_lr_mult 1

	// Stronger augmentation and mixing (torchvision's and timm's, docs/training.md#augmentation).
	AutoAugment     string  `json:"auto_augment"`      // --auto_augment "" | trivialaugment | randaugment
	RANumOps        int     `json:"ra_num_ops"`        // --ra_num_ops 2 (randaugment)
	RAMagnitude     int     `json:"ra_magnitude"`      // --ra_magnitude 9 (randaugment, of 31 bins)
	RandomErasing   float64 `json:"random_erasing"`    // --random_erasing P (0: off)
	Mixup           float64 `json:"mixup"`             // --mixup α (0: off)
	Cutmix          float64 `json:"cutmix"`            // --cutmix α (0: off)
	MixProb         float64 `json:"mix_prob"`          // --mix_prob 1
	MixupSwitchProb float64 `json:"mixup_switch_prob"` // --mixup_switch_prob 0.5
}

// The --auto_augment policies.
const (
	AutoAugmentTrivial = "trivialaugment"
	AutoAugmentRand    = "randaugment"
)

// DefaultRecipe is the script's: Adam with weight_decay 1e-4, warmup + cosine, nothing else.
func DefaultRecipe() Recipe {
	return Recipe{Opt: OptAdam, WeightDecay: 1e-4, Momentum: 0.9, Sched: schedule.SchedScript, StepSize: 30,
		Gamma: 0.1, PlateauPatience: 10, ClipMode: "norm", AccumSteps: 1, HeadLRMult: 1,
		RANumOps: 2, RAMagnitude: 9, MixProb: 1, MixupSwitchProb: 0.5}
}

// validate lists the recipe's bad values in Config.Validate's words.
func (r *Recipe) validate(add func(format string, a ...any)) {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	switch r.Opt {
	case OptAdam, OptAdamW, OptSGD:
	default:
		add("--opt %q: want one of adam, adamw, sgd", r.Opt)
	}
	if r.WeightDecay < 0 || bad(r.WeightDecay) {
		add("--weight_decay must be a non-negative number, got %v", r.WeightDecay)
	}
	if r.Momentum < 0 || bad(r.Momentum) {
		add("--momentum must be a non-negative number, got %v", r.Momentum)
	}
	if r.Nesterov && (r.Opt != OptSGD || r.Momentum <= 0) {
		add("--nesterov needs --opt sgd and a positive --momentum")
	}
	if !oneOfStr(r.Sched, schedule.SchedNames()...) {
		add("--sched %q: want one of %s", r.Sched, strings.Join(schedule.SchedNames(), ", "))
	}
	if r.StepSize < 1 {
		add("--step_size must be at least 1, got %d", r.StepSize)
	}
	if !(r.Gamma > 0 && r.Gamma < 1) {
		add("--gamma must be between 0 and 1 (exclusive), got %v", r.Gamma)
	}
	if r.PlateauPatience < 0 {
		add("--plateau_patience must not be negative, got %d", r.PlateauPatience)
	}
	if !(r.LabelSmoothing >= 0 && r.LabelSmoothing <= 1) {
		add("--label_smoothing must be between 0 and 1, got %v", r.LabelSmoothing)
	}
	if r.ClipGrad < 0 || bad(r.ClipGrad) {
		add("--clip_grad must be a non-negative number (0: off), got %v", r.ClipGrad)
	}
	if !oneOfStr(r.ClipMode, "norm", "value") {
		add("--clip_mode %q: want norm or value", r.ClipMode)
	}
	if r.AccumSteps < 1 {
		add("--accum_steps must be at least 1, got %d", r.AccumSteps)
	}
	if !(r.EMA >= 0 && r.EMA < 1) {
		add("--ema must be a decay in [0, 1) (0: off), got %v", r.EMA)
	}
	if r.EMAEval && r.EMA == 0 {
		add("--ema_eval needs --ema DECAY")
	}
	if r.Patience < 0 {
		add("--patience must not be negative, got %d", r.Patience)
	}
	if r.KeepTopK < 0 {
		add("--keep_topk must not be negative, got %d", r.KeepTopK)
	}
	if !(r.HeadLRMult > 0) || bad(r.HeadLRMult) {
		add("--head_lr_mult must be a positive number, got %v", r.HeadLRMult)
	}
	if !oneOfStr(r.AutoAugment, "", AutoAugmentTrivial, AutoAugmentRand) {
		add("--auto_augment %q: want trivialaugment or randaugment", r.AutoAugment)
	}
	if r.RANumOps < 0 || r.RAMagnitude < 0 || r.RAMagnitude > 30 {
		add("--ra_num_ops %d and --ra_magnitude %d: want ≥ 0 ops and a magnitude bin in [0, 30]", r.RANumOps, r.RAMagnitude)
	}
	if !(r.RandomErasing >= 0 && r.RandomErasing <= 1) {
		add("--random_erasing must be a probability in [0, 1], got %v", r.RandomErasing)
	}
	if err := r.mixConfig(2).Validate(); err != nil && (r.Mixup != 0 || r.Cutmix != 0 || r.MixProb != 1 || r.MixupSwitchProb != 0.5) {
		add("--mixup %v --cutmix %v --mix_prob %v --mixup_switch_prob %v: %v", r.Mixup, r.Cutmix, r.MixProb, r.MixupSwitchProb, err)
	}
}

// mixConfig is the recipe's timm Mixup for numClasses, label smoothing folded in (off unless
// --mixup or --cutmix).
func (r Recipe) mixConfig(numClasses int) mixup.Config {
	return mixup.Config{MixupAlpha: r.Mixup, CutmixAlpha: r.Cutmix, Prob: r.MixProb, SwitchProb: r.MixupSwitchProb,
		LabelSmoothing: r.LabelSmoothing, NumClasses: numClasses}
}

func oneOfStr(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// Describe is the run header's line on the recipe: "" for the script's.
func (r Recipe) Describe() string {
	d := DefaultRecipe()
	if r == d {
		return ""
	}
	var parts []string
	opt := fmt.Sprintf("--opt %s (weight_decay %g", r.Opt, r.WeightDecay)
	if r.Opt == OptSGD {
		opt += fmt.Sprintf(", momentum %g", r.Momentum)
		if r.Nesterov {
			opt += ", nesterov"
		}
	}
	parts = append(parts, opt+")")
	switch r.Sched {
	case schedule.SchedStep:
		parts = append(parts, fmt.Sprintf("--sched step (step_size %d, gamma %g)", r.StepSize, r.Gamma))
	case schedule.SchedPlateau:
		parts = append(parts, fmt.Sprintf("--sched plateau (factor %g, patience %d, on the best metric)", r.Gamma, r.PlateauPatience))
	default:
		parts = append(parts, "--sched "+r.Sched)
	}
	if r.LabelSmoothing != 0 {
		parts = append(parts, fmt.Sprintf("--label_smoothing %g", r.LabelSmoothing))
	}
	if r.ClipGrad != 0 {
		parts = append(parts, fmt.Sprintf("--clip_grad %g --clip_mode %s", r.ClipGrad, r.ClipMode))
	}
	if r.AccumSteps != 1 {
		parts = append(parts, fmt.Sprintf("--accum_steps %d", r.AccumSteps))
	}
	if r.EMA != 0 {
		which := "the model's weights validate and go to DDR.pth"
		if r.EMAEval {
			which = "the EMA weights validate and go to DDR.pth"
		}
		parts = append(parts, fmt.Sprintf("--ema %g (%s)", r.EMA, which))
	}
	if r.Patience != 0 {
		parts = append(parts, fmt.Sprintf("--patience %d", r.Patience))
	}
	if r.KeepTopK != 0 {
		parts = append(parts, fmt.Sprintf("--keep_topk %d", r.KeepTopK))
	}
	if r.HeadLRMult != 1 {
		parts = append(parts, fmt.Sprintf("--head_lr_mult %g", r.HeadLRMult))
	}
	switch r.AutoAugment {
	case AutoAugmentTrivial:
		parts = append(parts, "--auto_augment trivialaugment")
	case AutoAugmentRand:
		parts = append(parts, fmt.Sprintf("--auto_augment randaugment (%d ops at magnitude %d)", r.RANumOps, r.RAMagnitude))
	}
	if r.RandomErasing != 0 {
		parts = append(parts, fmt.Sprintf("--random_erasing %g", r.RandomErasing))
	}
	if r.Mixup != 0 || r.Cutmix != 0 {
		parts = append(parts, fmt.Sprintf("--mixup %g --cutmix %g (prob %g, switch %g; soft-target cross-entropy)", r.Mixup, r.Cutmix, r.MixProb, r.MixupSwitchProb))
	}
	return "Recipe: " + strings.Join(parts, ", ")
}

// resumeRecipe is --resume's restoring of the recipe: the last.pth's config (JSON) keeps the
// recipe the run started with, and it wins over the command line's, which a run cannot change
// half-way (the optimiser state and the schedule belong to it). A last.pth written before the
// recipe existed restores nothing. It returns the restored recipe and the flags that differed.
func resumeRecipe(configJSON []byte, cur Recipe) (Recipe, []string, error) {
	saved := cur
	// Config embeds Recipe, so its keys are at the top level of the JSON object; keys a file
	// does not have keep the command line's values.
	if err := json.Unmarshal(configJSON, &saved); err != nil {
		return cur, nil, err
	}
	var changed []string
	cj, _ := json.Marshal(cur)
	sj, _ := json.Marshal(saved)
	var cm, sm map[string]any
	_ = json.Unmarshal(cj, &cm)
	_ = json.Unmarshal(sj, &sm)
	for k, v := range sm {
		if fmt.Sprint(cm[k]) != fmt.Sprint(v) {
			changed = append(changed, fmt.Sprintf("--%s %v (the command line's %v)", k, v, cm[k]))
		}
	}
	sort.Strings(changed)
	return saved, changed, nil
}

// restoreRecipe applies resumeRecipe before anything is built from the recipe.
func (s *session) restoreRecipe() error {
	if s.args.Resume == "" {
		return nil
	}
	src, _, err := readLast(s.args.Resume, s.args)
	if err != nil {
		return err
	}
	r, changed, err := resumeRecipe(src.Get(ckConfig).Data, s.args.Recipe)
	if err != nil {
		return fmt.Errorf("--resume %s: reading its config: %w", s.args.Resume, err)
	}
	s.args.Recipe = r
	var saved struct{ Head string }
	if json.Unmarshal(src.Get(ckConfig).Data, &saved) == nil && saved.Head != s.args.Head &&
		(models.IsOutputHead(saved.Head) || models.IsOutputHead(s.args.Head)) { // the model's shape
		changed = append(changed, fmt.Sprintf("--head %s (the command line's %s)", saved.Head, s.args.Head))
		s.args.Head = saved.Head
	}
	if len(changed) > 0 {
		fmt.Fprintf(s.out, "--resume: the run's own recipe from %s is kept: %s\n", s.args.Resume, strings.Join(changed, ", "))
	}
	return s.args.Validate()
}

// headLRMult is the per-parameter learning-rate multiplier of --head_lr_mult: the
// classifier's parameters (the model's torchvision classifier, models.Config.Classifier: fc,
// classifier.6, head, heads.head, ...) at mult, the body at 1. nil when mult is 1.
func headLRMult(m models.Model, mult float64) ([]float64, []string, error) {
	if mult == 1 {
		return nil, nil, nil
	}
	prefix := m.Config().Classifier
	if prefix == "" {
		return nil, nil, fmt.Errorf("--head_lr_mult: model %s names no classifier", m.Config().Name)
	}
	var out []float64
	var head []string
	for _, e := range m.StateDict().Entries() {
		if e.Buffer {
			continue
		}
		f := 1.0
		if strings.HasPrefix(e.Name, prefix+".") {
			f = mult
			head = append(head, e.Name)
		}
		out = append(out, f)
	}
	if len(head) == 0 {
		return nil, nil, fmt.Errorf("--head_lr_mult: no parameter of %s under its classifier %q", m.Config().Name, prefix)
	}
	return out, head, nil
}

// setCycledMomentum is OneCycleLR's cycle_momentum: beta1 for Adam and AdamW, momentum for SGD.
func (a *Optimizer) setCycledMomentum(m float64) {
	if a.Kind == OptSGD {
		a.Momentum = m
	} else {
		a.Beta1 = m
	}
}

// clipGrads is torch.nn.utils.clip_grad_norm_(params, max) or clip_grad_value_(params, max)
// on the optimiser's gradients; the caller has unscaled them (GradScaler.unscale_) first.
func clipGrads(opt *Optimizer, max float64, mode string) error {
	if max <= 0 {
		return nil
	}
	if mode == "value" {
		return torchext.ClipGradValue(opt.params, max)
	}
	_, err := torchext.ClipGradNorm(opt.params, max, 2)
	return err
}

// modelEMA is timm 0.9.12's ModelEmaV2: a copy of the model (deepcopy, eval mode) whose every
// state_dict entry becomes decay·ema + (1 − decay)·model after each optimiser step, buffers
// included, with no warm-up of the decay.
type modelEMA struct {
	model models.Model
	decay float64
	dst   []*ts.Tensor // the EMA's state_dict tensors (owned by model)
	src   []*ts.Tensor // the trained model's (borrowed)
}

// newModelEMA builds the EMA copy of m (on the CPU; the caller moves it and calls set).
func newModelEMA(m models.Model, name string, numClasses int, decay float64) (*modelEMA, error) {
	e, err := models.NewHead(name, numClasses, m.Config().Head)
	if err != nil {
		return nil, err
	}
	ema := &modelEMA{model: e, decay: decay}
	a, b := e.StateDict().Entries(), m.StateDict().Entries()
	if len(a) != len(b) {
		e.Close()
		return nil, fmt.Errorf("EMA: %d entries, the model %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			e.Close()
			return nil, fmt.Errorf("EMA: entry %d is %s, the model's %s", i, a[i].Name, b[i].Name)
		}
		ema.dst = append(ema.dst, a[i].Tensor)
		ema.src = append(ema.src, b[i].Tensor)
	}
	return ema, nil
}

// set copies the model into the EMA (ModelEmaV2.set, and deepcopy at construction).
func (e *modelEMA) set() error {
	for i := range e.dst {
		if err := torchext.CopyInto(e.dst[i], e.src[i]); err != nil {
			return err
		}
	}
	return nil
}

// update is ModelEmaV2.update(model).
func (e *modelEMA) update() error { return torchext.EMAUpdate(e.dst, e.src, e.decay) }

// trainPlan is what a recipe changes in train_one_epoch: gradient accumulation, clipping,
// the EMA update after each optimiser step.
type trainPlan struct {
	accum    int
	clip     float64
	clipMode string
	ema      *modelEMA
}

// updatesPerEpoch is timm's updates_per_epoch = ceil(len(loader) / accum_steps): the optimiser
// steps of an epoch, which the schedule counts.
func updatesPerEpoch(loaderLen, accum int) int {
	if accum <= 1 {
		return loaderLen
	}
	return (loaderLen + accum - 1) / accum
}

// topK is timm's CheckpointSaver(max_history=K, decreasing=False) for DDR-epoch<N>.pth files:
// the K best epochs by the best metric, best first; a new epoch enters when fewer than K are
// kept or it beats the worst (a tie does not), which is then deleted.
type topK struct {
	K     int
	Files []topKFile
}

type topKFile struct {
	Path   string  `json:"path"` // the file's name in the weights folder
	Metric float64 `json:"metric"`
	Epoch  int     `json:"epoch"`
}

// offer saves the model as this epoch's checkpoint when it ranks in the top K (atomically,
// by pth.Save) and deletes the checkpoint that falls out.
func (k *topK) offer(dir string, epoch int, metric float64, save func(path string) error) (bool, error) {
	if k.K <= 0 || math.IsNaN(metric) {
		return false, nil
	}
	if len(k.Files) >= k.K && !(metric > k.Files[len(k.Files)-1].Metric) {
		return false, nil
	}
	if len(k.Files) >= k.K { // _cleanup_checkpoints(1): the worst goes
		worst := k.Files[len(k.Files)-1]
		if err := os.Remove(filepath.Join(dir, worst.Path)); err != nil && !os.IsNotExist(err) {
			return false, err
		}
		if err := os.Remove(filepath.Join(dir, worst.Path+bestInfoSuffix)); err != nil && !os.IsNotExist(err) {
			return false, err // its grade thresholds (--head regression)
		}
		k.Files = k.Files[:len(k.Files)-1]
	}
	name := fmt.Sprintf("DDR-epoch%d.pth", epoch+1)
	if err := save(filepath.Join(dir, name)); err != nil {
		return false, err
	}
	k.Files = append(k.Files, topKFile{Path: name, Metric: metric, Epoch: epoch + 1})
	sort.SliceStable(k.Files, func(i, j int) bool { return k.Files[i].Metric > k.Files[j].Metric })
	return true, nil
}

// recipeState is the part of a run's state the recipe adds to last.pth (recipe_state_json):
// the best epoch (--patience), the top-k list, the plateau scheduler.
type recipeState struct {
	BestEpoch  int                    `json:"best_epoch"`
	TopK       []topKFile             `json:"topk,omitempty"`
	Plateau    *schedule.PlateauState `json:"plateau,omitempty"`
	PlateauInf bool                   `json:"plateau_best_is_inf,omitempty"`
	// Thresholds and BestThresholds are a regression head's grade thresholds of the last
	// epoch and of DDR.pth's (--head regression optimises them on every validation pass).
	Thresholds     []float64 `json:"grade_thresholds,omitempty"`
	BestThresholds []float64 `json:"best_grade_thresholds,omitempty"`
}

const (
	ckRecipeState = "recipe_state_json"
	ckEMA         = "ema."
	// bestInfoSuffix names the file beside DDR.pth that says which weights it holds.
	bestInfoSuffix = ".json"
)

// bestInfo is DDR.pth.json: which weights DDR.pth holds (the model's or the EMA's), from
// which epoch and with which value of the best metric.
type bestInfo struct {
	Weights  string  `json:"weights"` // "model" or "ema"
	EMADecay float64 `json:"ema_decay,omitempty"`
	Epoch    int     `json:"epoch"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	// Head is the output head (--head regression | ordinal; absent: class logits), and
	// GradeThresholds a regression head's, which eval, predict and serve decode with.
	Head            string    `json:"head,omitempty"`
	GradeThresholds []float64 `json:"grade_thresholds,omitempty"`
}

func writeBestInfo(path string, info bestInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}

// recipeEntries are last.pth's entries of the recipe: the EMA's state_dict (ema.<key>) and
// recipe_state_json.
func (s *session) recipeEntries() ([]*pth.Entry, error) {
	var out []*pth.Entry
	if s.ema != nil {
		entries, err := models.HostEntries(s.ema.model.StateDict())
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			e.Name = ckEMA + e.Name
		}
		out = append(out, entries...)
	}
	st := recipeState{BestEpoch: s.bestEpoch, Thresholds: s.thresholds, BestThresholds: s.bestThresholds}
	if s.topk != nil {
		st.TopK = s.topk.Files
	}
	if p, ok := s.scheduler.PlateauState(); ok {
		if math.IsInf(p.Best, -1) {
			p.Best, st.PlateauInf = 0, true
		}
		st.Plateau = &p
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return append(out, bytesEntry(ckRecipeState, b)), nil
}

// restoreRecipeState reads what recipeEntries wrote (a last.pth without it restores nothing).
func (s *session) restoreRecipeState(src *pth.StateDict) error {
	if s.ema != nil {
		for i, e := range s.ema.model.StateDict().Entries() {
			pe := src.Get(ckEMA + e.Name)
			if pe == nil {
				return fmt.Errorf("--resume %s: the EMA's %s is missing", s.args.Resume, e.Name)
			}
			t, err := entryTensor(pe)
			if err != nil {
				return fmt.Errorf("--resume %s: %s%s: %w", s.args.Resume, ckEMA, e.Name, err)
			}
			err = torchext.CopyInto(s.ema.dst[i], t)
			t.MustDrop()
			if err != nil {
				return fmt.Errorf("--resume %s: %s%s: %w", s.args.Resume, ckEMA, e.Name, err)
			}
		}
	}
	e := src.Get(ckRecipeState)
	if e == nil {
		return nil
	}
	var st recipeState
	if err := json.Unmarshal(e.Data, &st); err != nil {
		return fmt.Errorf("--resume %s: %s: %w", s.args.Resume, ckRecipeState, err)
	}
	s.bestEpoch = st.BestEpoch
	s.thresholds, s.bestThresholds = st.Thresholds, st.BestThresholds
	if s.topk != nil {
		s.topk.Files = st.TopK
	}
	if st.Plateau != nil {
		if st.PlateauInf {
			st.Plateau.Best = math.Inf(-1)
		}
		if err := s.scheduler.SetPlateauState(*st.Plateau); err != nil {
			return err
		}
	}
	return nil
}

// entryTensor is a checkpoint entry as a host tensor (float32 or int64).
func entryTensor(e *pth.Entry) (*ts.Tensor, error) {
	shape := make([]int64, len(e.Shape))
	for i, d := range e.Shape {
		shape[i] = int64(d)
	}
	switch e.Dtype {
	case pth.Int64:
		v, err := e.Int64s()
		if err != nil {
			return nil, err
		}
		return models.TensorFrom(v, shape)
	default:
		v, err := e.Float32s()
		if err != nil {
			return nil, err
		}
		return models.TensorFrom(v, shape)
	}
}

// plan is the recipe's trainPlan; nil for the script's recipe, so its run takes trainStep's
// path unchanged.
func (s *session) plan() *trainPlan {
	r := s.args.Recipe
	if r.AccumSteps <= 1 && r.ClipGrad == 0 && s.ema == nil {
		return nil
	}
	return &trainPlan{accum: r.AccumSteps, clip: r.ClipGrad, clipMode: r.ClipMode, ema: s.ema}
}

// newEMA is timm's `model_ema = ModelEmaV2(model, decay=args.model_ema_decay)` after the
// weights are loaded (--ema); --resume then restores its weights from last.pth.
func (s *session) newEMA() error {
	if s.dist != nil && s.args.AccumSteps > 1 {
		return &InputError{fmt.Errorf("--accum_steps with several processes is not supported yet")}
	}
	if s.args.EMA == 0 {
		return nil
	}
	e, err := newModelEMA(s.model, s.args.Model, s.args.NumClasses, s.args.EMA)
	if err != nil {
		return err
	}
	s.ema = e
	s.closers = append(s.closers, func() { e.model.Close() })
	if err := toDevice(e.model, s.device); err != nil {
		return err
	}
	return e.set()
}

// evalModel is the model validation scores and DDR.pth holds: the EMA's with --ema_eval.
func (s *session) evalModel() models.Model {
	if s.ema != nil && s.args.EMAEval {
		return s.ema.model
	}
	return s.model
}

// writeBestInfo writes <checkpoint>.json (with --ema or an output head only, so the script's
// run writes what it always did): which weights it holds, and the head's grade thresholds.
func (s *session) writeBestInfo(best string, epoch int, value float64) error {
	head := s.model.Config().Head
	if s.ema == nil && head == "" {
		return nil
	}
	info := bestInfo{Weights: "model", EMADecay: s.args.EMA, Epoch: epoch + 1, Metric: s.args.BestMetric, Value: value,
		Head: head, GradeThresholds: s.thresholds}
	if s.ema != nil && s.args.EMAEval {
		info.Weights = "ema"
	}
	return writeBestInfo(best+bestInfoSuffix, info)
}

// saveTopK is --keep_topk: this epoch's evaluated weights as DDR-epoch<N>.pth when they rank
// among the K best.
func (s *session) saveTopK(epoch int, metric float64) error {
	if s.topk == nil {
		return nil
	}
	_, err := s.topk.offer(s.savePath, epoch, metric, func(path string) error {
		if err := models.SaveStateDict(s.evalModel(), path); err != nil {
			return err
		}
		return s.writeBestInfo(path, epoch, metric)
	})
	if err != nil {
		return fmt.Errorf("--keep_topk: %w", err)
	}
	return nil
}

// restoreSGD is restore for --opt sgd: the momentum buffers that exist in the checkpoint
// (a parameter that never had a gradient has none, as in torch's state_dict).
func (a *Optimizer) restoreSGD(step int64, entry func(i int, which string) (*pth.Entry, error), dev gotch.Device) error {
	a.momentumBuf = make([]*ts.Tensor, len(a.params))
	for i, p := range a.params {
		e, err := entry(i, "momentum_buffer")
		if err != nil || e == nil {
			continue // entry reports a missing state as an error: here it means no buffer yet
		}
		t, err := stateTensor(e, p, i, "momentum_buffer", dev)
		if err != nil {
			return err
		}
		a.momentumBuf[i] = t
	}
	a.StepCount = step
	return nil
}
