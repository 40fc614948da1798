package schedule

import (
	"errors"
	"fmt"
	"math"
)

// Lambda maps a scheduler step count (LambdaLR's last_epoch) to a learning-rate multiplier.
type Lambda func(step int) float64

// Group mirrors the "lr" and "initial_lr" entries of one torch.optim param group.
type Group struct {
	// LR is the learning rate the next optimiser step uses (param_groups[i]["lr"]).
	LR float64
	// InitialLR is param_groups[i]["initial_lr"], valid once HasInitialLR is set by the
	// first scheduler attached to the group.
	InitialLR    float64
	HasInitialLR bool
}

// NewGroup returns a param group as the optimiser constructor makes it: lr set, no initial_lr.
func NewGroup(lr float64) *Group { return &Group{LR: lr} }

// LambdaLR mirrors torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda, last_epoch=-1).
type LambdaLR struct {
	groups    []*Group
	baseLRs   []float64
	lambda    Lambda
	lastEpoch int
}

// NewLambdaLR attaches a LambdaLR to the groups: like PyTorch it sets initial_lr where missing,
// takes the base learning rates from initial_lr and performs the initial step (lr = base ·
// lambda(0)).
func NewLambdaLR(lambda Lambda, groups ...*Group) (*LambdaLR, error) {
	if lambda == nil {
		return nil, errors.New("schedule: nil lambda")
	}
	if len(groups) == 0 {
		return nil, errors.New("schedule: no param groups")
	}
	s := &LambdaLR{groups: groups, lambda: lambda, lastEpoch: -1}
	for _, g := range groups {
		if g == nil {
			return nil, errors.New("schedule: nil param group")
		}
		if !g.HasInitialLR { // group.setdefault('initial_lr', group['lr'])
			g.InitialLR, g.HasInitialLR = g.LR, true
		}
		s.baseLRs = append(s.baseLRs, g.InitialLR)
	}
	s.Step()
	return s, nil
}

// Step mirrors LRScheduler.step(): last_epoch += 1, then lr = base_lr · lambda(last_epoch)
// for every group.
func (s *LambdaLR) Step() {
	s.lastEpoch++
	f := s.lambda(s.lastEpoch)
	for i, g := range s.groups {
		g.LR = s.baseLRs[i] * f
	}
}

// LastEpoch is the scheduler's step count (PyTorch's last_epoch; 0 right after construction).
func (s *LambdaLR) LastEpoch() int { return s.lastEpoch }

// LastLR mirrors get_last_lr(): the learning rates the last step set.
func (s *LambdaLR) LastLR() []float64 {
	out := make([]float64, len(s.groups))
	for i, g := range s.groups {
		out[i] = g.LR
	}
	return out
}

// WarmupFactor is upstream's warmup_factor = 1.0/1000.
const WarmupFactor = 1.0 / 1000

// WarmupIters mirrors train_one_epoch's warmup_iters = min(1000, len(data_loader) - 1).
func WarmupIters(loaderLen int) int { return min(1000, loaderLen-1) }

// Warmup mirrors utils.lr_methods.warmup's f: 1 when x >= iters, else factor·(1 - x/iters) +
// x/iters. The x >= iters test comes first, so iters <= 0 gives f ≡ 1 with no division.
func Warmup(iters int, factor float64) Lambda {
	return func(x int) float64 {
		if x >= iters {
			return 1
		}
		alpha := float64(x) / float64(iters)
		return float64(factor*(1-alpha)) + alpha
	}
}

// Cosine mirrors the script's lf(x) = ((1 + cos(x·π/epochs)) / 2)·(1 - lrf) + lrf. epochs
// must be positive (Python raises ZeroDivisionError for 0 when LambdaLR first calls lf).
func Cosine(epochs int, lrf float64) (Lambda, error) {
	if epochs <= 0 {
		return nil, fmt.Errorf("schedule: epochs must be positive, got %d", epochs)
	}
	e := float64(epochs)
	return func(x int) float64 {
		c := (1 + math.Cos(float64(x)*math.Pi/e)) / 2
		return float64(c*(1-lrf)) + lrf
	}, nil
}

