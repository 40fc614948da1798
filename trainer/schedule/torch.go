package schedule

import (
	"errors"
	"fmt"
	"math"
)

// StepLR mirrors torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma) (torch 2.1's
// chainable form: lr·gamma at every step_size-th step, the group's lr kept otherwise).
type StepLR struct {
	group     *Group
	stepSize  int
	gamma     float64
	lastEpoch int
}

// NewStepLR attaches a StepLR to g and performs its initial step (which leaves lr unchanged).
func NewStepLR(g *Group, stepSize int, gamma float64) (*StepLR, error) {
	if g == nil {
		return nil, errors.New("schedule: nil param group")
	}
	if stepSize < 1 {
		return nil, fmt.Errorf("schedule: step_size must be positive, got %d", stepSize)
	}
	initialLR(g)
	s := &StepLR{group: g, stepSize: stepSize, gamma: gamma, lastEpoch: -1}
	s.Step()
	return s, nil
}

// Step mirrors StepLR.step().
func (s *StepLR) Step() {
	s.lastEpoch++
	if s.lastEpoch == 0 || s.lastEpoch%s.stepSize != 0 {
		return
	}
	s.group.LR = s.group.LR * s.gamma
}

// CosineAnnealingLR mirrors torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max,
// eta_min) stepped without an epoch argument: torch 2.1's recursive get_lr, not the closed form
// (they differ in the last bits, and past T_max the recursion climbs back up).
type CosineAnnealingLR struct {
	group     *Group
	base      float64
	tMax      int
	etaMin    float64
	lastEpoch int
	stepCount int
}

// NewCosineAnnealingLR attaches the scheduler to g and performs its initial step.
func NewCosineAnnealingLR(g *Group, tMax int, etaMin float64) (*CosineAnnealingLR, error) {
	if g == nil {
		return nil, errors.New("schedule: nil param group")
	}
	if tMax < 1 {
		return nil, fmt.Errorf("schedule: T_max must be positive, got %d", tMax)
	}
	initialLR(g)
	s := &CosineAnnealingLR{group: g, base: g.InitialLR, tMax: tMax, etaMin: etaMin, lastEpoch: -1}
	s.Step()
	return s, nil
}

// Step mirrors LRScheduler.step() with CosineAnnealingLR.get_lr().
func (s *CosineAnnealingLR) Step() {
	s.stepCount++
	s.lastEpoch++
	e, tm, lr := float64(s.lastEpoch), float64(s.tMax), s.group.LR
	switch {
	case s.lastEpoch == 0:
	case s.stepCount == 1 && s.lastEpoch > 0:
		lr = s.etaMin + float64(float64((s.base-s.etaMin)*float64(1+math.Cos(e*math.Pi/tm)))/2)
	case (s.lastEpoch-1-s.tMax)%(2*s.tMax) == 0:
		lr = lr + float64(float64((s.base-s.etaMin)*float64(1-math.Cos(math.Pi/tm)))/2)
	default:
		num := 1 + math.Cos(float64(math.Pi*e)/tm)
		den := 1 + math.Cos(float64(math.Pi*(e-1))/tm)
		lr = float64(float64(num/den)*(lr-s.etaMin)) + s.etaMin
	}
	s.group.LR = lr
}

// ReduceLROnPlateau mirrors torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode,
// factor, patience) with torch's defaults otherwise (threshold 1e-4 relative, cooldown 0,
// min_lr 0, eps 1e-8).
type ReduceLROnPlateau struct {
	group                   *Group
	Max                     bool // mode='max' (a metric to maximise); else 'min'
	Factor                  float64
	Patience                int
	Threshold, MinLR, Eps   float64
	Cooldown                int
	best                    float64
	numBad, cooldownCounter int
	lastEpoch               int
}

// NewReduceLROnPlateau attaches the scheduler to g (it takes no initial step).
func NewReduceLROnPlateau(g *Group, maximise bool, factor float64, patience int) (*ReduceLROnPlateau, error) {
	if g == nil {
		return nil, errors.New("schedule: nil param group")
	}
	if !(factor < 1) {
		return nil, errors.New("schedule: Factor should be < 1.0")
	}
	if patience < 0 {
		return nil, fmt.Errorf("schedule: patience must not be negative, got %d", patience)
	}
	s := &ReduceLROnPlateau{group: g, Max: maximise, Factor: factor, Patience: patience, Threshold: 1e-4, Eps: 1e-8}
	s.best = math.Inf(1)
	if maximise {
		s.best = math.Inf(-1)
	}
	return s, nil
}

