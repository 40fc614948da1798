// Command serveload is `make bench-serve`'s load generator: -clients concurrent clients post
// one image (raw body) to a grading server's /v1/grade on loopback until -requests answers
// have come back, and it prints one JSON line: images/s, p50/p95/p99 latency, errors, and the
// server process's resident set size (from /proc/<pid>/status) before and after.
//
// A small Go client rather than a load-testing library: the rule is closed-loop (each client
// posts its next image when the previous answer arrives), which is what "N clients" means in
// the table. Run: go run ./bench/serveload -url http://127.0.0.1:8080 -image retina.jpg -pid P.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "the server")
	image := flag.String("image", "", "the JPEG every request posts")
	clients := flag.Int("clients", 1, "concurrent clients")
	requests := flag.Int("requests", 1000, "answers to wait for")
	warmup := flag.Int("warmup", 0, "requests before timing, by the same clients (not counted; 0: 4 per client, at least 20)")
	pid := flag.Int("pid", 0, "the server's process id, for its RSS (0: none)")
	label := flag.String("label", "", "a name for the line")
	flag.Parse()
	data, err := os.ReadFile(*image)
	if err != nil {
		fail(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *clients + 1, MaxConnsPerHost: *clients + 1}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	post := func() error {
		resp, err := client.Post(*url+"/v1/grade", "image/jpeg", bytes.NewReader(data))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if *warmup == 0 {
		*warmup = max(20, 4**clients)
	}
	// The warm-up runs at the measured concurrency, so the server's buffers for its batch
	// sizes exist before the RSS is read.
	if n := run(*clients, *warmup, post, nil); n > 0 {
		fail(fmt.Errorf("warm-up: %d requests failed", n))
	}
	rssBefore := rss(*pid)
	lat := make([]time.Duration, *requests)
	start := time.Now()
	errs := run(*clients, *requests, post, lat)
	secs := time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	out := map[string]any{"label": *label, "clients": *clients, "requests": *requests, "errors": errs, "seconds": secs,
		"images_per_s": float64(*requests) / secs, "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99)}
	if *pid > 0 {
		after := rss(*pid)
		out["rss_before_mib"], out["rss_after_mib"] = float64(rssBefore)/(1<<20), float64(after)/(1<<20)
		out["rss_growth_pct"] = 100 * (float64(after) - float64(rssBefore)) / float64(rssBefore)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// run has clients closed-loop clients post until n answers came back; lat (if not nil) gets
// each request's latency. It returns the number of failed requests.
func run(clients, n int, post func() error, lat []time.Duration) int64 {
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				if err := post(); err != nil {
					errs.Add(1)
				}
				if lat != nil {
					lat[i] = time.Since(t0)
				}
			}
		}()
	}
	wg.Wait()
	return errs.Load()
}

// rss is VmRSS of a process in bytes (0 when unknown).
func rss(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "serveload:", err)
	os.Exit(1)
}
