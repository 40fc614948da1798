package loader

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/preprocess"
	"github.com/drgrade/drgrade/vision/transforms"
)

// Options configure a Loader; zero values take the script's defaults where it has one.
type Options struct {
	BatchSize int
	// Workers is the number of worker goroutines; 0 means the script's
	// min(os.cpu_count(), batch_size if batch_size > 1 else 0, 8), and with that rule a
	// batch size of 1 loads on the consumer's goroutine.
	Workers int
	Shuffle bool
	Seed    uint64
	// Sampler "weighted" draws len(dataset) samples with replacement, each with probability
	// ∝ 1/count(label) (torch's WeightedRandomSampler with class-balanced weights);
	// "" or "random" keeps the plain (shuffled or sequential) order.
	Sampler string
	// SkipBad skips images that cannot be decoded (counted in Batch.Skipped) instead of failing.
	SkipBad bool
	// Prefetch is the number of batches each worker may prepare ahead (torch's prefetch_factor, 2).
	Prefetch int
	// Shard delivers one rank's part of each epoch (torch's DistributedSampler, seeded by
	// Seed+epoch); the zero value loads the whole split.
	Shard Shard
}

// DefaultWorkers is the script's nw = min(os.cpu_count(), batch_size if batch_size > 1 else 0, 8).
func DefaultWorkers(batchSize int) int {
	b := 0
	if batchSize > 1 {
		b = batchSize
	}
	return min(runtime.NumCPU(), b, 8)
}

// Loader iterates over one data set split with one transform pipeline.
type Loader struct {
	ds    *dataset.Dataset
	pipe  *transforms.Pipeline
	opts  Options
	crop  int // output side, for buffer sizes
	pool  sync.Pool
	probs []float64 // weighted sampler: cumulative distribution over samples
}

// New builds a loader. cropSize is the side of the pipeline's square output (e.g. 224).
func New(ds *dataset.Dataset, pipe *transforms.Pipeline, cropSize int, opts Options) (*Loader, error) {
	if opts.BatchSize < 1 {
		return nil, fmt.Errorf("batch_size must be at least 1, got %d", opts.BatchSize)
	}
	if opts.Workers < 0 {
		return nil, fmt.Errorf("num_workers must not be negative, got %d", opts.Workers)
	}
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers(opts.BatchSize)
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 2
	}
	if ds.Len() == 0 {
		return nil, fmt.Errorf("the %s split (%s) has no images", ds.Split, ds.LabelFile)
	}
	if err := opts.Shard.Validate(); err != nil {
		return nil, err
	}
	l := &Loader{ds: ds, pipe: pipe, opts: opts, crop: cropSize}
	switch opts.Sampler {
	case "", "random":
	case "weighted":
		counts := map[int]int{}
		for _, y := range ds.Labels {
			counts[y]++
		}
		l.probs = make([]float64, ds.Len())
		var acc float64
		for i, y := range ds.Labels {
			acc += 1 / float64(counts[y])
			l.probs[i] = acc
		}
	default:
		return nil, fmt.Errorf("sampler %q: want random or weighted", opts.Sampler)
	}
	return l, nil
}

// Len is the number of batches per epoch (the last partial batch is kept); with a Shard, of
// this rank's part.
func (l *Loader) Len() int {
	return (l.opts.Shard.NumSamples(l.ds.Len()) + l.opts.BatchSize - 1) / l.opts.BatchSize
}

// Workers is the number of worker goroutines in use (0: loading on the consumer's goroutine).
func (l *Loader) Workers() int { return l.opts.Workers }

// Dataset returns the split being loaded.
func (l *Loader) Dataset() *dataset.Dataset { return l.ds }

// mix is splitmix64's finaliser: decorrelates the (seed, epoch, index) streams.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Order returns the sample indices of an epoch, in delivery order. With a Shard it is this
// rank's part: DistributedIndices for the random and sequential orders; for the weighted
// sampler (which torch's DistributedSampler cannot wrap), the same global draw on every rank,
// padded and strided alike.
func (l *Loader) Order(epoch int) []int {
	n := l.ds.Len()
	if l.opts.Shard.World > 0 && l.probs == nil {
		return DistributedIndices(n, l.opts.Shard, l.opts.Shuffle, l.opts.Seed, epoch)
	}
	if l.opts.Shard.World > 0 {
		return l.opts.Shard.Take(l.globalOrder(epoch))
	}
	return l.globalOrder(epoch)
}