func (s *ReduceLROnPlateau) isBetter(a float64) bool {
	if s.Max {
		return a > s.best*(s.Threshold+1)
	}
	return a < s.best*(1-s.Threshold)
}

// Step mirrors ReduceLROnPlateau.step(metrics) (a NaN metric counts as a bad epoch, as in Python).
func (s *ReduceLROnPlateau) Step(metric float64) {
	s.lastEpoch++
	if s.isBetter(metric) {
		s.best, s.numBad = metric, 0
	} else {
		s.numBad++
	}
	if s.cooldownCounter > 0 {
		s.cooldownCounter--
		s.numBad = 0
	}
	if s.numBad > s.Patience {
		old := s.group.LR
		nl := math.Max(old*s.Factor, s.MinLR)
		if old-nl > s.Eps {
			s.group.LR = nl
		}
		s.cooldownCounter, s.numBad = s.Cooldown, 0
	}
}

// OneCycleLR mirrors torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps) with
// its defaults: pct_start 0.3, cosine annealing, div_factor 25, final_div_factor 1e4, two
// phases, cycle_momentum between max_momentum 0.95 and base_momentum 0.85 (SGD's momentum, or
// Adam's beta1: Momentum()).
type OneCycleLR struct {
	group                                 *Group
	total                                 int
	PctStart, DivFactor, FinalDivFactor   float64
	maxLR, initLR, minLR, maxMom, baseMom float64
	momentum                              float64
	lastEpoch                             int
}

// NewOneCycleLR attaches the scheduler to g (setting initial_lr = max_lr/25 as torch does)
// and performs its initial step.
func NewOneCycleLR(g *Group, maxLR float64, totalSteps int) (*OneCycleLR, error) {
	if g == nil {
		return nil, errors.New("schedule: nil param group")
	}
	if totalSteps <= 0 {
		return nil, fmt.Errorf("schedule: expected positive integer total_steps, but got %d", totalSteps)
	}
	s := &OneCycleLR{group: g, total: totalSteps, PctStart: 0.3, DivFactor: 25, FinalDivFactor: 1e4,
		maxLR: maxLR, maxMom: 0.95, baseMom: 0.85, lastEpoch: -1}
	s.initLR = maxLR / s.DivFactor
	s.minLR = s.initLR / s.FinalDivFactor
	g.InitialLR, g.HasInitialLR = s.initLR, true
	s.momentum = s.maxMom
	if err := s.Step(); err != nil {
		return nil, err
	}
	return s, nil
}

func annealCos(start, end, pct float64) float64 {
	cosOut := math.Cos(math.Pi*pct) + 1
	return end + float64(float64((start-end)/2.0)*cosOut)
}

// Step mirrors OneCycleLR.step(); stepping past total_steps is an error, as in torch.
func (s *OneCycleLR) Step() error {
	s.lastEpoch++
	n := s.lastEpoch
	if n > s.total {
		return fmt.Errorf("schedule: tried to step %d times. The specified number of total steps is %d", n, s.total)
	}
	end1 := float64(s.PctStart*float64(s.total)) - 1
	end2 := float64(s.total - 1)
	var pct float64
	if float64(n) <= end1 {
		pct = float64(n) / end1
		s.group.LR = annealCos(s.initLR, s.maxLR, pct)
		s.momentum = annealCos(s.maxMom, s.baseMom, pct)
	} else {
		pct = (float64(n) - end1) / (end2 - end1)
		s.group.LR = annealCos(s.maxLR, s.minLR, pct)
		s.momentum = annealCos(s.baseMom, s.maxMom, pct)
	}
	return nil
}

// Momentum is the momentum (SGD) or beta1 (Adam, AdamW) the next optimiser step uses.
func (s *OneCycleLR) Momentum() float64 { return s.momentum }

// initialLR is LRScheduler.__init__'s group.setdefault('initial_lr', group['lr']).
func initialLR(g *Group) {
	if !g.HasInitialLR {
		g.InitialLR, g.HasInitialLR = g.LR, true
	}
}
