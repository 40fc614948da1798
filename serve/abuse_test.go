package serve

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drgrade/drgrade/internal/testutil"
)

// pngBomb is a valid little PNG whose header says 50,000×50,000 RGB (7.5 GB of pixels): a
// decompression bomb's header.
func pngBomb() []byte {
	var b bytes.Buffer
	b.Write([]byte("\x89PNG\r\n\x1a\n"))
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 50000)
	binary.BigEndian.PutUint32(ihdr[4:], 50000)
	ihdr[8], ihdr[9] = 8, 2 // 8 bits, RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01}) // zlib of one zero byte
	chunk("IEND", nil)
	return b.Bytes()
}

// jpegClaiming patches a JPEG's frame header (SOF0/SOF2) to claim w×h.
func jpegClaiming(t *testing.T, jpg []byte, w, h uint16) []byte {
	t.Helper()
	out := append([]byte(nil), jpg...)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xFF {
			t.Fatal("jpegClaiming: lost the marker chain")
		}
		m := out[i+1]
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if m == 0xC0 || m == 0xC1 || m == 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + n
	}
	t.Fatal("jpegClaiming: no SOF marker")
	return nil
}

// zeros is an endless body of zero bytes, n of them.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// TestBadInput sends each bad upload through real HTTP on loopback: each gets its 4xx with a
// JSON error of the right kind, the next good request is graded, and the process's memory
// does not grow with what the uploads claim.
func TestBadInput(t *testing.T) {
	ts := startServer(t, predictConfig(t), nil)
	fundus := readImage(t, testImages[0])
	ts.goodRequest(t)
	debug.FreeOSMemory()
	rss0 := testutil.RSS(t)
	raw := func(ct string, body []byte) func() *http.Request {
		return func() *http.Request {
			req, _ := http.NewRequest("POST", ts.url+"/v1/grade", bytes.NewReader(body))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			return req
		}
	}
	form := func(name string, data []byte) func() *http.Request {
		return func() *http.Request {
			body, ct := multipartBody(t, []string{name}, [][]byte{data})
			req, _ := http.NewRequest("POST", ts.url+"/v1/grade", body)
			req.Header.Set("Content-Type", ct)
			return req
		}
	}
	for _, c := range []struct {
		name   string
		req    func() *http.Request
		status int
		kind   string
	}{
		{"non-image bytes", raw("image/jpeg", []byte("<html><body>hello</body></html>")), 415, "not_an_image"},
		{"non-image bytes in a form", form("x.jpg", []byte("%PDF-1.4 not a photo")), 415, "not_an_image"},
		{"truncated JPEG", raw("image/jpeg", fundus[:len(fundus)/2]), 422, "truncated"},
		{"0-byte body", raw("image/jpeg", nil), 400, "empty"},
		{"0-byte file part", form("empty.jpg", nil), 400, "empty"},
		{"PNG bomb 50000x50000", raw("image/png", pngBomb()), 413, "too_many_pixels"},
		{"JPEG claiming 65535x65535", form("big.jpg", jpegClaiming(t, fundus, 65535, 65535)), 413, "too_many_pixels"},
		{"100 MB upload", func() *http.Request {
			req, _ := http.NewRequest("POST", ts.url+"/v1/grade", &zeros{100 << 20})
			req.Header.Set("Content-Type", "application/octet-stream")
			return req
		}, 413, "body_too_large"},
		{"wrong content type", raw("text/plain", fundus), 415, "content_type"},
		{"json content type", raw("application/json", []byte(`{"image":"x"}`)), 415, "content_type"},
		{"no content type", raw("", fundus), 415, "content_type"},
		{"bad multipart", raw("multipart/form-data", fundus), 400, "multipart"},
		{"form without a file", func() *http.Request {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			mw.WriteField("note", "hi")
			mw.Close()
			req, _ := http.NewRequest("POST", ts.url+"/v1/grade", &b)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			return req
		}, 400, "no_image"},
		{"17 images", func() *http.Request {
			names, data := make([]string, 17), make([][]byte, 17)
			for i := range names {
				names[i], data[i] = "f.jpg", fundus
			}
			body, ct := multipartBody(t, names, data)
			req, _ := http.NewRequest("POST", ts.url+"/v1/grade", body)
			req.Header.Set("Content-Type", ct)
			return req
		}, 413, "too_many_images"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			a := do(t, c.req())
			if a.status != c.status || a.err.Kind != c.kind || a.err.Error == "" {
				t.Errorf("status %d kind %q, want %d %q: %.300s", a.status, a.err.Kind, c.status, c.kind, a.body)
			}
			ts.goodRequest(t)
		})
	}
	debug.FreeOSMemory()
	if grown := testutil.RSS(t) - rss0; grown > 96<<20 {
		t.Errorf("RSS grew %d MiB over the bad uploads", grown>>20)
	}
}