// Config describes the script's optimiser schedule.
type Config struct {
	LR        float64 // --lr, the Adam learning rate (2e-4)
	LRF       float64 // --lrf, the final multiplier of the cosine (1e-4)
	Epochs    int     // --epochs
	LoaderLen int     // len(train_loader): batches per epoch
	Warmup    bool    // lr_method == warmup (always true in the script)

	// Sched picks a torch.optim.lr_scheduler instead of the script's warmup + cosine LambdaLR
	// ("" or SchedScript: the script's): SchedCosine is CosineAnnealingLR(T_max=Epochs,
	// eta_min=LR·LRF) and SchedStep StepLR(StepSize, Gamma), stepped after each epoch;
	// SchedPlateau ReduceLROnPlateau(mode='max', factor=Gamma, patience=PlateauPatience), stepped
	// with each epoch's validation metric (Metric); SchedOneCycle OneCycleLR(max_lr=LR,
	// total_steps=Epochs·LoaderLen), stepped after each optimiser step. None has a warmup.
	Sched           string
	StepSize        int
	Gamma           float64
	PlateauPatience int
}

// The --sched choices.
const (
	SchedScript   = "script"
	SchedCosine   = "cosine"
	SchedStep     = "step"
	SchedPlateau  = "plateau"
	SchedOneCycle = "onecycle"
)

// SchedNames lists the --sched choices.
func SchedNames() []string {
	return []string{SchedScript, SchedCosine, SchedStep, SchedPlateau, SchedOneCycle}
}

// Script drives the schedule as train_imbalance.py + train_one_epoch do: call StartEpoch,
// then for each batch read LR, step the optimiser with it, and call AfterOptimizerStep; call
// EndEpoch where the script calls scheduler.step().
type Script struct {
	cfg    Config
	group  *Group
	cosine *LambdaLR
	warm   *LambdaLR
	epoch  int
	inside bool

	// the torch scheduler of cfg.Sched (nil with the script's schedule)
	step     *StepLR
	cos      *CosineAnnealingLR
	plateau  *ReduceLROnPlateau
	onecycle *OneCycleLR
}

// NewScript creates the optimiser's param group and the cosine LambdaLR, as the script does
// before its epoch loop.
func NewScript(cfg Config) (*Script, error) {
	if !(cfg.LR >= 0) || math.IsInf(cfg.LR, 0) {
		return nil, fmt.Errorf("schedule: invalid learning rate %v", cfg.LR)
	}
	if math.IsNaN(cfg.LRF) || math.IsInf(cfg.LRF, 0) {
		return nil, fmt.Errorf("schedule: invalid lrf %v", cfg.LRF)
	}
	if cfg.LoaderLen < 0 {
		return nil, fmt.Errorf("schedule: negative loader length %d", cfg.LoaderLen)
	}
	if cfg.Sched != "" && cfg.Sched != SchedScript {
		return newTorchScript(cfg)
	}
	lf, err := Cosine(cfg.Epochs, cfg.LRF)
	if err != nil {
		return nil, err
	}
	g := NewGroup(cfg.LR)
	cos, err := NewLambdaLR(lf, g)
	if err != nil {
		return nil, err
	}
	return &Script{cfg: cfg, group: g, cosine: cos}, nil
}

// StartEpoch begins epoch (0-based; epochs run in order from 0). In epoch 0 with warmup it
// creates the per-iteration warmup LambdaLR, as train_one_epoch does.
func (s *Script) StartEpoch(epoch int) error {
	if s.inside {
		return fmt.Errorf("schedule: StartEpoch(%d) before EndEpoch of epoch %d", epoch, s.epoch)
	}
	if epoch != s.epoch {
		return fmt.Errorf("schedule: StartEpoch(%d), expected epoch %d", epoch, s.epoch)
	}
	s.inside = true
	if epoch == 0 && s.cfg.Warmup && s.cosine != nil {
		w, err := NewLambdaLR(Warmup(WarmupIters(s.cfg.LoaderLen), WarmupFactor), s.group)
		if err != nil {
			return err
		}
		s.warm = w
	}
	return nil
}

