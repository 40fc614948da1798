package ddp

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Env is the environment torchrun gives each worker (and drgrade's own launcher gives too):
// the same variables PyTorch's env:// rendezvous reads.
type Env struct {
	Rank       int    // RANK: global rank, 0..World-1
	World      int    // WORLD_SIZE: number of processes over all nodes
	LocalRank  int    // LOCAL_RANK: rank on this node (default: Rank)
	LocalWorld int    // LOCAL_WORLD_SIZE: processes on this node (default: World)
	MasterAddr string // MASTER_ADDR: host of the TCPStore (rank 0's node)
	MasterPort int    // MASTER_PORT: its port
	// AgentStore is TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent already hosts the
	// TCPStore, so every rank connects as a client under /worker/attempt_<RestartCount>.
	AgentStore   bool
	RestartCount int // TORCHELASTIC_RESTART_COUNT
}

// The variable names, as torch.distributed.run sets them.
const (
	EnvRank       = "RANK"
	EnvWorld      = "WORLD_SIZE"
	EnvLocalRank  = "LOCAL_RANK"
	EnvLocalWorld = "LOCAL_WORLD_SIZE"
	EnvMasterAddr = "MASTER_ADDR"
	EnvMasterPort = "MASTER_PORT"
	EnvAgentStore = "TORCHELASTIC_USE_AGENT_STORE"
	EnvRestarts   = "TORCHELASTIC_RESTART_COUNT"
)

// FromOS reads the environment of this process; see Lookup.
func FromOS() (Env, bool, error) { return Lookup(os.LookupEnv) }

// Lookup reads torchrun's variables through lookup. ok is false when neither RANK nor
// WORLD_SIZE is set (a plain single-process run). With either set, RANK, WORLD_SIZE,
// MASTER_ADDR and MASTER_PORT are required, as torch's env:// rendezvous requires them.
func Lookup(lookup func(string) (string, bool)) (env Env, ok bool, err error) {
	_, hasRank := lookup(EnvRank)
	_, hasWorld := lookup(EnvWorld)
	if !hasRank && !hasWorld {
		return Env{World: 1, LocalWorld: 1}, false, nil
	}
	var bad []string
	integer := func(name string, required bool, def int) int {
		s, set := lookup(name)
		s = strings.TrimSpace(s)
		if !set || s == "" {
			if required {
				bad = append(bad, fmt.Sprintf("%s is not set", name))
			}
			return def
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s=%q is not an integer", name, s))
			return def
		}
		return v
	}
	env.Rank = integer(EnvRank, true, 0)
	env.World = integer(EnvWorld, true, 1)
	env.LocalRank = integer(EnvLocalRank, false, env.Rank)
	env.LocalWorld = integer(EnvLocalWorld, false, env.World)
	env.MasterPort = integer(EnvMasterPort, true, 0)
	env.RestartCount = integer(EnvRestarts, false, 0)
	if a, set := lookup(EnvMasterAddr); set && strings.TrimSpace(a) != "" {
		env.MasterAddr = strings.TrimSpace(a)
	} else {
		bad = append(bad, EnvMasterAddr+" is not set")
	}
	if v, _ := lookup(EnvAgentStore); v == "True" {
		env.AgentStore = true
	}
	if len(bad) == 0 {
		err = env.Validate()
	} else {
		err = fmt.Errorf("distributed launch environment: %s", strings.Join(bad, "; "))
	}
	return env, true, err
}

// Validate checks the values make a consistent world.
func (e Env) Validate() error {
	var bad []string
	if e.World < 1 {
		bad = append(bad, fmt.Sprintf("WORLD_SIZE must be at least 1, got %d", e.World))
	} else if e.Rank < 0 || e.Rank >= e.World {
		bad = append(bad, fmt.Sprintf("RANK %d is outside 0..%d (WORLD_SIZE %d)", e.Rank, e.World-1, e.World))
	}
	if e.LocalRank < 0 || (e.LocalWorld > 0 && e.LocalRank >= e.LocalWorld) {
		bad = append(bad, fmt.Sprintf("LOCAL_RANK %d is outside 0..%d (LOCAL_WORLD_SIZE %d)", e.LocalRank, e.LocalWorld-1, e.LocalWorld))
	}
	if e.MasterPort < 0 || e.MasterPort > 65535 {
		bad = append(bad, fmt.Sprintf("MASTER_PORT must be within 0..65535, got %d", e.MasterPort))
	}
	if len(bad) > 0 {
		return fmt.Errorf("distributed launch environment: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Environ is the environment for a worker with these values: base without any of torchrun's
// variables, plus this Env's (what torchrun exports to each worker it starts).
func (e Env) Environ(base []string) []string {
	drop := map[string]bool{EnvRank: true, EnvWorld: true, EnvLocalRank: true, EnvLocalWorld: true,
		EnvMasterAddr: true, EnvMasterPort: true, EnvAgentStore: true, EnvRestarts: true}
	out := make([]string, 0, len(base)+8)
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out,
		EnvRank+"="+strconv.Itoa(e.Rank),
		EnvWorld+"="+strconv.Itoa(e.World),
		EnvLocalRank+"="+strconv.Itoa(e.LocalRank),
		EnvLocalWorld+"="+strconv.Itoa(e.LocalWorld),
		EnvMasterAddr+"="+e.MasterAddr,
		EnvMasterPort+"="+strconv.Itoa(e.MasterPort),
	)
}
