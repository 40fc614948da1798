package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/trainer"
	"github.com/drgrade/drgrade/vision/models"
)

// testModel is a small model with random weights (shufflenet_small, seeded), saved once per
// test binary as a checkpoint predict and the server both load.
const testModel = "shufflenet_small"

var (
	weightsOnce sync.Once
	weightsPath string
	weightsErr  error
)

func TestMain(m *testing.M) {
	// As drgrade does: libtorch's CPU buffers are cached (TestWarmUpCoversBatchSizes counts
	// the cache's misses).
	if err := torchext.InstallCPUCache(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	code := m.Run()
	if weightsPath != "" {
		os.RemoveAll(filepath.Dir(weightsPath))
	}
	os.Exit(code)
}

func testWeights(t *testing.T) string {
	t.Helper()
	weightsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drgrade-serve-test")
		if err != nil {
			weightsErr = err
			return
		}
		weightsPath = filepath.Join(dir, "DDR.pth")
		locked.Run(func() {
			torchext.ManualSeed(7)
			m, err := models.New(testModel, 5)
			if err != nil {
				weightsErr = err
				return
			}
			defer m.Close()
			weightsErr = models.SaveStateDict(m, weightsPath)
		})
	})
	if weightsErr != nil {
		t.Fatal(weightsErr)
	}
	return weightsPath
}

// testImages are photographs of several formats from imageio's test data.
var testImages = []string{"fundus_2000x1300_q75.jpg", "jpeg420_q90_161x121.jpg", "rgb_97x61.png", "lossy_fundus_q75_400x260.webp",
	"progressive420_q80_203x157.jpg", "palette_64x40.png"}

func imagePath(name string) string {
	return filepath.Join("..", "vision", "imageio", "testdata", "images", "images", name)
}

