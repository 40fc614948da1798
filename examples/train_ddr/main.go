// Command train_ddr is the researcher's train_imbalance.py (with the weight loading of
// train_original.py) written as a Go program on drgrade's packages. It reads beside the
// Python almost line for line: each step carries the Python it ports as a comment. It is the
// worked example of docs/porting.md; `drgrade train` is the same loop with more options, and
// for the same seed and flags both write the same DDR.txt (main_test.go checks it).
//
//	go run ./examples/train_ddr --data_path data/synth --model shufflenet_small --weights "" \
//		--epochs 1 --img_size 64 --threads 1
//
// What differs from the Python, and why:
//   - errors are returned, not raised: every call that can fail returns an error, checked
//     where it happens;
//   - tensors are freed by their owner (defer x.Close() / MustDrop()), not by a garbage
//     collector;
//   - all tensor work runs inside trainer.RunLocked, on one OS thread (libtorch's grad mode
//     and autocast are per thread);
//   - the script's bugs that drgrade fixes are fixed here too: --seed takes a value, the
//     model is built once, an existing TensorBoard folder is kept (each run gets runN/).
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/metrics"
	"github.com/drgrade/drgrade/trainer/schedule"
	"github.com/drgrade/drgrade/trainer/tblog"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/loader"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/models/pth"
	"github.com/drgrade/drgrade/vision/transforms"
)

// options is argparse's Namespace: one field per parser.add_argument.
type options struct {
	NumClasses   int
	Epochs       int
	BatchSize    int
	LR           float64
	LRF          float64
	Seed         uint64
	Tensorboard  bool
	UseAMP       bool
	DataPath     string
	Model        string
	Device       string
	Weights      string
	UseFocalLoss bool
	// drgrade's additions that `drgrade train` has too (same names, same defaults).
	Output     string
	ImgSize    int
	Threads    int
	NumWorkers int
	Quiet      bool
}

// parseArgs is `parser = argparse.ArgumentParser(); parser.add_argument(...); opt = parser.parse_args()`.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	opt := &options{}
	parser := flag.NewFlagSet("train_ddr", flag.ContinueOnError)
	parser.SetOutput(stderr)
	parser.IntVar(&opt.NumClasses, "num_classes", 5, "the number of classes")
	parser.IntVar(&opt.Epochs, "epochs", 100, "the number of training epoch")
	parser.IntVar(&opt.BatchSize, "batch_size", 32, "batch_size for training")
	parser.Float64Var(&opt.LR, "lr", 0.0002, "start learning rate")
	parser.Float64Var(&opt.LRF, "lrf", 0.0001, "end learning rate")
	parser.Uint64Var(&opt.Seed, "seed", 1, "fix the initialization of parameters")
	parser.BoolVar(&opt.Tensorboard, "tensorboard", true, "use tensorboard for visualization")
	parser.BoolVar(&opt.UseAMP, "use_amp", false, "training with mixed precision")
	parser.StringVar(&opt.DataPath, "data_path", "data/DDR5", "data set folder")
	parser.StringVar(&opt.Model, "model", "resnet", "select a model for training")
	parser.StringVar(&opt.Device, "device", "0", "device id (i.e. 0 or 0,1 or cpu)")
	parser.StringVar(&opt.Weights, "weights", "model_pth/resnet50-19c8e357.pth", "initial weights path")
	parser.BoolVar(&opt.UseFocalLoss, "use_focal_loss", false, "use Focal Loss instead of CrossEntropyLoss")
	parser.StringVar(&opt.Output, "output", "DRresults/DDR5/Resnet_Adam_L2", "output root (the script's os.getcwd()/DRresults/DDR5/Resnet_Adam_L2)")
	parser.IntVar(&opt.ImgSize, "img_size", 0, "train crop size (0: the model's, 224)")
	parser.IntVar(&opt.Threads, "threads", 0, "libtorch threads (0: libtorch's default)")
	parser.IntVar(&opt.NumWorkers, "num_workers", -1, "data loading workers (-1: the script's rule)")
	parser.BoolVar(&opt.Quiet, "quiet", false, "no progress bars")
	if err := parser.Parse(args); err != nil {
		return nil, err
	}
	if parser.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", parser.Arg(0))
	}
	return opt, nil
}

