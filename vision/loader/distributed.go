package loader

import "fmt"

// Shard makes a loader deliver one rank's part of every epoch, as torch's DistributedSampler
// (drop_last=False) does for DistributedDataParallel: the epoch's global order is padded by
// repeating its start until it divides evenly by World, and rank r takes positions r, r+World,
// r+2·World, ... Every rank gets the same number of samples, so every rank takes the same
// number of steps. The zero value (World 0) means no sharding.
type Shard struct {
	Rank, World int
}

// Validate checks that the shard names a rank of the world.
func (s Shard) Validate() error {
	if s.World < 0 {
		return fmt.Errorf("shard: world size must not be negative, got %d", s.World)
	}
	if s.World > 0 && (s.Rank < 0 || s.Rank >= s.World) {
		return fmt.Errorf("shard: rank %d is outside a world of %d", s.Rank, s.World)
	}
	return nil
}

// NumSamples is DistributedSampler.num_samples for a data set of n samples: ceil(n / World).
func (s Shard) NumSamples(n int) int {
	if s.World <= 0 {
		return n
	}
	return (n + s.World - 1) / s.World
}

// DistributedIndices mirrors torch.utils.data.DistributedSampler.__iter__ with drop_last=False:
// with shuffle, torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)), else
// 0..n-1; then padded and strided as Shard describes.
func DistributedIndices(n int, shard Shard, shuffle bool, seed uint64, epoch int) []int {
	var global []int
	if shuffle {
		global = TorchRandperm(n, seed+uint64(epoch))
	} else {
		global = make([]int, n)
		for i := range global {
			global[i] = i
		}
	}
	return shard.Take(global)
}

// Take pads global by repeating it from the start to a multiple of World (whole copies first
// when the padding is longer than global, as DistributedSampler does) and returns this rank's
// stride of it: global[Rank::World] of the padded list.
func (s Shard) Take(global []int) []int {
	if s.World <= 0 {
		return global
	}
	n := len(global)
	if n == 0 {
		return nil
	}
	total := s.NumSamples(n) * s.World
	out := make([]int, 0, total/s.World)
	for pos := s.Rank; pos < total; pos += s.World {
		out = append(out, global[pos%n])
	}
	return out
}

// TorchRandperm is torch.randperm(n, generator=g) on the CPU for g = torch.Generator() seeded
// with manual_seed(seed): torch 2.1's randperm_cpu Fisher–Yates (for n below 2^32/20, each
// swap index is the generator's next 32-bit draw modulo the remaining length) over at::mt19937.
// Beyond 2^32/20 samples torch switches to 64-bit draws; the order here then differs from
// torch's, though it is still a seeded permutation.
func TorchRandperm(n int, seed uint64) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	if n < 2 {
		return out
	}
	mt := newMT19937(seed)
	for i := 0; i < n-1; i++ {
		z := int(uint64(mt.next()) % uint64(n-i))
		out[i], out[z+i] = out[z+i], out[i]
	}
	return out
}

// mt19937 is the 32-bit Mersenne Twister as at::mt19937 implements it
// (ATen/core/MT19937RNGEngine.h): seeded from the low 32 bits of the seed.
type mt19937 struct {
	state [624]uint32
	left  int
	next_ int
}

func newMT19937(seed uint64) *mt19937 {
	m := &mt19937{left: 1}
	m.state[0] = uint32(seed)
	for j := 1; j < 624; j++ {
		m.state[j] = 1812433253*(m.state[j-1]^(m.state[j-1]>>30)) + uint32(j)
	}
	return m
}

func (m *mt19937) next() uint32 {
	m.left--
	if m.left == 0 {
		m.twist()
	}
	y := m.state[m.next_]
	m.next_++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	return y ^ (y >> 18)
}

func (m *mt19937) twist() {
	const upper, lower, matrixA = 0x80000000, 0x7fffffff, 0x9908b0df
	m.left, m.next_ = 624, 0
	for j := 0; j < 624; j++ {
		y := (m.state[j] & upper) | (m.state[(j+1)%624] & lower)
		v := m.state[(j+397)%624] ^ (y >> 1)
		if y&1 != 0 {
			v ^= matrixA
		}
		m.state[j] = v
	}
}
