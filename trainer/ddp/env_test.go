package ddp

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	full := map[string]string{"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
		"MASTER_ADDR": "node0", "MASTER_PORT": "29500"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		ok      bool
		want    Env
		wantErr string
	}{
		{name: "not distributed", env: map[string]string{"PATH": "/bin"}, ok: false, want: Env{World: 1, LocalWorld: 1}},
		{name: "torchrun", env: full, ok: true,
			want: Env{Rank: 1, World: 4, LocalRank: 1, LocalWorld: 2, MasterAddr: "node0", MasterPort: 29500}},
		{name: "torchrun agent store", env: with("TORCHELASTIC_USE_AGENT_STORE", "True", "TORCHELASTIC_RESTART_COUNT", "2"), ok: true,
			want: Env{Rank: 1, World: 4, LocalRank: 1, LocalWorld: 2, MasterAddr: "node0", MasterPort: 29500, AgentStore: true, RestartCount: 2}},
		{name: "agent store False", env: with("TORCHELASTIC_USE_AGENT_STORE", "False"), ok: true,
			want: Env{Rank: 1, World: 4, LocalRank: 1, LocalWorld: 2, MasterAddr: "node0", MasterPort: 29500}},
		{name: "local rank defaults to rank", env: with("LOCAL_RANK", "<unset>", "LOCAL_WORLD_SIZE", "<unset>"), ok: true,
			want: Env{Rank: 1, World: 4, LocalRank: 1, LocalWorld: 4, MasterAddr: "node0", MasterPort: 29500}},
		{name: "no master addr", env: with("MASTER_ADDR", "<unset>"), ok: true, wantErr: "MASTER_ADDR is not set"},
		{name: "no port", env: with("MASTER_PORT", "<unset>"), ok: true, wantErr: "MASTER_PORT is not set"},
		{name: "rank without world", env: with("WORLD_SIZE", "<unset>"), ok: true, wantErr: "WORLD_SIZE is not set"},
		{name: "bad rank", env: with("RANK", "x"), ok: true, wantErr: `RANK="x" is not an integer`},
		{name: "rank outside world", env: with("RANK", "4"), ok: true, wantErr: "RANK 4 is outside 0..3"},
		{name: "port too big", env: with("MASTER_PORT", "70000"), ok: true, wantErr: "MASTER_PORT must be within"},
		{name: "local rank outside", env: with("LOCAL_RANK", "2"), ok: true, wantErr: "LOCAL_RANK 2 is outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := Lookup(func(k string) (string, bool) { v, set := tc.env[k]; return v, set })
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestEnvironRoundTrip: the launcher's environment reads back as the same Env, and stale
// torchrun variables of the parent are replaced, not duplicated.
func TestEnvironRoundTrip(t *testing.T) {
	e := Env{Rank: 2, World: 3, LocalRank: 2, LocalWorld: 3, MasterAddr: "127.0.0.1", MasterPort: 12345}
	base := []string{"PATH=/bin", "RANK=9", "MASTER_PORT=1", "TORCHELASTIC_USE_AGENT_STORE=True"}
	env := e.Environ(base)
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			t.Fatalf("%s set twice in %v", k, env)
		}
		m[k] = v
	}
	got, ok, err := Lookup(func(k string) (string, bool) { v, set := m[k]; return v, set })
	if err != nil || !ok || got != e {
		t.Fatalf("round trip: %+v ok=%v err=%v, want %+v", got, ok, err, e)
	}
	if m["PATH"] != "/bin" {
		t.Errorf("PATH lost: %v", env)
	}
}

func TestMergePredictions(t *testing.T) {
	for _, tc := range []struct {
		name string
		all  [][]int64
		want Predictions
	}{
		{"empty", [][]int64{{}, {}}, Predictions{}},
		{"interleaved shards", [][]int64{{0, 1, 0, 2, 2, 2}, {1, 0, 1, 3, 4, 3}},
			Predictions{Index: []int{0, 1, 2, 3}, Preds: []int{1, 0, 2, 4}, Labels: []int{0, 1, 2, 3}}},
		// The padding repeats index 0 on rank 1; rank 0's copy is kept.
		{"padding counted once", [][]int64{{0, 4, 4, 2, 1, 1}, {1, 3, 3, 0, 9, 4}},
			Predictions{Index: []int{0, 1, 2}, Preds: []int{4, 3, 1}, Labels: []int{4, 3, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergePredictions(tc.all)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if !slices.IsSorted(got.Index) {
				t.Fatalf("not in data set order: %v", got.Index)
			}
		})
	}
}
