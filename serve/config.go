package serve

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"time"
)

// Config is the server's limits and wiring. DefaultConfig's values are safe for a clinic's
// network; every field is a flag of drgrade serve.
type Config struct {
	Addr string // host:port; 127.0.0.1 by default (a non-loopback host without Token warns)

	MaxBatch int           // images per forward
	MaxWait  time.Duration // how long the first queued image waits for others to fill a batch
	Workers  int           // requests decoding and transforming at once (0: the CPUs)

	MaxBody       int64 // bytes of one request body (413 above)
	MaxPixels     int64 // width × height of one image, read from its header before decoding (413 above)
	MaxImages     int   // images in one request (413 above)
	MaxConcurrent int   // grade requests being handled at once (503 + Retry-After above)
	QueueLen      int   // images waiting for the model (503 + Retry-After above)

	ReadHeaderTimeout time.Duration // slowloris: the whole header within this
	ReadTimeout       time.Duration // the whole request, body included
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration // SIGTERM: how long in-flight requests may finish

	Token string // non-empty: every /v1 and /metrics request needs "Authorization: Bearer <Token>"

	AccessLog io.Writer // one JSON line per request (nil: none)
	Log       io.Writer // startup notes and warnings (nil: none)
}

// DefaultConfig is drgrade serve's defaults.
func DefaultConfig() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		MaxBatch:          16,
		MaxWait:           10 * time.Millisecond,
		MaxBody:           32 << 20,
		MaxPixels:         40_000_000, // a 7,300×5,500 photo; fundus cameras write at most ~24 MP
		MaxImages:         16,
		MaxConcurrent:     64,
		QueueLen:          256,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   30 * time.Second,
	}
}

// check refuses limits that would disable themselves.
func (c *Config) check() error {
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	for _, v := range []struct {
		name string
		v    int64
	}{{"max_batch", int64(c.MaxBatch)}, {"max_body", c.MaxBody}, {"max_pixels", c.MaxPixels}, {"max_images", int64(c.MaxImages)},
		{"max_concurrent", int64(c.MaxConcurrent)}, {"queue", int64(c.QueueLen)}} {
		if v.v < 1 {
			return fmt.Errorf("--%s must be at least 1, got %d", v.name, v.v)
		}
	}
	if c.QueueLen < c.MaxImages {
		return fmt.Errorf("--queue %d is smaller than --max_images %d: such a request could never be queued", c.QueueLen, c.MaxImages)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"max_wait", c.MaxWait}, {"read_header_timeout", c.ReadHeaderTimeout}, {"read_timeout", c.ReadTimeout},
		{"write_timeout", c.WriteTimeout}, {"idle_timeout", c.IdleTimeout}, {"shutdown_timeout", c.ShutdownTimeout}} {
		if d.v < 0 || (d.v == 0 && d.name != "max_wait") {
			return fmt.Errorf("--%s must be positive, got %v", d.name, d.v)
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port (e.g. 127.0.0.1:8080): %v", c.Addr, err)
	}
	return nil
}

// DefaultThreads is serve's libtorch thread count when --threads is 0: half the CPUs (at least
// one), the other half decoding. libtorch's OpenMP threads spin while they wait, and with as
// many of them as CPUs beside busy decoders they starve each other: on 2 cores under load,
// shufflenet_small at 8 clients served 3.1 images/s with 2 threads and 55.4 with 1
// (bench/serveload; 49.1 with 2 threads and OMP_WAIT_POLICY=PASSIVE).
func DefaultThreads() int { return max(1, runtime.NumCPU()/2) }

// Exposed reports whether addr listens beyond this machine: an empty host, 0.0.0.0, ::, or any
// address that is not loopback.
func Exposed(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
