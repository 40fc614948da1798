package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models"
)

// servedProc is a running `drgrade serve`.
type servedProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer // after the "serving" line
	stdout *bytes.Buffer
	head   string // stderr up to the "serving" line
	exited chan error
}

var servingLine = regexp.MustCompile(`on http://([0-9.:\[\]]+)/`)

// startServe runs the binary's serve and waits for its address and for /readyz.
func startServe(t *testing.T, bin string, args ...string) *servedProc {
	t.Helper()
	p := &servedProc{cmd: exec.Command(bin, append([]string{"serve"}, args...)...), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{},
		exited: make(chan error, 1)}
	p.cmd.Stdout = p.stdout
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	sc := bufio.NewScanner(errPipe)
	var head strings.Builder
	for sc.Scan() {
		head.WriteString(sc.Text() + "\n")
		if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
			p.url = "http://" + m[1]
			break
		}
	}
	p.head = head.String()
	if p.url == "" {
		t.Fatalf("drgrade serve printed no address:\n%s", p.head)
	}
	go func() {
		io.Copy(p.stderr, errPipe)
		p.exited <- p.cmd.Wait()
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not 200 after a minute", p.url)
		}
	}
	return p
}

// stop sends SIGTERM and returns the exit status.
func (p *servedProc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Fatal("drgrade serve still running a minute after SIGTERM")
	}
	return p.cmd.ProcessState.ExitCode()
}

func postImages(t *testing.T, url string, paths []string) (int, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fw, _ := mw.CreateFormFile("image", filepath.Base(p))
		fw.Write(data)
	}
	mw.Close()
	resp, err := http.Post(url+"/v1/grade", mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// postStatus posts one image and returns the status, 0 when there was no answer (safe to call
// off the test's goroutine).
func postStatus(url, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("image", filepath.Base(path))
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(url+"/v1/grade", mw.FormDataContentType(), &b)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeBinary runs the real binary: `drgrade serve` answers with `drgrade predict --json`'s
// probabilities for the same files (one request, one batch, as predict's one batch), a request
// in flight at SIGTERM is answered and the process exits 0, the access log is JSON lines, and
// a non-loopback --addr without --token warns.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	weights := filepath.Join(work, "DDR.pth")
	locked.Run(func() {
		torchext.ManualSeed(3)
		m, err := models.New("shufflenet_small", 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := models.SaveStateDict(m, weights); err != nil {
			t.Fatal(err)
		}
	})
	dir := filepath.Join("..", "..", "vision", "imageio", "testdata", "images", "images")
	var paths []string
	for _, n := range []string{"fundus_2000x1300_q75.jpg", "rgb_97x61.png", "lossy_fundus_q75_400x260.webp", "jpeg422_q85_150x99.jpg"} {
		paths = append(paths, filepath.Join(dir, n))
	}
	common := []string{"--model", "shufflenet_small", "--weights", weights, "--threads", "1"}
	code, stdout, stderr := runDrgrade(t, bin, ".", append(append([]string{"predict", "--json", "--batch_size", "4", "--num_workers", "0"}, common...), paths...)...)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	var pred struct {
		Predictions []struct {
			Image string
			Grade int
			Probs []float32 `json:"probabilities"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &pred); err != nil {
		t.Fatal(err)
	}

	p := startServe(t, bin, append(common, "--addr", "127.0.0.1:0", "--max_wait", "1s", "--max_batch", "8")...)
	if strings.Contains(p.head, "WARNING") {
		t.Errorf("a loopback server warned:\n%s", p.head)
	}
	status, body := postImages(t, p.url, paths)
	var got struct {
		Results []struct {
			Image string
			Grade int
			Probs []float32 `json:"probabilities"`
		}
	}
	if err := json.Unmarshal(body, &got); status != 200 || err != nil || len(got.Results) != len(paths) {
		t.Fatalf("grade: status %d (%v): %.300s", status, err, body)
	}
	for i, r := range got.Results {
		w := pred.Predictions[i]
		if r.Image != filepath.Base(w.Image) || r.Grade != w.Grade || len(r.Probs) != 5 {
			t.Errorf("%s: grade %d, predict %s: %d", r.Image, r.Grade, w.Image, w.Grade)
			continue
		}
		for c := range r.Probs {
			if r.Probs[c] != w.Probs[c] {
				t.Errorf("%s: P(%d) %v, predict %v", r.Image, c, r.Probs[c], w.Probs[c])
			}
		}
	}

	// SIGTERM while a request waits for its batch (max_wait 1s): it is answered, exit 0.
	inflight := make(chan int, 1)
	go func() {
		inflight <- postStatus(p.url, paths[0])
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := http.Get(p.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(m, []byte("\ndrgrade_queue_depth 1\n")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the queue")
		}
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0:\n%s", code, p.stderr)
	}
	if s := <-inflight; s != 200 {
		t.Errorf("the request in flight at SIGTERM got %d, want 200 (0: no answer)", s)
	}
	if !strings.Contains(p.stderr.String(), "stopped") {
		t.Errorf("no 'stopped' after SIGTERM:\n%s", p.stderr)
	}
	lines := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	for _, l := range lines {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil || e["status"] == nil || e["path"] == nil {
			t.Errorf("access log line not JSON with status and path: %s", l)
		}
	}
	if len(lines) < 3 {
		t.Errorf("%d access log lines:\n%s", len(lines), p.stdout)
	}

	// Every interface, no token: a warning; with --token: none, and grading needs it.
	open := startServe(t, bin, append(common, "--addr", "0.0.0.0:0")...)
	if !strings.Contains(open.head, "WARNING") || !strings.Contains(open.head, "no authentication") {
		t.Errorf("--addr 0.0.0.0 without --token: no warning:\n%s", open.head)
	}
	if code := open.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	tok := startServe(t, bin, append(common, "--addr", "0.0.0.0:0", "--token", "t0k")...)
	if strings.Contains(tok.head, "WARNING") {
		t.Errorf("--token still warns:\n%s", tok.head)
	}
	if s, _ := postImages(t, tok.url, paths[:1]); s != 401 {
		t.Errorf("no token: status %d, want 401", s)
	}
	if code := tok.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}

	// Bad flags are usage errors naming the flag.
	code, _, stderr = runDrgrade(t, bin, ".", append(append([]string{"serve"}, common...), "--max_batch", "0")...)
	if code != exitUsage || !strings.Contains(stderr, "--max_batch") {
		t.Errorf("--max_batch 0: exit %d: %s", code, stderr)
	}
}
