package serve

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/trainer/calibrate"
	"github.com/drgrade/drgrade/vision/transforms"
)

// Info is what the server says about its model (GET /v1/info, and every grade answer).
type Info struct {
	Model         string            `json:"model"`
	WeightsSHA256 string            `json:"weights_sha256"`
	Classes       []string          `json:"classes"`
	Temperature   float64           `json:"temperature,omitempty"` // softmax(logits/T) when calibrated
	TTA           string            `json:"tta,omitempty"`
	Referral      *trainer.Referral `json:"referral,omitempty"` // how refer is decided (--thresholds)
	CropSize      int               `json:"input_size"`
	Explain       bool              `json:"explain"` // ?explain=1 can add a Grad-CAM overlay
	MaxBatch      int               `json:"max_batch"`
	MaxImages     int               `json:"max_images"`
	MaxBody       int64             `json:"max_body_bytes"`
	MaxPixels     int64             `json:"max_pixels"`
}

// Server grades images over HTTP with one model. Build it with New, serve with Serve or
// Handler, and Close it (Serve does) to stop the model's thread.
type Server struct {
	cfg  Config
	info Info
	g    *trainer.Grader // Prepare only outside the model thread

	queue    chan *job     // jobs for the model thread (capacity QueueLen: never blocks)
	queued   atomic.Int64  // images in the queue
	inflight chan struct{} // MaxConcurrent grade requests
	decode   chan struct{} // Workers decodes at once
	ready    atomic.Bool   // warm-up done (Grader.WarmUp)
	stop     chan struct{}
	done     chan struct{}
	closing  sync.Once
	m        *metrics
	handler  http.Handler
}

// job is one request's images for the model thread; the answer comes back on done.
type job struct {
	samples []transforms.Sample
	explain bool
	queued  time.Time
	done    chan jobResult // buffered: the model thread never waits for a gone client
}

type jobResult struct {
	preds    []trainer.Prediction
	overlays []*image.NRGBA // Grad-CAM overlay per image with explain (nil where it failed)
	batch    int            // images in the forward this job was part of
	queueMS  float64
	modelMS  float64
	err      error
}

// New loads the model of pcfg (as drgrade predict would) on a locked OS thread that then runs
// the batches, and returns once it is loaded; /readyz turns ready after the warm-up
// (Grader.WarmUp: a forward at every batch size up to MaxBatch, so memory is at its steady
// state before the first request).
// Errors from pcfg or the checkpoint are trainer.InputErrors.
func New(pcfg trainer.PredictConfig, cfg Config) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, &trainer.InputError{Err: err}
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	sum, err := calibrate.SHA256File(pcfg.Weights)
	if err != nil {
		return nil, &trainer.InputError{Err: fmt.Errorf("weights file: %w", err)}
	}
	s := &Server{cfg: cfg, queue: make(chan *job, cfg.QueueLen), inflight: make(chan struct{}, cfg.MaxConcurrent),
		decode: make(chan struct{}, cfg.Workers), stop: make(chan struct{}), done: make(chan struct{})}
	loaded := make(chan error, 1)
	go locked.Run(func() {
		defer close(s.done)
		g, err := trainer.NewGrader(pcfg, cfg.Log)
		if err != nil {
			loaded <- err
			return
		}
		defer g.Close()
		s.g = g
		loaded <- nil
		if err := g.WarmUp(cfg.MaxBatch); err != nil {
			fmt.Fprintf(cfg.Log, "warm-up failed, not ready: %v\n", err)
		} else {
			s.ready.Store(true)
		}
		s.loop(g)
	})
	if err := <-loaded; err != nil {
		return nil, err
	}
	s.info = Info{Model: pcfg.Model, WeightsSHA256: sum, Classes: trainer.ClassNames(pcfg.NumClasses), Temperature: pcfg.Temperature,
		TTA: pcfg.TTA, Referral: s.g.Referral, CropSize: s.g.CropSize, Explain: s.g.CanExplain(), MaxBatch: cfg.MaxBatch,
		MaxImages: cfg.MaxImages, MaxBody: cfg.MaxBody, MaxPixels: cfg.MaxPixels}
	s.m = newMetrics(func() float64 { return float64(s.queued.Load()) })
	s.handler = s.routes()
	return s, nil
}

