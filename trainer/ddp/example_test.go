package ddp_test

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/drgrade/drgrade/trainer/ddp"
)

// What a worker started by `torchrun --nnodes 2 --nproc_per_node 2 ... drgrade train` sees:
// the variables init_process_group(init_method="env://") reads. Lookup takes any lookup
// function (FromOS passes os.LookupEnv); here a map stands for the second worker on node 1.
func ExampleLookup() {
	vars := map[string]string{
		"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
		"MASTER_ADDR": "node0", "MASTER_PORT": "29500",
	}
	env, distributed, err := ddp.Lookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	fmt.Printf("distributed %v, err %v: rank %d of %d (local %d of %d), store at %s:%d\n",
		distributed, err, env.Rank, env.World, env.LocalRank, env.LocalWorld, env.MasterAddr, env.MasterPort)

	// A plain `drgrade train` (no RANK, no WORLD_SIZE) is a world of one.
	env, distributed, err = ddp.Lookup(func(string) (string, bool) { return "", false })
	fmt.Printf("distributed %v, err %v: world %d\n", distributed, err, env.World)

	// A broken launch environment is refused before any rendezvous, naming every problem.
	vars["RANK"], vars["MASTER_PORT"] = "three", ""
	_, _, err = ddp.Lookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	fmt.Println(err)
	// Output:
	// distributed true, err <nil>: rank 3 of 4 (local 1 of 2), store at node0:29500
	// distributed false, err <nil>: world 1
	// distributed launch environment: RANK="three" is not an integer; MASTER_PORT is not set
}

// The environment drgrade's own launcher (Launch, `drgrade train --nproc_per_node 2`) gives
// each worker, as torchrun does: the base environment without any stale torchrun variables,
// plus the worker's own.
func ExampleEnv_Environ() {
	base := []string{"PATH=/usr/bin", "RANK=7", "OMP_NUM_THREADS=1"}
	for rank := 0; rank < 2; rank++ {
		env := ddp.Env{Rank: rank, World: 2, LocalRank: rank, LocalWorld: 2,
			MasterAddr: "127.0.0.1", MasterPort: ddp.DefaultMasterPort}
		if err := env.Validate(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(env.Environ(base))
	}
	fmt.Println(ddp.Env{Rank: 2, World: 2, LocalRank: 0, LocalWorld: 1}.Validate())
	// Output:
	// [PATH=/usr/bin OMP_NUM_THREADS=1 RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500]
	// [PATH=/usr/bin OMP_NUM_THREADS=1 RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500]
	// distributed launch environment: RANK 2 is outside 0..1 (WORLD_SIZE 2)
}

// init_process_group("gloo") and the collectives every rank calls at the end of an epoch, in a
// world of one process (the same code runs unchanged on every rank of a larger world). The
// collectives run on one goroutine locked to its OS thread, as the trainer's tensor work does.
func ExampleInit() {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free loopback port for the TCPStore
	if err != nil {
		fmt.Println(err)
		return
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	env := ddp.Env{Rank: 0, World: 1, LocalRank: 0, LocalWorld: 1, MasterAddr: "127.0.0.1", MasterPort: port}

	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // not unlocked: the thread may keep libtorch's thread-local state

		p, err := ddp.Init(env, ddp.Options{Backend: "gloo", Timeout: time.Minute})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer p.Close()
		fmt.Printf("rank %d of %d, main process: %v\n", p.Rank(), p.World(), p.IsMain())

		// The epoch's summed loss and sample count over all ranks.
		sums, err := p.SumFloat64s(12.5, 40)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("mean train loss over the world: %.4f\n", sums[0]/sums[1])

		// Each rank's validation predictions on its shard, merged in data set order.
		all, err := p.GatherPredictions(ddp.Predictions{Index: []int{2, 0, 1}, Preds: []int{4, 0, 2}, Labels: []int{3, 0, 2}})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("index", all.Index, "preds", all.Preds, "labels", all.Labels)
	}()
	<-done
	// Output:
	// rank 0 of 1, main process: true
	// mean train loss over the world: 0.3125
	// index [0 1 2] preds [0 2 4] labels [0 2 3]
}
