package transforms

import "math/rand/v2"

// Rand is the random source of the random transforms. *rand.Rand from math/rand/v2 satisfies
// it; tests may substitute a scripted source.
type Rand interface {
	// Float64 returns a uniform value in [0, 1).
	Float64() float64
	// IntN returns a uniform integer in [0, n); n > 0.
	IntN(n int) int
	// Perm returns a uniform random permutation of [0, n).
	Perm(n int) []int
}

// NewRand returns a PCG-backed generator for one goroutine, seeded by the caller (for example
// from (seed, epoch, sample index)) so augmentation is reproducible.
func NewRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// uniform draws from U[lo, hi) the way torch's Tensor.uniform_ maps a unit draw: lo + (hi-lo)·u.
func uniform(rng Rand, lo, hi float64) float64 {
	return lo + (hi-lo)*rng.Float64()
}
