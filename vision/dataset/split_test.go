package dataset

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/drgrade/drgrade/internal/pyoracle"
)

// TestParitySplitSklearn: SplitIndices returns scikit-learn's stratified train_test_split,
// members and order, on DR-shaped label vectors, equal-remainder ties, several seeds and
// fractions, with and without a test part (testdata/split_gen.py).
func TestParitySplitSklearn(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/split", "testdata/split_gen.py")
	var golden struct {
		Labels map[string][]int `json:"labels"`
		Cases  []struct {
			Set     string  `json:"set"`
			Seed    uint32  `json:"seed"`
			Val     float64 `json:"val"`
			Test    float64 `json:"test"`
			Train   []int   `json:"train"`
			ValIdx  []int   `json:"val_idx"`
			TestIdx []int   `json:"test_idx"`
		} `json:"cases"`
	}
	pyoracle.ReadJSON(t, dir, "split.json", &golden)
	if len(golden.Cases) < 39 {
		t.Fatalf("only %d cases in the golden", len(golden.Cases))
	}
	for _, c := range golden.Cases {
		t.Run(fmt.Sprintf("%s/seed%d/val%g/test%g", c.Set, c.Seed, c.Val, c.Test), func(t *testing.T) {
			tr, va, te, err := SplitIndices(golden.Labels[c.Set], c.Val, c.Test, c.Seed)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tr, c.Train) || !reflect.DeepEqual(va, c.ValIdx) || !reflect.DeepEqual(nonNil(te), nonNil(c.TestIdx)) {
				t.Errorf("train %v\nval %v\ntest %v\nwant train %v\nval %v\ntest %v", tr, va, te, c.Train, c.ValIdx, c.TestIdx)
			}
		})
	}
}

func nonNil(x []int) []int {
	if x == nil {
		return []int{}
	}
	return x
}
