package own

import (
	"errors"
	"runtime/debug"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// live counts gotch's live tensor handles; GC is off in these tests, so a handle nobody
// dropped stays counted instead of being freed by its finalizer.
func live() int { return len(ts.ExistingTensors) }

// value reads t's first element (after the counts: reading makes a tensor of its own).
func value(t *ts.Tensor) float64 { return t.Float64Values()[0] }

func TestScopeFreesWhatItTracks(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	x := ts.MustOnes([]int64{2, 3}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	before := live()
	out := func() *ts.Tensor {
		var s Scope
		defer s.Free()
		a, err := s.Track(x.MulScalar(ts.FloatScalar(2), false))
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Track(a.AddScalar(ts.FloatScalar(1), false))
		if err != nil {
			t.Fatal(err)
		}
		c := ts.MustOnes([]int64{1}, gotch.Float, gotch.CPU)
		s.Add(c, nil)
		if _, err := s.Track(nil, errors.New("failed op")); err == nil {
			t.Fatal("Track dropped the error")
		}
		y, err := b.Mul(b, false) // returned: not tracked
		if err != nil {
			t.Fatal(err)
		}
		return y
	}()
	if got := live(); got != before+1 {
		t.Fatalf("live tensors %d → %d, want +1 (the returned one)", before, got)
	}
	v := value(out)
	n := live()
	out.MustDrop()
	if got := live(); got != n-1 {
		t.Fatalf("live tensors %d → %d after dropping the result", n, got)
	}
	if v != 9 {
		t.Fatalf("(2·1+1)² = %v, want 9", v)
	}
}

func TestChain(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	x := ts.MustOnes([]int64{4}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	add := func(c *Chain, v float64) error { return c.Next(c.Cur().AddScalar(ts.FloatScalar(v), false)) }
	tests := []struct {
		name    string
		stages  []float64
		failAt  int // index of a failing stage; -1 none
		want    float64
		wantErr bool
	}{
		{"three stages", []float64{1, 2, 3}, -1, 7, false},
		{"no stage: a clone of the input", nil, -1, 1, false},
		{"failure after two stages", []float64{1, 2, 3}, 2, 0, true},
		{"failure at once", []float64{1}, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := live()
			peak := 0
			got, err := func() (*ts.Tensor, error) {
				c := NewChain(x)
				defer c.Free()
				for i, v := range tc.stages {
					if i == tc.failAt {
						if err := c.Next(nil, errors.New("stage failed")); err != nil {
							return nil, err
						}
					}
					if err := add(c, v); err != nil {
						return nil, err
					}
					peak = max(peak, live()-before)
				}
				return c.Result()
			}()
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if live() != before {
					t.Fatalf("live tensors %d → %d after a failed chain", before, live())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if peak > 1 {
				t.Errorf("%d stages alive at once, want 1", peak)
			}
			if live() != before+1 {
				t.Errorf("live tensors %d → %d, want +1 (the result)", before, live())
			}
			v := value(got)
			n := live()
			got.MustDrop()
			if live() != n-1 {
				t.Errorf("dropping the result: live %d → %d", n, live())
			}
			if v != tc.want || value(x) != 1 {
				t.Errorf("result %v (want %v), input %v (want 1)", v, tc.want, value(x))
			}
		})
	}
}
