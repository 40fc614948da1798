package trainer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/loss"
	"github.com/drgrade/drgrade/vision/dataset"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/models"
	"github.com/drgrade/drgrade/vision/preprocess"
)

// Preflight checks everything about a run's input that can be checked before anything is
// written: the flags, --device, that the output folders can be written, both label files,
// the class count, every image (decoded once, unless cfg.CheckImages is false), --weights
// (parsed and matched against the model's keys, shapes and dtypes) and --resume. Run creates
// the TensorBoard run folder before it reads any input, so callers run Preflight first: bad
// input then stops the run with nothing under --output created or changed. Problems with the
// input come back as an *InputError listing all of them; out gets one line about the image check.
func Preflight(cfg Config, out io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return &InputError{err}
	}
	mcfg, err := models.Lookup(cfg.Model)
	if err != nil {
		return &InputError{err}
	}
	var errs []error
	if mcfg.FixedInput && cfg.ImgSize != 0 && cfg.ImgSize != mcfg.InputSize {
		errs = append(errs, fmt.Errorf("--img_size %d: --model %s (%s) only accepts %d×%d images; leave --img_size at 0 or set it to %d",
			cfg.ImgSize, cfg.Model, mcfg.Arch, mcfg.InputSize, mcfg.InputSize, mcfg.InputSize))
	}
	errs = append(errs, checkDevice(cfg.Device), checkOutput(cfg))

	// Cheap checks first: the label files, class counts, that the files named exist.
	train, err := cfg.Data.Load(cfg.DataPath, "train", cfg.NumClasses)
	errs = append(errs, err)
	val, err := cfg.Data.Load(cfg.DataPath, "val", cfg.NumClasses)
	errs = append(errs, err)
	if train != nil {
		if err := train.CheckNumClasses(); err != nil {
			errs = append(errs, err)
		} else if _, err := loss.ClassWeights(train.ClassCounts, cfg.ClassWeights); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.Weights != "" {
		if _, err := os.Stat(cfg.Weights); err != nil {
			errs = append(errs, fmt.Errorf("--weights %s: the file does not exist or cannot be read (%v); pass --weights \"\" to train from scratch", cfg.Weights, pathErr(err)))
		}
	}
	if cfg.Resume != "" {
		errs = append(errs, CheckResume(cfg.Resume, cfg))
	}
	if err := errors.Join(errs...); err != nil {
		return &InputError{err}
	}

	// Then the slow ones: decode every image, build the model to match --weights against it.
	if cfg.CheckImages {
		start := time.Now()
		for _, d := range []*dataset.Dataset{train, val} {
			errs = append(errs, checkImages(d, cfg.SkipBadImages, out))
		}
		fmt.Fprintf(out, "checked %d images (train %d, val %d) in %.1f s\n", train.Len()+val.Len(), train.Len(), val.Len(), time.Since(start).Seconds())
		if pre, err := preprocess.Parse(cfg.Preprocess); err == nil && pre.Crops() {
			for _, d := range []*dataset.Dataset{train, val} {
				errs = append(errs, checkFields(d, pre, cfg.SkipBadImages, out))
			}
		}
	}
	if cfg.Weights != "" {
		inputErr, err := checkWeights(cfg)
		if err != nil {
			return err
		}
		errs = append(errs, inputErr)
	}
	if err := errors.Join(errs...); err != nil {
		return &InputError{err}
	}
	return nil
}

// checkImages decodes every image of d as the loader will (imageio.Check: a JPEG at 1/8 scale,
// which fails exactly where the full decode does). With skipBad, unreadable images
// are only listed (the loader skips them); images below dataset.MinImageSide are refused
// either way, since the loader would train on them.
func checkImages(d *dataset.Dataset, skipBad bool, out io.Writer) error {
	err := d.CheckImages(imageio.Check, runtime.GOMAXPROCS(0))
	var de *dataset.Error
	if !skipBad || !errors.As(err, &de) {
		return err
	}
	kept := &dataset.Error{Split: de.Split, Listed: de.Listed}
	for _, p := range de.Problems {
		if p.Kind == dataset.Unreadable {
			fmt.Fprintf(out, "will skip (--skip_bad_images): %v\n", p)
			continue
		}
		kept.Problems = append(kept.Problems, p)
	}
	if len(kept.Problems) == 0 {
		return nil
	}
	return kept
}

// checkFields finds, before the run, the images where --preprocess crop finds no field of view
// (the loader would stop on them, or skip them with skipBad).
func checkFields(d *dataset.Dataset, pre preprocess.Chain, skipBad bool, out io.Writer) error {
	bad := pre.CheckFields(d.Paths, runtime.GOMAXPROCS(0))
	if skipBad {
		for _, e := range bad {
			fmt.Fprintf(out, "will skip (--skip_bad_images): %v\n", e)
		}
		return nil
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d of %d images have no circular field of view for --preprocess crop (or pass --skip_bad_images):\n%w", d.Split, len(bad), d.Len(), errors.Join(bad...))
}

// checkWeights loads --weights into a throwaway model, with Run's checks (format, keys,
// shapes, dtypes, the classifier rule of --head). The first result is the input problem,
// the second a failure to build the model.
func checkWeights(cfg Config) (inputErr, err error) {
	locked.Run(func() {
		m, e := models.NewHead(cfg.Model, cfg.NumClasses, cfg.Head)
		if e != nil {
			err = e
			return
		}
		defer m.Close()
		if _, e := models.LoadWeights(m, cfg.Weights, weightsHeadMode(cfg.Head)); e != nil {
			inputErr = fmt.Errorf("--%w", e) // "--weights file <path>: ..."
		}
	})
	return inputErr, err
}

// checkDevice refuses a --device that can never be used (see PlanDevice).
func checkDevice(dev string) error {
	ok, n := CUDAAvailable()
	_, err := PlanDevice(dev, ok, n, -1)
	return err
}

// access(2) modes (POSIX values).
const (
	accessX = 0x1
	accessW = 0x2
)

// checkOutput checks that Run can create or write the folders and files it uses under
// --output: <output>/weights/<model>/ (DDR.txt is appended to) and, with TensorBoard,
// <output>/tensorboard/<model>/. It only looks (access(2)); it creates nothing.
func checkOutput(cfg Config) error {
	dirs := []string{filepath.Join(cfg.Output, "weights", cfg.Model)}
	if cfg.Tensorboard {
		dirs = append(dirs, filepath.Join(cfg.Output, "tensorboard", cfg.Model))
	}
	for _, dir := range dirs {
		if err := checkWritableDir(dir); err != nil {
			return fmt.Errorf("--output %s: %w", cfg.Output, err)
		}
	}
	log := filepath.Join(dirs[0], "DDR.txt")
	if _, err := os.Stat(log); err == nil {
		if err := syscall.Access(log, accessW); err != nil {
			return fmt.Errorf("--output %s: cannot append to %s: %v", cfg.Output, log, err)
		}
	}
	return nil
}

// checkWritableDir checks that dir is a writable directory or, when it does not exist yet,
// that its nearest existing ancestor is one (os.MkdirAll creates the rest).
func checkWritableDir(dir string) error {
	for p := dir; ; {
		st, err := os.Stat(p)
		switch {
		case err == nil && !st.IsDir():
			return fmt.Errorf("%s is not a folder", p)
		case err == nil:
			if err := syscall.Access(p, accessW|accessX); err != nil {
				return fmt.Errorf("cannot write in %s: %v", p, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR): // ENOTDIR: a file higher up
			return err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// pathErr is the cause of a *fs.PathError (its message without the operation and path, which
// the caller's message already names), or err itself.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