// LR is optimizer.param_groups[0]["lr"] now: the rate the next optimiser step uses, and
// (after EndEpoch) the value the script logs as learning_rate for the epoch just ended.
func (s *Script) LR() float64 { return s.group.LR }

// AfterOptimizerStep mirrors `if lr_scheduler is not None: lr_scheduler.step()` after each
// optimiser step of train_one_epoch.
func (s *Script) AfterOptimizerStep() error {
	if !s.inside {
		return errors.New("schedule: AfterOptimizerStep outside an epoch")
	}
	if s.warm != nil {
		s.warm.Step()
	}
	if s.onecycle != nil {
		return s.onecycle.Step()
	}
	return nil
}

// EndEpoch ends the epoch: the warmup scheduler goes out of scope with train_one_epoch and the
// script's scheduler.step() advances the cosine.
func (s *Script) EndEpoch() error {
	if !s.inside {
		return errors.New("schedule: EndEpoch without StartEpoch")
	}
	s.inside = false
	s.warm = nil
	switch {
	case s.cosine != nil:
		s.cosine.Step()
	case s.cos != nil:
		s.cos.Step()
	case s.step != nil:
		s.step.Step()
	}
	s.epoch++
	return nil
}

// newTorchScript is NewScript for a torch scheduler (cfg.Sched).
func newTorchScript(cfg Config) (*Script, error) {
	s := &Script{cfg: cfg, group: NewGroup(cfg.LR)}
	var err error
	switch cfg.Sched {
	case SchedCosine:
		s.cos, err = NewCosineAnnealingLR(s.group, cfg.Epochs, cfg.LR*cfg.LRF)
	case SchedStep:
		s.step, err = NewStepLR(s.group, cfg.StepSize, cfg.Gamma)
	case SchedPlateau:
		s.plateau, err = NewReduceLROnPlateau(s.group, true, cfg.Gamma, cfg.PlateauPatience)
	case SchedOneCycle:
		s.onecycle, err = NewOneCycleLR(s.group, cfg.LR, cfg.Epochs*cfg.LoaderLen)
	default:
		err = fmt.Errorf("schedule: unknown scheduler %q: want one of %v", cfg.Sched, SchedNames())
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Metric hands the epoch's validation metric (the one --best_metric maximises) to
// ReduceLROnPlateau.step(metric); the other schedules ignore it. Call it after EndEpoch.
func (s *Script) Metric(v float64) {
	if s.plateau != nil {
		s.plateau.Step(v)
	}
}

// Momentum is the momentum (SGD) or beta1 (Adam, AdamW) the next optimiser step uses, with
// ok set, when the schedule cycles it (OneCycleLR's cycle_momentum).
func (s *Script) Momentum() (m float64, ok bool) {
	if s.onecycle == nil {
		return 0, false
	}
	return s.onecycle.Momentum(), true
}

// PlateauState is ReduceLROnPlateau's state, for checkpoints (ok is false for other schedules).
func (s *Script) PlateauState() (st PlateauState, ok bool) {
	if s.plateau == nil {
		return st, false
	}
	p := s.plateau
	return PlateauState{LR: s.group.LR, Best: p.best, NumBad: p.numBad, Cooldown: p.cooldownCounter, LastEpoch: p.lastEpoch}, true
}

// SetPlateauState restores what PlateauState returned.
func (s *Script) SetPlateauState(st PlateauState) error {
	if s.plateau == nil {
		return errors.New("schedule: not a plateau schedule")
	}
	p := s.plateau
	s.group.LR, p.best, p.numBad, p.cooldownCounter, p.lastEpoch = st.LR, st.Best, st.NumBad, st.Cooldown, st.LastEpoch
	return nil
}

// PlateauState is ReduceLROnPlateau's state_dict (the part that changes) and the group's lr.
// Best is -Inf before the first epoch.
type PlateauState struct {
	LR        float64
	Best      float64
	NumBad    int
	Cooldown  int
	LastEpoch int
}

// Epoch is the index of the next (or current, between StartEpoch and EndEpoch) epoch.
func (s *Script) Epoch() int { return s.epoch }