// Ready reports whether the warm-up (Grader.WarmUp) is done.
func (s *Server) Ready() bool { return s.ready.Load() }

// Handler is the server's HTTP handler (all routes, access log and metrics).
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the model thread after the batch it is running; requests still waiting get 503.
func (s *Server) Close() {
	s.closing.Do(func() { close(s.stop) })
	<-s.done
}

// Serve answers on ln until ctx is done, then shuts down gracefully: it stops accepting, lets
// in-flight requests finish for up to ShutdownTimeout, and stops the model thread. It returns
// nil after a clean shutdown, an error when requests had to be cut off or ln failed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, ReadTimeout: s.cfg.ReadTimeout,
		WriteTimeout: s.cfg.WriteTimeout, IdleTimeout: s.cfg.IdleTimeout, MaxHeaderBytes: 64 << 10,
		ErrorLog: nil}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	fmt.Fprintf(s.cfg.Log, "shutting down: finishing in-flight requests (at most %v)\n", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		_ = hs.Close()
		err = fmt.Errorf("shutdown: requests still running after --shutdown_timeout %v were cut off", s.cfg.ShutdownTimeout)
	}
	s.Close()
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/grade", s.authed(http.HandlerFunc(s.grade)))
	mux.Handle("/v1/info", s.authed(http.HandlerFunc(s.infoHandler)))
	mux.Handle("/metrics", s.authed(promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			s.fail(w, r, http.StatusServiceUnavailable, "not_ready", "the model's warm-up has not finished")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("/", pageHandler())
	return s.logged(mux)
}

func (s *Server) infoHandler(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.info)
}

// loop is the model thread: it gathers queued jobs into batches of up to MaxBatch images,
// waiting at most MaxWait after the first, and grades each batch with one forward (a job larger
// than MaxBatch in chunks of MaxBatch).
func (s *Server) loop(g *trainer.Grader) {
	var carry *job
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-s.queue:
			case <-s.stop:
				return
			}
		}
		batch, n := []*job{first}, len(first.samples)
		if n < s.cfg.MaxBatch && s.cfg.MaxWait > 0 {
			timer := time.NewTimer(s.cfg.MaxWait)
		gather:
			for n < s.cfg.MaxBatch {
				select {
				case j := <-s.queue:
					if n+len(j.samples) > s.cfg.MaxBatch {
						carry = j
						break gather
					}
					batch, n = append(batch, j), n+len(j.samples)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		} else if n < s.cfg.MaxBatch {
		drain: // MaxWait 0: whatever is already queued
			for n < s.cfg.MaxBatch {
				select {
				case j := <-s.queue:
					if n+len(j.samples) > s.cfg.MaxBatch {
						carry = j
						break drain
					}
					batch, n = append(batch, j), n+len(j.samples)
				default:
					break drain
				}
			}
		}
		s.run(g, batch, n)
	}
}

// run grades a gathered batch and answers each job.
func (s *Server) run(g *trainer.Grader, batch []*job, n int) {
	start := time.Now()
	var chw [][]float32
	for _, j := range batch {
		for _, smp := range j.samples {
			chw = append(chw, smp.CHW)
		}
	}
	s.queued.Add(-int64(n))
	var preds []trainer.Prediction
	var err error
	for lo := 0; lo < len(chw) && err == nil; lo += s.cfg.MaxBatch {
		hi := min(lo+s.cfg.MaxBatch, len(chw))
		var p []trainer.Prediction
		p, err = g.Grade(chw[lo:hi])
		preds = append(preds, p...)
		s.m.batch.Observe(float64(hi - lo))
	}
	modelMS := ms(time.Since(start))
	at := 0
	for _, j := range batch {
		res := jobResult{batch: n, queueMS: ms(start.Sub(j.queued)), modelMS: modelMS, err: err}
		if err == nil {
			res.preds = preds[at : at+len(j.samples)]
			s.m.images.Add(float64(len(j.samples)))
			if j.explain && g.CanExplain() {
				res.overlays = make([]*image.NRGBA, len(j.samples))
				for k, smp := range j.samples {
					if ov, e := g.Explain(smp, res.preds[k].Grade); e == nil {
						res.overlays[k] = ov
					} else {
						fmt.Fprintf(s.cfg.Log, "explain: %v\n", e)
					}
				}
			}
		}
		at += len(j.samples)
		j.done <- res
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
