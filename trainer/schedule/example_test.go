package schedule_test

import (
	"fmt"

	"github.com/drgrade/drgrade/trainer/schedule"
)

// The script's learning rate, step by step: train_imbalance.py's cosine LambdaLR per epoch,
// with train_one_epoch's per-iteration warmup in epoch 0:
//
//	lf = lambda x: ((1 + math.cos(x * math.pi / args.epochs)) / 2) * (1 - args.lrf) + args.lrf
//	scheduler = lr_scheduler.LambdaLR(optimizer, lr_lambda=lf)
//	for epoch in range(args.epochs):
//	    train_one_epoch(...)   # epoch 0: warmup LambdaLR stepped after every optimiser step
//	    scheduler.step()
//
// Here 3 epochs of 4 batches each, so the warmup lasts min(1000, 4-1) = 3 iterations.
func ExampleScript() {
	s, err := schedule.NewScript(schedule.Config{LR: 2e-4, LRF: 1e-4, Epochs: 3, LoaderLen: 4, Warmup: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for epoch := 0; epoch < 3; epoch++ {
		if err := s.StartEpoch(epoch); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("epoch %d steps:", epoch)
		for i := 0; i < 4; i++ {
			fmt.Printf(" %.6g", s.LR()) // optimizer.step() uses this rate
			if err := s.AfterOptimizerStep(); err != nil {
				fmt.Println(err)
				return
			}
		}
		if err := s.EndEpoch(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("; logged learning_rate %.6g\n", s.LR())
	}
	// Output:
	// epoch 0 steps: 2e-07 6.68e-05 0.0001334 0.0002; logged learning_rate 0.000150005
	// epoch 1 steps: 0.000150005 0.000150005 0.000150005 0.000150005; logged learning_rate 5.0015e-05
	// epoch 2 steps: 5.0015e-05 5.0015e-05 5.0015e-05 5.0015e-05; logged learning_rate 2e-08
}

// The two lambdas on their own, as a LambdaLR attached to one param group: the warmup factor
// ramps linearly from 1/1000 to 1, the cosine falls from 1 to lrf.
func ExampleNewLambdaLR() {
	lf, err := schedule.Cosine(4, 1e-4)
	if err != nil {
		fmt.Println(err)
		return
	}
	group := schedule.NewGroup(2e-4)
	sched, err := schedule.NewLambdaLR(lf, group)
	if err != nil {
		fmt.Println(err)
		return
	}
	for sched.LastEpoch() < 4 {
		fmt.Printf("last_epoch %d: lf %.5f, lr %.4g\n", sched.LastEpoch(), lf(sched.LastEpoch()), sched.LastLR()[0])
		sched.Step()
	}
	warm := schedule.Warmup(schedule.WarmupIters(5), schedule.WarmupFactor)
	fmt.Printf("warmup over %d iterations: %.4f %.4f %.4f %.4f %.4f\n",
		schedule.WarmupIters(5), warm(0), warm(1), warm(2), warm(3), warm(4))
	// Output:
	// last_epoch 0: lf 1.00000, lr 0.0002
	// last_epoch 1: lf 0.85357, lr 0.0001707
	// last_epoch 2: lf 0.50005, lr 0.0001
	// last_epoch 3: lf 0.14653, lr 2.931e-05
	// warmup over 4 iterations: 0.0010 0.2507 0.5005 0.7502 1.0000
}
