package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/drgrade/drgrade/serve"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
)

// runServe is `drgrade serve`: a checkpoint behind HTTP (package serve) until SIGTERM/SIGINT.
func runServe(args []string, stdout, stderr io.Writer) error {
	fset := newFlags("serve", "--model M --weights W.pth [--addr 127.0.0.1:8080] [--max_batch 16 --max_wait 10ms]", stdout, stderr)
	var cfg trainer.PredictConfig
	sc := serve.DefaultConfig()
	fset.StringVar(&cfg.Model, "model", "resnet", "model name: "+strings.Join(models.Names(), ", "))
	fset.StringVar(&cfg.Weights, "weights", "", "the checkpoint, as for drgrade predict")
	fset.IntVar(&cfg.NumClasses, "num_classes", 5, "the number of classes")
	fset.IntVar(&cfg.ImgSize, "img_size", 0, "crop size, as for drgrade predict")
	fset.StringVar(&cfg.Transforms, "transforms", trainer.TransformsScript, transformsHelp)
	fset.IntVar(&cfg.Threads, "threads", 0, "libtorch threads (0: half the CPUs, the other half decoding; predict's numbers bit for bit need predict's --threads)")
	fset.StringVar(&cfg.TTA, "tta", "", "test-time augmentation: hflip, as for drgrade predict")
	fset.StringVar(&cfg.Device, "device", "cpu", deviceHelp)
	fset.IntVar(&cfg.ReferableGrade, "referable_grade", 2, "P(referable) = P(grade ≥ this)")
	fset.StringVar(&cfg.Thresholds, "thresholds", "", "a thresholds.json of drgrade eval --out: each answer gets refer yes/no at --operating_point")
	fset.StringVar(&cfg.OperatingPoint, "operating_point", "", "which point of --thresholds refers (default sens_0.90)")
	temperature := fset.String("temperature", "", temperatureHelp)
	gradeThresholdsFlag(fset, &cfg.GradeThresholds)

	fset.StringVar(&sc.Addr, "addr", sc.Addr, "listen on host:port (a host other than loopback without --token prints a warning)")
	fset.IntVar(&sc.MaxBatch, "max_batch", sc.MaxBatch, "images per forward: concurrent requests are gathered up to this")
	fset.DurationVar(&sc.MaxWait, "max_wait", sc.MaxWait, "how long a request waits for others to fill a batch")
	fset.IntVar(&sc.Workers, "workers", 0, "requests decoding images at once (0: the CPUs)")
	fset.Int64Var(&sc.MaxBody, "max_body", sc.MaxBody, "bytes of one request body (413 above)")
	fset.Int64Var(&sc.MaxPixels, "max_pixels", sc.MaxPixels, "width×height of one image, checked in its header before decoding (413 above)")
	fset.IntVar(&sc.MaxImages, "max_images", sc.MaxImages, "images in one request (413 above)")
	fset.IntVar(&sc.MaxConcurrent, "max_concurrent", sc.MaxConcurrent, "grade requests handled at once (503 with Retry-After above)")
	fset.IntVar(&sc.QueueLen, "queue", sc.QueueLen, "images waiting for the model (503 with Retry-After above)")
	fset.DurationVar(&sc.ReadHeaderTimeout, "read_header_timeout", sc.ReadHeaderTimeout, "time to send the request's headers (slow clients are cut off)")
	fset.DurationVar(&sc.ReadTimeout, "read_timeout", sc.ReadTimeout, "time to send the whole request")
	fset.DurationVar(&sc.WriteTimeout, "write_timeout", sc.WriteTimeout, "time to answer a request once its headers are read")
	fset.DurationVar(&sc.IdleTimeout, "idle_timeout", sc.IdleTimeout, "how long an idle keep-alive connection stays open")
	fset.DurationVar(&sc.ShutdownTimeout, "shutdown_timeout", sc.ShutdownTimeout, "on SIGTERM, how long in-flight requests may finish")
	fset.StringVar(&sc.Token, "token", "", "require Authorization: Bearer <token> on /v1 and /metrics (also $DRGRADE_TOKEN)")
	accessLog := fset.Bool("access_log", true, "one JSON line per request on stdout")
	if err := parse(fset, args, stdout); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usagef("serve takes no arguments, got %q (see 'drgrade serve --help')", fset.Arg(0))
	}
	if sc.Token == "" {
		sc.Token = os.Getenv("DRGRADE_TOKEN")
	}
	if cfg.Threads == 0 {
		cfg.Threads = serve.DefaultThreads()
	}
	var err error
	if cfg.Temperature, err = resolveTemperature(stderr, *temperature, cfg.Weights, cfg.NumClasses); err != nil {
		return err
	}
	if cfg.ReferableGrade < 1 {
		return usagef("--referable_grade must be at least 1 (grade ≥ it is referable), got %d", cfg.ReferableGrade)
	}
	sc.Log = stderr
	if *accessLog {
		sc.AccessLog = stdout
	}
	srv, err := serve.New(cfg, sc)
	if err != nil {
		if trainer.IsInputError(err) {
			return usageError{err}
		}
		return err
	}
	ln, err := net.Listen("tcp", sc.Addr)
	if err != nil {
		srv.Close()
		return usagef("--addr %s: %v", sc.Addr, err)
	}
	if serve.Exposed(sc.Addr) && sc.Token == "" {
		fmt.Fprintf(stderr, "WARNING: listening on %s with no authentication: anyone who can reach this port can grade images. "+
			"Pass --token (or $DRGRADE_TOKEN) and put TLS in front, or bind 127.0.0.1.\n", ln.Addr())
	}
	fmt.Fprintf(stderr, "serving %s (%s) on http://%s/ — POST /v1/grade, page at /, metrics at /metrics\n", cfg.Model, cfg.Weights, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "stopped")
	return nil
}