// TestPathFileName: a multipart file name with a path is reduced to its base name, in the
// answer and in errors, and never appears in the access log.
func TestPathFileName(t *testing.T) {
	ts := startServer(t, predictConfig(t), nil)
	a := ts.post(t, "", []string{"../../etc/passwd"}, [][]byte{readImage(t, testImages[0])})
	if a.status != 200 || a.grade.Results[0].Path != "passwd" || bytes.Contains(a.body, []byte("..")) {
		t.Errorf("status %d, image %q: %.300s", a.status, a.grade.Results[0].Path, a.body)
	}
	// A raw body's ?name= is the client's too (multipart's FileName already drops folders).
	req, _ := http.NewRequest("POST", ts.url+"/v1/grade?name=..%2F..%2Fetc%2Fpasswd", bytes.NewReader(readImage(t, testImages[0])))
	req.Header.Set("Content-Type", "image/jpeg")
	if a := do(t, req); a.status != 200 || a.grade.Results[0].Path != "passwd" || bytes.Contains(a.body, []byte("..")) {
		t.Errorf("raw ?name=: status %d: %.300s", a.status, a.body)
	}
	a = ts.post(t, "", []string{`..\..\<script>alert(1)</script>`}, [][]byte{[]byte("nope")})
	if a.status != 415 || bytes.Contains(a.body, []byte("<script>")) || bytes.Contains(a.body, []byte("..")) {
		t.Errorf("status %d: name echoed unescaped: %s", a.status, a.body)
	}
	if a.err.Image == nil || *a.err.Image != 0 || a.err.Name != "script>" {
		t.Errorf("error names image %v %q", a.err.Image, a.err.Name)
	}
	if strings.Contains(ts.log.String(), "passwd") {
		t.Errorf("access log names the file: %s", ts.log.String())
	}
}

// TestSlowloris: a client that trickles its headers is cut off at --read_header_timeout, and
// the server keeps grading.
func TestSlowloris(t *testing.T) {
	ts := startServer(t, predictConfig(t), func(c *Config) { c.ReadHeaderTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn) // returns when the server closes the connection
		close(closed)
	}()
	fmt.Fprint(conn, "POST /v1/grade HTTP/1.1\r\nHost: x\r\n")
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case <-closed:
			done = true
		case <-tick.C:
			fmt.Fprint(conn, "X-Slow: 1\r\n")
		case <-deadline:
			t.Fatal("a client trickling headers was still connected after 10 s (read_header_timeout 300ms)")
		}
	}
	ts.goodRequest(t)
}

// TestOverload: 1,000 clients at once against --max_concurrent 8: those over the limit get 503
// with Retry-After and a JSON error, the others are graded, and the server grades afterwards.
// (The flag's default is 64 grade requests.)
func TestOverload(t *testing.T) {
	ts := startServer(t, predictConfig(t), func(c *Config) {
		c.MaxConcurrent, c.MaxBatch, c.MaxWait = 8, 64, 300*time.Millisecond
	})
	small := readImage(t, testImages[2])
	const clients = 1000
	statuses := make([]int, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, DisableKeepAlives: true}}
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ct := multipartBody(t, []string{"p.png"}, [][]byte{small})
			req, _ := http.NewRequest("POST", ts.url+"/v1/grade", body)
			req.Header.Set("Content-Type", ct)
			<-start
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			statuses[i] = resp.StatusCode
			if resp.StatusCode == 503 && (resp.Header.Get("Retry-After") == "" || !bytes.Contains(b, []byte(`"kind":"busy"`))) {
				t.Errorf("503 without Retry-After or kind busy: %s", b)
			}
			if resp.StatusCode != 200 && resp.StatusCode != 503 {
				t.Errorf("client %d: status %d: %s", i, resp.StatusCode, b)
			}
		}()
	}
	close(start)
	wg.Wait()
	n := map[int]int{}
	for _, s := range statuses {
		n[s]++
	}
	if n[503] == 0 || n[200] == 0 {
		t.Errorf("statuses %v: want some graded and some 503", n)
	}
	t.Logf("%d clients: %v", clients, n)
	ts.goodRequest(t)
}

// TestQueueFull: images beyond --queue get 503 with Retry-After while a batch is gathering.
func TestQueueFull(t *testing.T) {
	ts := startServer(t, predictConfig(t), func(c *Config) {
		c.MaxImages, c.QueueLen, c.MaxBatch, c.MaxWait = 4, 4, 64, 2*time.Second
	})
	img := readImage(t, testImages[2])
	four := [][]byte{img, img, img, img}
	names := []string{"a.png", "b.png", "c.png", "d.png"}
	first := make(chan answer, 1)
	go func() { first <- ts.post(t, "", names, four) }()
	for deadline := time.Now().Add(time.Minute); ts.queued.Load() < 4; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // the first request's images never reached the queue
			t.Fatal("the first request was not queued within a minute")
		}
	}
	a := ts.post(t, "", names[:1], four[:1])
	if a.status != 503 || a.err.Kind != "queue_full" || a.header.Get("Retry-After") == "" {
		t.Errorf("status %d kind %q Retry-After %q, want 503 queue_full", a.status, a.err.Kind, a.header.Get("Retry-After"))
	}
	if a := <-first; a.status != 200 || len(a.grade.Results) != 4 {
		t.Errorf("the queued request: %d %.200s", a.status, a.body)
	}
	ts.goodRequest(t)
}
