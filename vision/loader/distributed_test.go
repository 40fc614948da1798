package loader

import (
	"reflect"
	"slices"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

const distGen = "testdata/distsampler_gen.py"

// TestParityDistributedSampler compares DistributedIndices and TorchRandperm with
// torch.utils.data.DistributedSampler and torch.randperm (exact: they are index lists).
func TestParityDistributedSampler(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/distsampler", distGen)
	var cases []struct {
		N, World, Epoch int
		Seed            uint64
		Shuffle         bool
		Ranks           [][]int
		Randperm        []int
	}
	pyoracle.ReadJSON(t, dir, "cases.json", &cases)
	if len(cases) < 10 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		if got := TorchRandperm(c.N, c.Seed+uint64(c.Epoch)); !reflect.DeepEqual(got, c.Randperm) {
			t.Errorf("randperm(%d, seed %d): got %v, torch %v", c.N, c.Seed+uint64(c.Epoch), got, c.Randperm)
		}
		for r := 0; r < c.World; r++ {
			got := DistributedIndices(c.N, Shard{Rank: r, World: c.World}, c.Shuffle, c.Seed, c.Epoch)
			if !reflect.DeepEqual(got, c.Ranks[r]) {
				t.Errorf("n %d world %d rank %d seed %d epoch %d shuffle %v: got %v, torch %v",
					c.N, c.World, r, c.Seed, c.Epoch, c.Shuffle, got, c.Ranks[r])
			}
		}
	}
}

func TestShardValidate(t *testing.T) {
	for _, tc := range []struct {
		s  Shard
		ok bool
	}{
		{Shard{}, true}, {Shard{0, 1}, true}, {Shard{1, 2}, true},
		{Shard{2, 2}, false}, {Shard{-1, 2}, false}, {Shard{0, -1}, false},
	} {
		if err := tc.s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: err %v, want ok=%v", tc.s, err, tc.ok)
		}
	}
}

// TestShardedLoader checks the loader with a Shard: every rank has the same number of batches,
// the ranks' samples cover the split (padding repeats its start), the weighted sampler is
// sharded from one global draw, and batch b of each rank of a world W with batch size B holds
// exactly the samples of batch b of one process with batch size W·B in the same order (what
// makes a W-rank run take the same steps as a 1-rank run with W times the batch).
func TestShardedLoader(t *testing.T) {
	ds := makeSet(t, 10, 3, nil)
	pipe := trainPipe(t)
	for _, sampler := range []string{"random", "weighted"} {
		const world = 3
		var all []int
		var lens []int
		for r := 0; r < world; r++ {
			l, err := New(ds, pipe, 16, Options{BatchSize: 2, Workers: 1, Shuffle: true, Seed: 4, Sampler: sampler,
				Shard: Shard{Rank: r, World: world}})
			if err != nil {
				t.Fatal(err)
			}
			lens = append(lens, l.Len())
			order := l.Order(1)
			if len(order) != 4 {
				t.Fatalf("%s rank %d: %d samples, want ceil(10/3)=4", sampler, r, len(order))
			}
			batches := collect(t, l, 1)
			var delivered []int
			for _, b := range batches {
				delivered = append(delivered, b.Index...)
			}
			if !reflect.DeepEqual(delivered, order) {
				t.Errorf("%s rank %d: delivered %v, order %v", sampler, r, delivered, order)
			}
			all = append(all, order...)
		}
		if lens[0] != 2 || lens[1] != 2 || lens[2] != 2 {
			t.Errorf("%s: batches per rank %v, want 2 each", sampler, lens)
		}
		if sampler == "random" {
			seen := slices.Clone(all)
			slices.Sort(seen)
			seen = slices.Compact(seen)
			if len(seen) != 10 {
				t.Errorf("ranks cover %d of 10 samples: %v", len(seen), all)
			}
		}
	}

	// One process with batch 4 on the 1-rank shard vs two ranks with batch 2.
	one, err := New(ds, pipe, 16, Options{BatchSize: 4, Workers: 1, Shuffle: true, Seed: 9, Shard: Shard{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	global := one.Order(3)
	for r := 0; r < 2; r++ {
		l, err := New(ds, pipe, 16, Options{BatchSize: 2, Workers: 1, Shuffle: true, Seed: 9, Shard: Shard{r, 2}})
		if err != nil {
			t.Fatal(err)
		}
		o := l.Order(3)
		for b := 0; b < l.Len(); b++ {
			for j := 0; j < 2 && 2*b+j < len(o); j++ {
				if want := global[(2*b+j)*2+r]; o[2*b+j] != want {
					t.Errorf("rank %d batch %d item %d: %d, want %d (global batch %d)", r, b, j, o[2*b+j], want, b)
				}
			}
		}
	}
	if _, err := New(ds, pipe, 16, Options{BatchSize: 2, Shard: Shard{Rank: 3, World: 2}}); err == nil {
		t.Error("rank 3 of 2 was accepted")
	}
}
