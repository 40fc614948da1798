// Package own is drgrade's one tensor-ownership idiom (docs/ownership.md). gotch tensors hold
// C memory that Go's collector does not see, so every tensor is dropped by its owner:
//
//   - a function borrows its tensor arguments and gives the caller the tensors it returns;
//   - a struct (a model, a criterion, an optimiser) owns its fields and drops them in Close;
//   - the intermediates of a function body live in a Scope, freed when the function returns;
//   - the stages of a pipeline, where each stage consumes only the previous one, live in a
//     Chain, which drops each stage as soon as the next exists.
//
// gotch's del argument (an op dropping its receiver) is not used: ownership stays visible at
// the call site. Scalars (ts.FloatScalar) are left to their finalizers: gotch v0.9.1's
// Scalar.Drop does nothing, and patch 0003 keeps a scalar alive while an op reads it.
package own

import "github.com/sugarme/gotch/ts"

// Scope holds the intermediate tensors of one function body. The zero value is ready:
//
//	var s own.Scope
//	defer s.Free()
//	a, err := s.Track(x.Permute(dims, false))
type Scope struct {
	held []*ts.Tensor
}

// Track records t when err is nil and passes both through, so it wraps any gotch op.
func (s *Scope) Track(t *ts.Tensor, err error) (*ts.Tensor, error) {
	if err == nil && t != nil {
		s.held = append(s.held, t)
	}
	return t, err
}

// Add records tensors made otherwise (e.g. by a function returning several).
func (s *Scope) Add(ts ...*ts.Tensor) {
	for _, t := range ts {
		if t != nil {
			s.held = append(s.held, t)
		}
	}
}

// Free drops every recorded tensor; the Scope can be used again afterwards.
func (s *Scope) Free() {
	for _, t := range s.held {
		t.MustDrop()
	}
	s.held = s.held[:0]
}

// Chain runs a pipeline on a borrowed input: each stage reads Cur and hands its result to
// Next, which drops the stage before (never the input). Peak memory is two stages, as in
// nn.Sequential under no_grad.
//
//	c := own.NewChain(x)
//	defer c.Free()
//	for _, l := range layers {
//		if err := c.Next(l.ForwardT(c.Cur(), train)); err != nil {
//			return nil, err
//		}
//	}
//	return c.Result()
type Chain struct {
	in, cur *ts.Tensor
}

// NewChain starts a pipeline on x, which stays the caller's.
func NewChain(x *ts.Tensor) *Chain { return &Chain{in: x, cur: x} }

// Cur is the current stage (the input until Next succeeds once).
func (c *Chain) Cur() *ts.Tensor { return c.cur }

// Next makes t the current stage and drops the previous one unless it is the input. On error
// the current stage is kept (Free drops it).
func (c *Chain) Next(t *ts.Tensor, err error) error {
	if err != nil {
		return err
	}
	if c.cur != c.in {
		c.cur.MustDrop()
	}
	c.cur = t
	return nil
}

// Result hands the current stage to the caller, who owns it; with no stage run it is a
// shallow clone of the input (a new handle on the same storage), so the caller may always drop
// what it gets.
func (c *Chain) Result() (*ts.Tensor, error) {
	if c.cur == c.in {
		return c.in.ShallowClone()
	}
	t := c.cur
	c.cur = c.in
	return t, nil
}

// Free drops the current stage unless it is the input or Result took it.
func (c *Chain) Free() {
	if c.cur != c.in {
		c.cur.MustDrop()
	}
	c.cur = c.in
}
