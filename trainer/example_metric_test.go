package trainer_test

import (
	"fmt"
	"slices"

	"github.com/drgrade/drgrade/trainer"
)

// kappaF1 is a --best_metric of one's own: the mean of the quadratic weighted kappa and the
// macro-F1 of an epoch. NaN (an undefined kappa) never counts as the best.
func kappaF1(r trainer.EpochRecord) float64 { return (r.Kappa + r.MacroF1) / 2 }

// Register it once, from an init function of the package that defines it.
func init() {
	if err := trainer.RegisterMetric("kappa_f1", kappaF1); err != nil {
		panic(err) // a name taken twice is a programming error
	}
}

// After registration --best_metric kappa_f1 is valid, and Run saves DDR.pth at the epoch
// with the highest kappa_f1.
func ExampleRegisterMetric() {
	cfg := trainer.DefaultConfig()
	cfg.BestMetric = "kappa_f1"
	fmt.Println("valid:", cfg.Validate() == nil)
	f, err := trainer.LookupMetric("kappa_f1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f(trainer.EpochRecord{Kappa: 0.8, MacroF1: 0.5}))
	fmt.Println(slices.Contains(trainer.MetricNames(), "kappa_f1"))
	// Output:
	// valid: true
	// 0.65
	// true
}