// globalOrder is the unsharded order of an epoch.
func (l *Loader) globalOrder(epoch int) []int {
	n := l.ds.Len()
	rng := transforms.NewRand(mix(l.opts.Seed), mix(uint64(epoch)^0x5a5a))
	if l.probs != nil {
		total := l.probs[n-1]
		out := make([]int, n)
		for i := range out {
			u := rng.Float64() * total
			out[i] = sort.SearchFloat64s(l.probs, u)
			if out[i] >= n { // u rounding at the top end
				out[i] = n - 1
			}
		}
		return out
	}
	if l.opts.Shuffle {
		return rng.Perm(n)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// SampleRand is the random source of sample index at epoch: its augmentation depends on
// (seed, epoch, index) only.
func (l *Loader) SampleRand(epoch, index int) transforms.Rand {
	return transforms.NewRand(mix(l.opts.Seed^mix(uint64(epoch))), mix(uint64(index)))
}

// Skipped is an image left out with Options.SkipBad.
type Skipped struct {
	Path string
	Err  error
}

// Batch is one collated batch: Images holds N×3×H×W float32 values (NCHW), Labels N labels.
type Batch struct {
	Images  []float32
	N, H, W int
	Labels  []int64
	Index   []int // data set index of each sample
	Skipped []Skipped
	l       *Loader
}

// Release returns the batch's buffers for reuse; the batch must not be used afterwards.
func (b *Batch) Release() {
	if b.l != nil && b.Images != nil {
		buf := b.Images[:cap(b.Images)]
		b.l.pool.Put(&buf)
	}
	b.Images, b.Labels, b.Index = nil, nil, nil
}

// load builds batch bi of an epoch's order. src is the calling goroutine's file buffer: its
// recycled buffers hold each file and the decoded window only until the pipeline's first step
// has returned (the steps copy), so a worker reuses one for all its images.
func (l *Loader) load(epoch int, order []int, bi int, src *imageio.Encoded) (*Batch, error) {
	lo := bi * l.opts.BatchSize
	hi := min(lo+l.opts.BatchSize, len(order))
	per := 3 * l.crop * l.crop
	need := (hi - lo) * per
	var images []float32
	if p, ok := l.pool.Get().(*[]float32); ok && cap(*p) >= need {
		images = (*p)[:need]
	} else {
		images = make([]float32, need)
	}
	b := &Batch{Images: images, H: l.crop, W: l.crop, l: l}
	for _, idx := range order[lo:hi] {
		path := l.ds.Paths[idx]
		// The pipeline decodes the file: only the window its first step reads when it can
		// (Pipeline.RunSource), else all of it, as imageio.Decode (whose images are never
		// empty) would.
		err := src.ReadFile(path)
		var s transforms.Sample
		if err == nil {
			dst := images[b.N*per : (b.N+1)*per]
			s, err = l.pipe.RunSource(src, l.SampleRand(epoch, idx), dst)
			if errors.Is(err, preprocess.ErrNoField) { // --preprocess crop: name the image
				err = fmt.Errorf("%s: %w", path, err)
			}
			if err == nil && (s.H != l.crop || s.W != l.crop) {
				err = fmt.Errorf("%s: transform produced %d×%d, want %d×%d", path, s.W, s.H, l.crop, l.crop)
			}
			if err == nil && &s.CHW[0] != &dst[0] {
				copy(dst, s.CHW)
			}
		}
		if err != nil {
			if l.opts.SkipBad {
				b.Skipped = append(b.Skipped, Skipped{Path: path, Err: err})
				continue
			}
			b.Release()
			return nil, err
		}
		b.Labels = append(b.Labels, int64(l.ds.Labels[idx]))
		b.Index = append(b.Index, idx)
		b.N++
	}
	b.Images = b.Images[:b.N*per]
	return b, nil
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("loader: iterator closed")

// Iter delivers one epoch's batches in order.
type Iter struct {
	l      *Loader
	src    imageio.Encoded // the synchronous loader's file buffer
	epoch  int
	order  []int
	next   int
	slots  []chan result
	sem    chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
	closed bool
}

type result struct {
	b   *Batch
	err error
}

// Epoch starts iterating over epoch's batches. Call Close when done (also after an early stop).
func (l *Loader) Epoch(epoch int) *Iter {
	it := &Iter{l: l, epoch: epoch, order: l.Order(epoch), done: make(chan struct{})}
	nb := l.Len()
	if l.opts.Workers == 0 {
		return it // synchronous: Next loads on the caller's goroutine
	}
	it.slots = make([]chan result, nb)
	for i := range it.slots {
		it.slots[i] = make(chan result, 1)
	}
	// sem bounds how far the workers run ahead of the consumer.
	it.sem = make(chan struct{}, l.opts.Workers*l.opts.Prefetch)
	jobs := make(chan int)
	it.wg.Add(1)
	go func() { // feeder: hands out batch numbers in order, as slots free up
		defer it.wg.Done()
		defer close(jobs)
		for bi := 0; bi < nb; bi++ {
			select {
			case it.sem <- struct{}{}:
			case <-it.done:
				return
			}
			select {
			case jobs <- bi:
			case <-it.done:
				return
			}
		}
	}()
	for w := 0; w < l.opts.Workers; w++ {
		it.wg.Add(1)
		go func() {
			defer it.wg.Done()
			var src imageio.Encoded // this worker's file and window buffers
			for bi := range jobs {
				b, err := l.load(epoch, it.order, bi, &src)
				select {
				case it.slots[bi] <- result{b, err}:
				case <-it.done:
					if b != nil {
						b.Release()
					}
					return
				}
			}
		}()
	}
	return it
}

// Next returns the next batch, (nil, nil) at the end of the epoch, or the error that stopped it.
func (it *Iter) Next() (*Batch, error) {
	if it.closed {
		return nil, ErrClosed
	}
	if it.next >= it.l.Len() {
		return nil, nil
	}
	bi := it.next
	it.next++
	if it.slots == nil {
		return it.l.load(it.epoch, it.order, bi, &it.src)
	}
	r := <-it.slots[bi]
	<-it.sem
	return r.b, r.err
}

// Close stops the workers, frees undelivered batches and waits for every goroutine to exit.
func (it *Iter) Close() {
	if it.closed {
		return
	}
	it.closed = true
	close(it.done)
	it.wg.Wait()
	for _, s := range it.slots {
		select {
		case r := <-s:
			if r.b != nil {
				r.b.Release()
			}
		default:
		}
	}
}
