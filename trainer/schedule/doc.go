// Package schedule reproduces the learning rate the researcher's script gives the optimiser at
// every iteration: PyTorch's LambdaLR, the upstream per-iteration warmup of epoch 0
// (utils.lr_methods.warmup inside utils.train_engin.train_one_epoch) and the per-epoch cosine
// lambda of train_imbalance.py, combined exactly as PyTorch combines two LambdaLR schedulers
// that share one param group.
//
// How PyTorch combines them (torch 2.1 LRScheduler): a scheduler created with last_epoch=-1
// records group["initial_lr"] only if the group has none yet (setdefault), takes base_lr =
// initial_lr and immediately performs one step, setting lr = base_lr · lambda(0). Each step
// sets lr = base_lr · lambda(last_epoch), ignoring whatever the other scheduler wrote. So:
//   - the cosine scheduler, made first, records initial_lr = lr and sets lr = lr · lf(0);
//   - in epoch 0 the warmup scheduler, made inside train_one_epoch, reuses that initial_lr:
//     iteration i steps with lr = initial_lr · f(i), and after the last iteration lr =
//     initial_lr · f(len(loader)) = initial_lr (f reaches 1 at W = min(1000, len-1));
//   - scheduler.step() after each epoch e sets lr = initial_lr · lf(e+1), overwriting the
//     warmup's value; in later epochs the lr is constant within an epoch.
//
// A loader of one batch gives W = 0: upstream's f returns 1 for x >= W before it would
// divide by W, so there is no division by zero and no warmup at all (f ≡ 1); the same holds
// for W < 0 (an empty loader). This package mirrors that.
//
// Floating point: each lambda is evaluated in float64 in Python's operation order, with
// explicit float64 conversions so no fused multiply-add is formed; results match PyTorch to
// the last ulp except where Go's math.Cos and the C library's cos differ (≤ 1 ulp).
//
// Nothing here is safe for concurrent use: one trainer goroutine drives a Script.
package schedule