func readImage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(imagePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testImageFiles are testImages' paths and bytes.
func testImageFiles(t *testing.T) (paths []string, data [][]byte) {
	for _, n := range testImages {
		paths = append(paths, imagePath(n))
		data = append(data, readImage(t, n))
	}
	return paths, data
}

func predictConfig(t *testing.T) trainer.PredictConfig {
	return trainer.PredictConfig{Model: testModel, Weights: testWeights(t), NumClasses: 5, BatchSize: 16, NumWorkers: 0, Threads: 1, Quiet: true}
}

// testServer is a Server on a real loopback listener.
type testServer struct {
	*Server
	url    string
	log    *syncBuffer
	cancel context.CancelFunc
	served chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServer(t *testing.T, pcfg trainer.PredictConfig, edit func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	log := &syncBuffer{}
	cfg.AccessLog = log
	if edit != nil {
		edit(&cfg)
	}
	srv, err := New(pcfg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: srv, url: "http://" + ln.Addr().String(), log: log, cancel: cancel, served: make(chan error, 1)}
	go func() { ts.served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ts.served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("server not ready after 2 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ts
}

// multipartBody builds a multipart/form-data body with one file part per image.
func multipartBody(t *testing.T, names []string, data [][]byte) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i, n := range names {
		fw, err := mw.CreateFormFile("image", n)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data[i])
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

type answer struct {
	status int
	header http.Header
	body   []byte
	grade  GradeResponse
	err    ErrorBody
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if a.body, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(req.URL.Path, "/v1/") && ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json; body %s", req.URL.Path, ct, a.body)
	}
	if strings.HasPrefix(req.URL.Path, "/v1/") || resp.Header.Get("Content-Type") == "application/json" {
		var target any = &a.grade
		if a.status != http.StatusOK {
			target = &a.err
		}
		if err := json.Unmarshal(a.body, target); err != nil {
			t.Fatalf("%s: status %d, body not JSON (%v): %.300s", req.URL.Path, a.status, err, a.body)
		}
	}
	return a
}

func (ts *testServer) post(t *testing.T, query string, names []string, data [][]byte) answer {
	t.Helper()
	body, ct := multipartBody(t, names, data)
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/v1/grade"+query, body)
	req.Header.Set("Content-Type", ct)
	return do(t, req)
}

// goodRequest checks that the server still grades a photograph.
func (ts *testServer) goodRequest(t *testing.T) {
	t.Helper()
	a := ts.post(t, "", []string{"fundus.jpg"}, [][]byte{readImage(t, testImages[0])})
	if a.status != http.StatusOK || len(a.grade.Results) != 1 || len(a.grade.Results[0].Probs) != 5 {
		t.Fatalf("a good request after that: status %d, %.300s", a.status, a.body)
	}
}

// TestWarmUpCoversBatchSizes: once /readyz says ready, grading a batch of any size the batcher
// can form (1..max_batch), and a Grad-CAM, allocates no libtorch buffer the caching allocator
// does not already hold: the warm-up brought the process's memory to its steady state, and
// the requests that follow do not grow it (issue 22: RSS growth under 2% over 10,000 requests).
func TestWarmUpCoversBatchSizes(t *testing.T) {
	if !torchext.CPUCache().Installed {
		t.Fatalf("the caching CPU allocator is not installed (%s is set?)", torchext.CPUCacheEnv)
	}
	data := make([][]byte, len(testImages))
	for i, n := range testImages {
		data[i] = readImage(t, n)
	}
	type req struct {
		images int
		query  string
	}
	for _, c := range []struct {
		maxBatch int
		reqs     []req
	}{
		{4, []req{{1, ""}, {2, ""}, {3, ""}, {4, ""}, {1, "?explain=1"}, {4, ""}, {1, ""}}},
		{1, []req{{1, "?explain=1"}, {1, ""}}},
	} {
		ts := startServer(t, predictConfig(t), func(cfg *Config) { cfg.MaxBatch = c.maxBatch; cfg.MaxWait = 0 })
		for _, r := range c.reqs {
			before := torchext.CPUCache().Misses
			a := ts.post(t, r.query, testImages[:r.images], data[:r.images])
			if a.status != http.StatusOK || a.grade.BatchSize != r.images {
				t.Fatalf("max_batch %d, %d images%s: status %d, batch size %d: %.300s", c.maxBatch, r.images, r.query, a.status, a.grade.BatchSize, a.body)
			}
			if r.query != "" && a.grade.Results[0].OverlayPNG == "" {
				t.Fatalf("max_batch %d, %d images%s: no overlay", c.maxBatch, r.images, r.query)
			}
			if m := torchext.CPUCache().Misses - before; m != 0 {
				t.Errorf("max_batch %d, a batch of %d%s after the warm-up: %d new buffers allocated, want 0 (the warm-up missed it)",
					c.maxBatch, r.images, r.query, m)
			}
		}
	}
}

// TestGradeMatchesPredict grades the same files through the server and through
// trainer.PredictFiles (drgrade predict's code): the probabilities must be the same float32s,
// for one request holding them all (one forward, as predict's one batch) and for one request
// per image gathered by the batcher.
func TestGradeMatchesPredict(t *testing.T) {
	pcfg := predictConfig(t)
	paths, data := testImageFiles(t)
	want, skipped, err := trainer.PredictFiles(pcfg, paths, io.Discard)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("PredictFiles: %v %v", err, skipped)
	}
	ts := startServer(t, pcfg, nil)
	a := ts.post(t, "", testImages, data)
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if a.grade.BatchSize != len(testImages) {
		t.Errorf("batch size %d, want %d (one request, one forward)", a.grade.BatchSize, len(testImages))
	}
	samePredictions(t, "one request", a.grade.Results, want)
	if a.grade.Model != testModel || len(a.grade.WeightsSHA256) != 64 || len(a.grade.Classes) != 5 {
		t.Errorf("model %q, weights %q, classes %v", a.grade.Model, a.grade.WeightsSHA256, a.grade.Classes)
	}

	// The same images as concurrent single-image requests, gathered into one forward (max_batch
	// is the image count, so the batch runs as soon as all are in; max_wait only bounds a
	// failure).
	ts2 := startServer(t, pcfg, func(c *Config) { c.MaxBatch = len(testImages); c.MaxWait = 20 * time.Second })
	got := make([]Graded, len(testImages))
	var wg sync.WaitGroup
	for i := range testImages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := ts2.post(t, "", testImages[i:i+1], data[i:i+1])
			if a.status != http.StatusOK {
				t.Errorf("%s: status %d: %s", testImages[i], a.status, a.body)
				return
			}
			if a.grade.BatchSize != len(testImages) {
				t.Errorf("%s: graded in a batch of %d, want %d", testImages[i], a.grade.BatchSize, len(testImages))
			}
			got[i] = a.grade.Results[0]
			got[i].Path = testImages[i]
		}()
	}
	wg.Wait()
	samePredictions(t, "concurrent requests", got, want)
}

