package schedule

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

// tolLR bounds |Go − PyTorch| for a learning rate: the brief's 1e-12 (absolute, on rates ≤ 0.1).
// Every operation is the same float64 operation in the same order; the only possible source of
// difference is math.Cos versus the C library's cos (≤ 1 ulp), i.e. ≤ ~1e-17 on these rates.
const tolLR = 1e-12

type goldenRun struct {
	LR         float64
	LRF        float64
	Epochs     int
	LoaderLen  int `json:"loader_len"`
	Warmup     bool
	Initial    float64
	Used       [][]float64
	AfterTrain []float64 `json:"after_train"`
	Logged     []float64
}

func TestParitySchedule(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/schedule", "testdata/schedule_gen.py")
	var runs []goldenRun
	pyoracle.ReadJSON(t, dir, "runs.json", &runs)
	if len(runs) < 10 {
		t.Fatalf("only %d golden runs", len(runs))
	}
	var compared, exact int
	maxDiff := 0.0
	cmp := func(t *testing.T, what string, got, want float64) {
		t.Helper()
		compared++
		d := math.Abs(got - want)
		if d == 0 {
			exact++
		}
		maxDiff = max(maxDiff, d)
		if !(d <= tolLR) {
			t.Errorf("%s: lr %.17g, PyTorch %.17g", what, got, want)
		}
	}
	for _, g := range runs {
		name := fmt.Sprintf("lr%g_lrf%g_epochs%d_len%d_warmup%v", g.LR, g.LRF, g.Epochs, g.LoaderLen, g.Warmup)
		t.Run(name, func(t *testing.T) {
			s, err := NewScript(Config{LR: g.LR, LRF: g.LRF, Epochs: g.Epochs, LoaderLen: g.LoaderLen, Warmup: g.Warmup})
			if err != nil {
				t.Fatal(err)
			}
			cmp(t, "initial", s.LR(), g.Initial)
			for e, used := range g.Used {
				if len(used) != g.LoaderLen {
					t.Fatalf("epoch %d: golden has %d iterations, loader %d", e, len(used), g.LoaderLen)
				}
				if err := s.StartEpoch(e); err != nil {
					t.Fatal(err)
				}
				for i, want := range used {
					cmp(t, fmt.Sprintf("epoch %d iteration %d", e, i), s.LR(), want)
					if err := s.AfterOptimizerStep(); err != nil {
						t.Fatal(err)
					}
				}
				cmp(t, fmt.Sprintf("epoch %d after train_one_epoch", e), s.LR(), g.AfterTrain[e])
				if err := s.EndEpoch(); err != nil {
					t.Fatal(err)
				}
				cmp(t, fmt.Sprintf("epoch %d logged", e), s.LR(), g.Logged[e])
			}
		})
	}
	t.Logf("%d learning rates compared, %d bit-identical, max |Go - PyTorch| = %.3g", compared, exact, maxDiff)
}