func main() {
	opt, err := parseArgs(os.Args[1:], os.Stderr)
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	if err := trainer.InstallCPUCache(); err != nil { // as drgrade train does
		fmt.Fprintf(os.Stderr, "train_ddr: %v; using the default CPU allocator\n", err)
	}
	// main(opt), on one OS thread: every tensor of the run lives and dies inside.
	trainer.RunLocked(func() { err = trainMain(opt, os.Stdout) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "train_ddr:", err)
		os.Exit(1)
	}
}

// trainMain is the script's main(args).
func trainMain(args *options, out io.Writer) error {
	// if opt.seed: seed_torch()  (the flag was always on; its seed was always 1)
	trainer.ManualSeed(args.Seed)
	fmt.Fprintln(out, "random seed has been fixed")
	if args.Threads > 0 {
		trainer.SetNumThreads(args.Threads) // torch.set_num_threads
	}

	// device = torch.device(f"cuda:{args.device}" if torch.cuda.is_available() ... else "cpu")
	device, note, err := trainer.SelectDevice(args.Device)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%+v\n", *args) // print(args)
	fmt.Fprintf(out, "Using device: %s%s\n", trainer.DeviceName(device), note)

	// model = classic_models.find_model_using_name(args.model, num_classes=args.num_classes).to(device)
	// (built once: the script built a second one further down, drawing new random weights).
	model, err := models.New(args.Model, args.NumClasses)
	if err != nil {
		return err
	}
	defer model.Close()
	if err := trainer.ToDevice(model, device); err != nil {
		return err
	}

	// if opt.tensorboard: ... tb_writer = SummaryWriter(log_path)
	var tbWriter *tblog.Writer
	if args.Tensorboard {
		logPath, err := trainer.NewRunDir(filepath.Join(args.Output, "tensorboard", args.Model))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Start Tensorboard with \"tensorboard --logdir=%s\"\n", logPath)
		if tbWriter, err = tblog.NewWriter(logPath); err != nil {
			return err
		}
		defer tbWriter.Close()
	}

	// data_transform = {"train": transforms.Compose([...]), "val": transforms.Compose([...])}
	// at the model's input size: 224 and Resize(256) for the zoo, or --img_size and the same
	// 256/224 ratio (the model's crop_pct).
	mcfg := model.Config()
	imgSize := args.ImgSize
	if imgSize == 0 {
		imgSize = mcfg.InputSize
	}
	resizeSize := int(math.Round(float64(imgSize) / mcfg.CropPct))
	var mean, std [3]float32 // [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
	for i := range mean {
		mean[i], std[i] = float32(mcfg.Mean[i]), float32(mcfg.Std[i])
	}
	colorJitter, err := transforms.NewColorJitter(0.2, 0.2, 0.2, 0.2)
	if err != nil {
		return err
	}
	// ToTensor() and Normalize(mean, std) close every Pipeline.
	trainTransform, err := transforms.NewPipeline(transforms.Compose{
		transforms.NewRandomResizedCrop(imgSize),
		transforms.RandomHorizontalFlip{P: 0.5},
		transforms.RandomRotation{Degrees: [2]float64{-30, 30}},
		colorJitter,
	}, mean, std)
	if err != nil {
		return err
	}
	valTransform, err := transforms.NewPipeline(transforms.Compose{
		transforms.ResizeStep{Size: []int{resizeSize}},
		transforms.CenterCropStep{Size: []int{imgSize}},
	}, mean, std)
	if err != nil {
		return err
	}
	dataTransform := map[string]*transforms.Pipeline{"train": trainTransform, "val": valTransform}

	// train_dataset = DR_Grading_Dataset(os.path.join(args.data_path, 'train'), os.path.join(args.data_path, 'train.txt'), ...)
	trainDataset, err := dataset.Load(args.DataPath, "train", args.NumClasses)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, trainDataset.FoundMessage())
	valDataset, err := dataset.Load(args.DataPath, "val", args.NumClasses)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, valDataset.FoundMessage())

	// if args.num_classes != train_dataset.num_class: raise ValueError(...)
	if err := trainDataset.CheckNumClasses(); err != nil {
		return err
	}

	// class_weights = [1.0 / train_dataset.images_label.count(c) for c in range(args.num_classes)]
	classWeights, err := loss.ClassWeights(trainDataset.ClassCounts, "inverse")
	if err != nil {
		return err
	}

	// nw = min([os.cpu_count(), args.batch_size if args.batch_size > 1 else 0, 8])
	nw := loader.DefaultWorkers(args.BatchSize)
	if args.NumWorkers >= 0 {
		nw = args.NumWorkers
	}
	fmt.Fprintf(out, "Using %d dataloader workers every process\n", nw)

	// train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=args.batch_size, shuffle=True, num_workers=nw, ...)
	trainLoader, err := loader.New(trainDataset, dataTransform["train"], imgSize,
		loader.Options{BatchSize: args.BatchSize, Shuffle: true, Workers: nw, Seed: args.Seed})
	if err != nil {
		return err
	}
	// val_loader = torch.utils.data.DataLoader(val_dataset, batch_size=args.batch_size, shuffle=False, num_workers=nw, ...)
	valLoader, err := loader.New(valDataset, dataTransform["val"], imgSize,
		loader.Options{BatchSize: args.BatchSize, Shuffle: false, Workers: nw, Seed: args.Seed})
	if err != nil {
		return err
	}

	// train_original.py:
	// if args.weights != "": weights_dict = torch.load(args.weights, map_location='cpu')
	// fc.weight / fc.bias with more rows than num_classes: [:args.num_classes]
	// model.load_state_dict(weights_dict, strict=False)
	if args.Weights != "" {
		weightsDict, err := pth.Load(args.Weights)
		if err != nil {
			return fmt.Errorf("weights file %s: %w", args.Weights, err)
		}
		report, err := models.LoadStateDict(model, weightsDict, models.HeadSlice)
		if err != nil {
			return fmt.Errorf("weights file %s: %w", args.Weights, err)
		}
		fmt.Fprintln(out, report) // _IncompatibleKeys(missing_keys=[...], unexpected_keys=[...])
	}

	// if opt.use_focal_loss: criterion = FocalLoss()
	// else: criterion = torch.nn.CrossEntropyLoss(weight=class_weights)
	var criterion loss.Criterion
	if args.UseFocalLoss {
		criterion = loss.NewFocal(1, 2) // FocalLoss(alpha=1, gamma=2)
	} else if criterion, err = loss.NewCrossEntropy(classWeights); err != nil {
		return err
	}
	defer criterion.Close()
	if err := loss.ToDevice(criterion, device); err != nil { // criterion.to(device)
		return err
	}

	// optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
	optimizer, err := trainer.NewAdam(model.StateDict().Parameters(), args.LR, 1e-4)
	if err != nil {
		return err
	}
	defer optimizer.Close()

	// lf = lambda x: ((1 + math.cos(x * math.pi / args.epochs)) / 2) * (1 - args.lrf) + args.lrf
	// scheduler = lr_scheduler.LambdaLR(optimizer, lr_lambda=lf)
	// (+ train_one_epoch's lr_method=warmup in epoch 0, as one schedule)
	scheduler, err := schedule.NewScript(schedule.Config{LR: args.LR, LRF: args.LRF, Epochs: args.Epochs,
		LoaderLen: trainLoader.Len(), Warmup: true})
	if err != nil {
		return err
	}
	bestAcc := 0.0

	// save_path = os.path.join(os.getcwd(), 'DRresults/DDR5/Resnet_Adam_L2/weights', args.model)
	savePath := filepath.Join(args.Output, "weights", args.Model)
	if err := os.MkdirAll(savePath, 0o755); err != nil {
		return err
	}

	// use_amp: autocast around forward + loss (float16 with a GradScaler on CUDA, as the script;
	// bfloat16 on the CPU, where the script ignored it).
	amp, useScaler, err := trainer.NewAMP(args.UseAMP, "", device)
	if err != nil {
		return err
	}
	scaler, err := trainer.NewGradScalerOn(useScaler, device) // torch.cuda.amp.GradScaler(enabled=enable_amp)
	if err != nil {
		return err
	}
	defer scaler.Close()

	for epoch := 0; epoch < args.Epochs; epoch++ {
		// mean_loss, train_acc = train_one_epoch(model=model, optimizer=optimizer, data_loader=train_loader,
		//     device=device, epoch=epoch, use_amp=args.use_amp, lr_method=warmup, criterion=criterion)
		tr, err := trainer.TrainOneEpoch(trainer.EpochArgs{Model: model, Optimizer: optimizer,
			DataLoader: trainLoader, Epoch: epoch, AMP: amp, Scaler: scaler, Device: device, LRMethod: scheduler, Criterion: criterion,
			Progress: trainer.NewProgress(out, trainLoader.Len(), args.Quiet)})
		if err != nil {
			return err
		}
		meanLoss, trainAcc := tr.MeanLoss, tr.Acc
		lr := scheduler.LR() // optimizer.param_groups[0]["lr"], which the script logs after the step below
		// scheduler.step()
		if err := scheduler.EndEpoch(); err != nil {
			return err
		}
		// val_acc, val_preds, val_labels = evaluate(model=model, data_loader=val_loader, device=device, return_preds=True)
		// (with the softmax, for drgrade's referable-DR AUC)
		ev, err := trainer.EvaluateWith(model, valLoader, trainer.EvalOptions{Device: device, Probs: true,
			Progress: trainer.NewProgress(out, valLoader.Len(), args.Quiet)})
		if err != nil {
			return err
		}
		valAcc, valPreds, valLabels := ev.Acc, ev.Preds, ev.Labels

		// print('[epoch %d] train_loss: %.3f  train_acc: %.3f  val_accuracy: %.3f' % (epoch + 1, ...))
		fmt.Fprintf(out, "[epoch %d] train_loss: %.3f  train_acc: %.3f  val_accuracy: %.3f\n",
			epoch+1, meanLoss, trainAcc, valAcc)

		// cm = confusion_matrix(val_labels, val_preds)
		cm, err := metrics.NewConfusion(valLabels, valPreds, args.NumClasses)
		if err != nil {
			return err
		}
		// precision = precision_score(val_labels, val_preds, average='weighted'); recall = ...; f1 = ...
		weighted, err := metrics.Weighted(valLabels, valPreds, args.NumClasses)
		if err != nil {
			return err
		}
		precision, recall, f1 := weighted.Precision, weighted.Recall, weighted.F1
		// drgrade adds what the weighted scores hide: quadratic weighted kappa
		// (cohen_kappa_score(..., weights='quadratic', labels=range(5))), macro-F1 over all
		// grades and balanced accuracy.
		kappa, err := cm.QuadraticKappa(metrics.AllLabels)
		if err != nil {
			return err
		}
		perClass, err := cm.PerClass(metrics.AllLabels)
		if err != nil {
			return err
		}
		macroF1 := perClass.Macro().F1
		balancedAcc, _ := cm.BalancedAccuracy()
		// and the ROC AUC of P(referable) = P(grade ≥ 2), what DR screening is judged on
		referableAUC := trainer.ReferableAUC(ev, args.NumClasses, metrics.DefaultReferableGrade)

		// print(f"Precision: {precision:.3f}, Recall: {recall:.3f}, F1 Score: {f1:.3f}")
		fmt.Fprintf(out, "Precision: %.3f, Recall: %.3f, F1 Score: %.3f\n", precision, recall, f1)
		extra := trainer.ExtraEpochLine(kappa, macroF1, balancedAcc, referableAUC) // NaN as Python's "nan"
		fmt.Fprint(out, extra)

		// with open(os.path.join(save_path, "DDR.txt"), 'a') as f: f.writelines(...)
		// metrics.EpochLines and PyFixed3 format exactly as Python's '%.3f' (nan, inf included).
		f, err := os.OpenFile(filepath.Join(savePath, "DDR.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(f, metrics.EpochLines(epoch, meanLoss, trainAcc, valAcc, weighted), extra)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}

		// if opt.tensorboard: tb_writer.add_scalar(tags[i], value, epoch) for the script's seven tags (+ three)
		if tbWriter != nil {
			for _, s := range []struct {
				tag   string
				value float64
			}{
				{"train_loss", meanLoss}, {"train_acc", trainAcc}, {"val_accuracy", valAcc},
				{"learning_rate", lr}, {"precision", precision}, {"recall", recall}, {"f1_score", f1},
				{"kappa", kappa}, {"macro_f1", macroF1}, {"referable_auc", referableAUC},
			} {
				if err := tbWriter.AddScalar(s.tag, s.value, int64(epoch)); err != nil {
					return err
				}
			}
			if err := tbWriter.Flush(); err != nil {
				return err
			}
		}

		// if val_acc > best_acc: best_acc = val_acc; torch.save(model.state_dict(), os.path.join(save_path, "DDR.pth"))
		if valAcc > bestAcc {
			bestAcc = valAcc
			if err := models.SaveStateDict(model, filepath.Join(savePath, "DDR.pth")); err != nil {
				return err
			}
		}
	}
	return nil
}