func samePredictions(t *testing.T, what string, got []Graded, want []trainer.Prediction) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d", what, len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Grade != w.Grade || g.Name != w.Name || filepath.Base(w.Path) != g.Path {
			t.Errorf("%s: image %d: %s grade %d %q, predict: %s grade %d %q", what, i, g.Path, g.Grade, g.Name, w.Path, w.Grade, w.Name)
		}
		for c := range w.Probs {
			if g.Probs[c] != w.Probs[c] {
				t.Errorf("%s: %s: P(%d) = %v, predict %v (not bit-identical)", what, g.Path, c, g.Probs[c], w.Probs[c])
			}
		}
		if g.PReferable == nil || w.PReferable == nil || *g.PReferable != *w.PReferable || *g.PAnyDR != *w.PAnyDR {
			t.Errorf("%s: %s: P(referable), P(any DR) differ from predict's", what, g.Path)
		}
	}
}

// TestExplain: ?explain=1 adds a PNG overlay of the input size.
func TestExplain(t *testing.T) {
	ts := startServer(t, predictConfig(t), nil)
	a := ts.post(t, "?explain=1", []string{"f.jpg"}, [][]byte{readImage(t, testImages[0])})
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if ov := a.grade.Results[0].OverlayPNG; !strings.HasPrefix(ov, "iVBORw0KGgo") { // base64 of the PNG signature
		t.Errorf("overlay_png %.40q: not a base64 PNG", ov)
	}
}

// TestEndpoints: liveness, readiness, info, metrics (the official client's exposition, with
// the series the issue names), method errors.
func TestEndpoints(t *testing.T) {
	ts := startServer(t, predictConfig(t), nil)
	ts.goodRequest(t)
	ts.post(t, "", []string{"x.jpg"}, [][]byte{[]byte("not an image")})
	for _, c := range []struct {
		method, path string
		status       int
		contains     []string
	}{
		{"GET", "/healthz", 200, []string{`"ok"`}},
		{"GET", "/readyz", 200, []string{`"ready"`}},
		{"GET", "/v1/info", 200, []string{`"model":"shufflenet_small"`, `"weights_sha256"`}},
		{"GET", "/metrics", 200, []string{`drgrade_http_requests_total{code="200",handler="/v1/grade"} 1`,
			`drgrade_errors_total{kind="not_an_image"} 1`, "drgrade_http_request_duration_seconds_bucket",
			"drgrade_batch_size_bucket", "drgrade_queue_depth 0", "drgrade_images_graded_total", "process_resident_memory_bytes"}},
		{"GET", "/v1/grade", 405, []string{`"kind":"method"`}},
		{"GET", "/", 200, []string{"<title>drgrade", "app.js"}},
		{"GET", "/app.js", 200, []string{"v1/grade"}},
		{"POST", "/", 405, []string{`"kind":"method"`}},
	} {
		req, _ := http.NewRequest(c.method, ts.url+c.path, nil)
		a := do(t, req)
		if a.status != c.status {
			t.Errorf("%s %s: status %d, want %d: %.200s", c.method, c.path, a.status, c.status, a.body)
		}
		for _, s := range c.contains {
			if !bytes.Contains(a.body, []byte(s)) {
				t.Errorf("%s %s: no %q in %.300s", c.method, c.path, s, a.body)
			}
		}
	}
}