func TestWarmupFactor(t *testing.T) {
	tests := []struct {
		iters, x int
		want     float64
	}{
		{4, 0, 1e-3},
		{4, 2, 1e-3*0.5 + 0.5},
		{4, 4, 1},
		{4, 9, 1},
		{0, 0, 1},  // loader of one batch: W = 0, no division, no warmup
		{-1, 0, 1}, // empty loader
		{1000, 999, 1e-3*(1-0.999) + 0.999},
	}
	for _, tc := range tests {
		if got := Warmup(tc.iters, WarmupFactor)(tc.x); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("f(%d) with W=%d = %.17g, want %.17g", tc.x, tc.iters, got, tc.want)
		}
	}
	for _, tc := range []struct{ n, want int }{{0, -1}, {1, 0}, {2, 1}, {37, 36}, {1001, 1000}, {5000, 1000}} {
		if got := WarmupIters(tc.n); got != tc.want {
			t.Errorf("WarmupIters(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestCosine(t *testing.T) {
	lf, err := Cosine(10, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		x    int
		want float64
	}{{0, 1}, {5, 0.5*(1-1e-4) + 1e-4}, {10, 1e-4}}
	for _, tc := range tests {
		if got := lf(tc.x); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("lf(%d) = %.17g, want %.17g", tc.x, got, tc.want)
		}
	}
	for _, epochs := range []int{0, -3} {
		if _, err := Cosine(epochs, 1e-4); err == nil {
			t.Errorf("Cosine(%d) accepted", epochs)
		}
	}
}

// Two LambdaLRs on one group: the second reuses the first's initial_lr, and each step of
// either sets lr = initial_lr · own lambda.
func TestLambdaLRSharedGroup(t *testing.T) {
	g := NewGroup(2)
	a, err := NewLambdaLR(func(x int) float64 { return 1 / float64(x+1) }, g)
	if err != nil {
		t.Fatal(err)
	}
	if g.LR != 2 || !g.HasInitialLR || g.InitialLR != 2 || a.LastEpoch() != 0 {
		t.Fatalf("after first scheduler: %+v, last_epoch %d", *g, a.LastEpoch())
	}
	a.Step() // lr = 2 · 1/2
	if g.LR != 1 {
		t.Fatalf("lr = %v, want 1", g.LR)
	}
	b, err := NewLambdaLR(func(x int) float64 { return 10 * float64(x+1) }, g)
	if err != nil {
		t.Fatal(err)
	}
	if g.InitialLR != 2 || g.LR != 20 {
		t.Fatalf("second scheduler: initial_lr %v (want 2), lr %v (want 2·10)", g.InitialLR, g.LR)
	}
	b.Step()
	a.Step() // overwrites b's value: 2 · 1/3
	if got := a.LastLR(); len(got) != 1 || got[0] != 2.0/3 {
		t.Fatalf("LastLR = %v, want [2/3]", got)
	}
}

func TestLambdaLRErrors(t *testing.T) {
	tests := []struct {
		name   string
		lambda Lambda
		groups []*Group
	}{
		{"nil lambda", nil, []*Group{NewGroup(1)}},
		{"no groups", func(int) float64 { return 1 }, nil},
		{"nil group", func(int) float64 { return 1 }, []*Group{nil}},
	}
	for _, tc := range tests {
		if _, err := NewLambdaLR(tc.lambda, tc.groups...); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestScriptMisuse(t *testing.T) {
	base := Config{LR: 2e-4, LRF: 1e-4, Epochs: 3, LoaderLen: 5, Warmup: true}
	bad := []struct {
		name string
		mod  func(*Config)
	}{
		{"negative lr", func(c *Config) { c.LR = -1 }},
		{"nan lr", func(c *Config) { c.LR = math.NaN() }},
		{"inf lrf", func(c *Config) { c.LRF = math.Inf(1) }},
		{"zero epochs", func(c *Config) { c.Epochs = 0 }},
		{"negative loader", func(c *Config) { c.LoaderLen = -2 }},
	}
	for _, tc := range bad {
		c := base
		tc.mod(&c)
		if _, err := NewScript(c); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	s, err := NewScript(base)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
		want string // "" = must succeed
	}{
		{"step before start", s.AfterOptimizerStep, "outside"},
		{"end before start", s.EndEpoch, "without"},
		{"wrong epoch", func() error { return s.StartEpoch(1) }, "expected epoch 0"},
		{"start", func() error { return s.StartEpoch(0) }, ""},
		{"start twice", func() error { return s.StartEpoch(0) }, "before EndEpoch"},
		{"end", s.EndEpoch, ""},
	}
	for _, st := range steps {
		err := st.do()
		if st.want == "" && err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if st.want != "" && (err == nil || !strings.Contains(err.Error(), st.want)) {
			t.Fatalf("%s: err %v, want %q", st.name, err, st.want)
		}
	}
	if s.Epoch() != 1 {
		t.Errorf("Epoch() = %d, want 1", s.Epoch())
	}
}