// TestAccessLog: one JSON line per request, with status and no client file names.
func TestAccessLog(t *testing.T) {
	ts := startServer(t, predictConfig(t), nil)
	ts.post(t, "", []string{"../../etc/passwd"}, [][]byte{readImage(t, testImages[0])})
	ts.post(t, "", []string{"<b>x</b>.jpg"}, [][]byte{nil})
	do(t, must(http.NewRequest("GET", ts.url+"/healthz", nil)))
	lines := strings.Split(strings.TrimSpace(ts.log.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d access log lines for 3 requests:\n%s", len(lines), ts.log.String())
	}
	for i, want := range []int{200, 400, 200} {
		var l struct {
			Msg, Path, Method string
			Status            int
			DurationMS        *float64 `json:"duration_ms"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &l); err != nil {
			t.Fatalf("line %d not JSON: %v: %s", i, err, lines[i])
		}
		if l.Status != want || l.Method == "" || l.Path == "" || l.DurationMS == nil {
			t.Errorf("line %d: %s", i, lines[i])
		}
	}
	if s := ts.log.String(); strings.Contains(s, "passwd") || strings.Contains(s, "<b>") {
		t.Errorf("the access log names a client's file: %s", s)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestAuth: with a token, /v1 and /metrics need it (constant-time compare), health checks and
// the page do not.
func TestAuth(t *testing.T) {
	ts := startServer(t, predictConfig(t), func(c *Config) { c.Token = "s3cret" })
	for _, c := range []struct {
		path, auth string
		status     int
	}{
		{"/v1/info", "", 401}, {"/v1/info", "Bearer wrong", 401}, {"/v1/info", "Bearer s3cret", 200},
		{"/v1/info", "s3cret", 401}, {"/v1/info", "Bearer s3cre", 401}, {"/metrics", "", 401},
		{"/metrics", "Bearer s3cret", 200}, {"/healthz", "", 200}, {"/readyz", "", 200}, {"/", "", 200},
	} {
		req, _ := http.NewRequest("GET", ts.url+c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		a := do(t, req)
		if a.status != c.status {
			t.Errorf("%s with %q: status %d, want %d", c.path, c.auth, a.status, c.status)
		}
		if a.status == 401 && (a.header.Get("WWW-Authenticate") == "" || a.err.Kind != "unauthorized") {
			t.Errorf("%s: 401 without WWW-Authenticate or JSON kind: %s", c.path, a.body)
		}
	}
	body, ct := multipartBody(t, []string{"f.jpg"}, [][]byte{readImage(t, testImages[0])})
	req, _ := http.NewRequest("POST", ts.url+"/v1/grade", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer s3cret")
	if a := do(t, req); a.status != 200 {
		t.Errorf("grade with the token: %d %s", a.status, a.body)
	}
}

func TestExposed(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": false, "localhost:1": false, "[::1]:80": false,
		"0.0.0.0:8080": true, ":8080": true, "[::]:80": true, "10.0.0.5:80": true, "example.org:80": true} {
		if got := Exposed(addr); got != want {
			t.Errorf("Exposed(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"../../etc/passwd": "passwd", `..\..\win.ini`: "win.ini", "a/b/c.jpg": "c.jpg",
		"": "image-3", "..": "image-3", "/": "image-3", "x\x00\ny.png": "xy.png", "<b>.jpg": "<b>.jpg",
		strings.Repeat("é", 80): strings.Repeat("é", 50)} {
		if got := safeName(in, 3); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCalibratedReferral: with a temperature and a --thresholds operating point, the server's
// probabilities, refer decisions and the referral it reports are predict's.
func TestCalibratedReferral(t *testing.T) {
	thr := filepath.Join(t.TempDir(), "thresholds.json")
	if err := os.WriteFile(thr, []byte(`{"split": "val", "num_classes": 5, "referable_grade": 2,
 "views": {"referable": [{"name": "youden", "threshold": 0.3}, {"name": "sens_0.90", "target_sensitivity": 0.9, "threshold": 0.95}],
           "any_dr": [{"name": "youden", "threshold": 0.5}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, point := range []string{"youden", "sens_0.90"} {
		pcfg := predictConfig(t)
		pcfg.Temperature, pcfg.Thresholds, pcfg.OperatingPoint = 0.37, thr, point
		var paths []string
		var data [][]byte
		for _, n := range testImages[:3] {
			paths, data = append(paths, imagePath(n)), append(data, readImage(t, n))
		}
		want, _, err := trainer.PredictFiles(pcfg, paths, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, pcfg, nil)
		a := ts.post(t, "", testImages[:3], data)
		if a.status != 200 {
			t.Fatalf("%s: status %d: %s", point, a.status, a.body)
		}
		samePredictions(t, point, a.grade.Results, want)
		for i, g := range a.grade.Results {
			if g.Refer == nil || want[i].Refer == nil || *g.Refer != *want[i].Refer {
				t.Errorf("%s: %s: refer %v, predict %v", point, g.Path, g.Refer, want[i].Refer)
			}
		}
		if a.grade.Temperature != 0.37 || a.grade.Referral == nil || a.grade.Referral.Point.Name != point {
			t.Errorf("%s: temperature %v, referral %+v", point, a.grade.Temperature, a.grade.Referral)
		}
	}
}
