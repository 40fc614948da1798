package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"

	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/models/pth"
)

// badEnv is one case's world: a private copy of the valid data set, an output folder filled
// with a finished run's files, the shared fixtures and a scratch folder.
type badEnv struct {
	data, out, fix, tmp string
	key                 string // the first state_dict key of the model, for the weights fixtures
}

// line returns the image name on line n (1-based) of split's label file.
func (e *badEnv) line(t *testing.T, split string, n int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.data, split+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.Split(string(b), "\n")[n-1])[0]
}

// editLabels rewrites split's label file line by line.
func (e *badEnv) editLabels(t *testing.T, split string, edit func(lines []string) []string) {
	t.Helper()
	p := filepath.Join(e.data, split+".txt")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := edit(strings.Split(strings.TrimRight(string(b), "\n"), "\n"))
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceImage overwrites the image on line n of split's label file.
func (e *badEnv) replaceImage(t *testing.T, split string, n int, content []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.data, split, e.line(t, split, n)), content, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *badEnv) image(t *testing.T, split string, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.data, split, e.line(t, split, n)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// badInputCase is one bad input: the valid command line plus args, after setup changed the
// data copy or the output folder. want lists substrings stderr must contain (the culprit).
type badInputCase struct {
	name  string
	setup func(t *testing.T, e *badEnv)
	args  func(e *badEnv) []string
	want  func(e *badEnv) []string
}

// trainArgs is a valid, fast command line: tiny model, 64 px, one epoch, one thread. Later
// occurrences of a flag override it (Go's flag package keeps the last value).
func trainArgs(data, out string, extra ...string) []string {
	return append([]string{"train", "--data_path", data, "--output", out, "--num_classes", "5",
		"--model", "shufflenet_small", "--weights", "", "--epochs", "1", "--batch_size", "8", "--img_size", "64",
		"--threads", "1", "--num_workers", "1", "--quiet"}, extra...)
}

// leaks are what must never reach the user: Go panics and runtime crashes, libtorch's C++
// exception traces, and log.Fatal's timestamped lines (gotch's Must* functions).
var leaks = regexp.MustCompile(`(?m)panic:|goroutine \d|fatal error:|\[signal |Exception raised from|frame #\d|^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d `)

// TestBadInputs runs the real drgrade binary on bad inputs, each a valid command line with one
// thing wrong, and checks: exit status 2, a message naming the culprit, no panic or libtorch
// trace, and an output folder (holding a finished run's DDR.txt, DDR.pth, last.pth, metrics
// and TensorBoard run) left exactly as it was: same files, bytes and modification times.
func TestBadInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	data := filepath.Join(work, "data")
	golden := filepath.Join(work, "golden") // the sentinel output folder
	fix := filepath.Join(work, "fix")
	runOK(t, bin, work, "synth", "--out", data, "--n", "40", "--size", "64", "--proportions", "uniform")
	// The base command line must succeed, or the cases below prove nothing.
	runOK(t, bin, work, trainArgs(data, golden)...)
	runOK(t, bin, work, trainArgs(data, filepath.Join(fix, "other"), "--model", "mobilenet_v3")...)
	// Old, fixed modification times: any rewrite, even with the same bytes, shows.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	walkFiles(t, golden, func(p string, _ fs.FileInfo) {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	})

	// Weights fixtures, written with drgrade's own .pth writer from the run's DDR.pth.
	ddr := filepath.Join(golden, "weights", "shufflenet_small", "DDR.pth")
	sd, err := pth.Load(ddr)
	if err != nil {
		t.Fatal(err)
	}
	first := sd.Entries[0]
	key := first.Name
	save := func(name string, entries ...*pth.Entry) {
		if err := pth.Save(filepath.Join(fix, name), entries); err != nil {
			t.Fatal(err)
		}
	}
	save("wrong_shape.pth", pth.NewFloat32(key, []int{2, 3}, make([]float32, 6)))
	save("wrong_dtype.pth", pth.NewInt64(key, first.Shape, make([]int64, first.Numel())))
	raw, err := os.ReadFile(ddr)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fix, "truncated.pth"), raw[:len(raw)/2])
	// A real TorchScript archive, written by torch.jit.save in vision/models/pth/testdata/pth_gen.py.
	ts, err := os.ReadFile(filepath.Join("..", "..", "vision", "models", "pth", "testdata", "pth", "torchscript.pt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fix, "torchscript.pt"), ts)

	skipIfManyGPUs := func(t *testing.T, _ *badEnv) {
		if torchext.CUDACompiled() && gotch.CUDA.IsAvailable() && gotch.CUDA.DeviceCount() > 3 {
			t.Skip("this machine has a CUDA device 3")
		}
	}
	none := func(*badEnv) []string { return nil }
	flags := func(a ...string) func(*badEnv) []string { return func(*badEnv) []string { return a } }
	cases := []badInputCase{
		// The data set.
		{"missing data dir", nil,
			func(e *badEnv) []string { return []string{"--data_path", filepath.Join(e.tmp, "nope")} },
			func(e *badEnv) []string { return []string{filepath.Join(e.tmp, "nope", "train") + "/", "missing"} }},
		{"empty data dir", func(t *testing.T, e *badEnv) { mkdir(t, filepath.Join(e.tmp, "empty")) },
			func(e *badEnv) []string { return []string{"--data_path", filepath.Join(e.tmp, "empty")} },
			func(e *badEnv) []string {
				return []string{filepath.Join(e.tmp, "empty", "train.txt") + ": label file of the train split is missing"}
			}},
		{"missing label file", func(t *testing.T, e *badEnv) { remove(t, filepath.Join(e.data, "val.txt")) }, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "val.txt") + ": label file of the val split is missing"}
			}},
		{"label not an integer", func(t *testing.T, e *badEnv) { setLabel(t, e, "train", 3, "two") }, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + `:3: label "two" is not an integer`}
			}},
		{"negative label", func(t *testing.T, e *badEnv) { setLabel(t, e, "train", 2, "-1") }, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + ":2: label -1 of", "outside 0..4"}
			}},
		{"label not below num_classes", func(t *testing.T, e *badEnv) { setLabel(t, e, "val", 4, "5") }, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "val.txt") + ":4: label 5 of", "outside 0..4 (--num_classes 5)"}
			}},
		{"three fields", func(t *testing.T, e *badEnv) { setLabel(t, e, "train", 5, "1 2") }, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + ":5: expected `image_name label`", "3 fields"}
			}},
		{"duplicate name", func(t *testing.T, e *badEnv) {
			e.editLabels(t, "train", func(l []string) []string { return append(l, l[0]) })
		}, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + ":31: image", "listed again (first on line 1)"}
			}},
		{"missing image", func(t *testing.T, e *badEnv) { remove(t, filepath.Join(e.data, "train", e.line(t, "train", 6))) }, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + ":6: image", "is not a file in " + filepath.Join(e.data, "train")}
			}},

		// The images: every one is decoded before training starts.
		{"zero-byte image", func(t *testing.T, e *badEnv) { e.replaceImage(t, "train", 2, nil) }, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + ":2: image", "empty file (0 bytes)"}
			}},
		{"truncated JPEG", func(t *testing.T, e *badEnv) {
			b := e.image(t, "train", 3)
			e.replaceImage(t, "train", 3, b[:len(b)*6/10]) // headers intact, entropy-coded data cut
		}, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + ":3: image", "JPEG: truncated image"}
			}},
		{"PNG with a wrong CRC", func(t *testing.T, e *badEnv) {
			writeFile(t, filepath.Join(e.data, "train", "bad.png"), pngWithBadCRC(t, e.image(t, "train", 4)))
			e.editLabels(t, "train", func(l []string) []string {
				l[3] = "bad.png " + strings.Fields(l[3])[1]
				return l
			})
		}, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + `:4: image "bad.png"`, "PNG: corrupt image data", "checksum"}
			}},
		{"text file named .jpg", func(t *testing.T, e *badEnv) { e.replaceImage(t, "train", 5, []byte("see the shared drive\n")) }, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + ":5: image", "looks like text"}
			}},
		{"1x1 image", func(t *testing.T, e *badEnv) {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 1, 1)), nil); err != nil {
				t.Fatal(err)
			}
			e.replaceImage(t, "train", 7, buf.Bytes())
		}, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt") + ":7: image", "is 1×1 pixels"}
			}},
		{"bad image in val", func(t *testing.T, e *badEnv) { e.replaceImage(t, "val", 2, []byte{0xFF, 0xD8, 0xFF}) }, none,
			func(e *badEnv) []string { return []string{filepath.Join(e.data, "val.txt") + ":2: image", "JPEG"} }},

		// Classes.
		{"num_classes differs from the labels present", nil, flags("--num_classes", "6"),
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt"), "--num_classes is 6", "5 (Ungradable)"}
			}},
		{"a class with zero images", func(t *testing.T, e *badEnv) {
			e.editLabels(t, "train", func(l []string) []string {
				var kept []string
				for _, s := range l {
					if !strings.HasSuffix(s, " 2") {
						kept = append(kept, s)
					}
				}
				return kept
			})
		}, none,
			func(e *badEnv) []string {
				return []string{filepath.Join(e.data, "train.txt"), "2 (Moderate)", "would have no training images"}
			}},

		// --weights.
		{"weights file missing", nil,
			func(e *badEnv) []string { return []string{"--weights", filepath.Join(e.fix, "nope.pth")} },
			func(e *badEnv) []string {
				return []string{"--weights " + filepath.Join(e.fix, "nope.pth"), "does not exist"}
			}},
		{"weights not a .pth", func(t *testing.T, e *badEnv) { writeFile(t, filepath.Join(e.tmp, "photo.pth"), e.image(t, "train", 1)) },
			func(e *badEnv) []string { return []string{"--weights", filepath.Join(e.tmp, "photo.pth")} },
			func(e *badEnv) []string {
				return []string{filepath.Join(e.tmp, "photo.pth"), "not a PyTorch checkpoint"}
			}},
		{"weights truncated zip", nil,
			func(e *badEnv) []string { return []string{"--weights", filepath.Join(e.fix, "truncated.pth")} },
			func(e *badEnv) []string { return []string{filepath.Join(e.fix, "truncated.pth"), "truncated"} }},
		{"weights TorchScript archive", nil,
			func(e *badEnv) []string { return []string{"--weights", filepath.Join(e.fix, "torchscript.pt")} },
			func(e *badEnv) []string {
				return []string{filepath.Join(e.fix, "torchscript.pt"), "TorchScript archive"}
			}},
		{"weights tensor of the wrong shape", nil,
			func(e *badEnv) []string { return []string{"--weights", filepath.Join(e.fix, "wrong_shape.pth")} },
			func(e *badEnv) []string {
				return []string{filepath.Join(e.fix, "wrong_shape.pth"), "size mismatch for " + e.key, "[2, 3]"}
			}},
		{"weights tensor of the wrong dtype", nil,
			func(e *badEnv) []string { return []string{"--weights", filepath.Join(e.fix, "wrong_dtype.pth")} },
			func(e *badEnv) []string {
				return []string{filepath.Join(e.fix, "wrong_dtype.pth"), "dtype mismatch for " + e.key, "int64"}
			}},

		// Flags.
		{"unknown model", nil, flags("--model", "resnet5O"), flags(`unknown model "resnet5O"`)},
		{"batch_size 0", nil, flags("--batch_size", "0"), flags("--batch_size must be at least 1, got 0")},
		{"epochs 0", nil, flags("--epochs", "0"), flags("--epochs must be at least 1, got 0")},
		{"lr -1", nil, flags("--lr", "-1"), flags("--lr must be a positive number, got -1")},
		{"device 3 without CUDA", skipIfManyGPUs, flags("--device", "3"), flags("--device 3", "CUDA")},
		{"img_size for a fixed-size model", nil, flags("--model", "vision_transformer_small"),
			flags("--img_size 64", "vision_transformer_small", "224×224")},

		// The output folder.
		{"unwritable output folder", func(t *testing.T, e *badEnv) { makeUnwritable(t, e.out) }, none,
			func(e *badEnv) []string { return []string{"--output " + e.out, "cannot write in " + e.out} }},
		{"output folder is a file", func(t *testing.T, e *badEnv) { writeFile(t, filepath.Join(e.tmp, "results"), []byte("x")) },
			func(e *badEnv) []string { return []string{"--output", filepath.Join(e.tmp, "results")} },
			func(e *badEnv) []string {
				return []string{"--output " + filepath.Join(e.tmp, "results"), filepath.Join(e.tmp, "results") + " is not a folder"}
			}},

		// --resume.
		{"resume a checkpoint of another model", nil,
			func(e *badEnv) []string {
				return []string{"--resume", filepath.Join(e.fix, "other", "weights", "mobilenet_v3", "last.pth")}
			},
			func(e *badEnv) []string {
				return []string{"--resume " + filepath.Join(e.fix, "other", "weights", "mobilenet_v3", "last.pth"),
					"--model mobilenet_v3 with 5 classes, this run is --model shufflenet_small"}
			}},
		{"resume file missing", nil,
			func(e *badEnv) []string { return []string{"--resume", filepath.Join(e.tmp, "last.pth")} },
			func(e *badEnv) []string {
				return []string{"--resume " + filepath.Join(e.tmp, "last.pth"), "no such file"}
			}},
		{"resume a state_dict, not a last.pth", nil,
			func(e *badEnv) []string {
				return []string{"--resume", filepath.Join(e.out, "weights", "shufflenet_small", "DDR.pth")}
			},
			func(e *badEnv) []string {
				return []string{"--resume " + filepath.Join(e.out, "weights", "shufflenet_small", "DDR.pth"), "not a drgrade last.pth"}
			}},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases; the issue asks for at least 25", len(cases))
	}

	newEnv := func(t *testing.T) *badEnv {
		tmp := t.TempDir()
		e := &badEnv{data: filepath.Join(tmp, "data"), out: filepath.Join(tmp, "out"), fix: fix,
			tmp: filepath.Join(tmp, "scratch"), key: key}
		mkdir(t, e.tmp)
		copyTree(t, data, e.data)
		copyTree(t, golden, e.out)
		return e
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			before := snapshot(t, e.out)
			code, stdout, stderr := runDrgrade(t, bin, e.tmp, trainArgs(e.data, e.out, tc.args(e)...)...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if !strings.HasPrefix(stderr, "drgrade train: ") {
				t.Errorf("stderr does not start with the command's message prefix")
			}
			for _, w := range tc.want(e) {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks the culprit %q", w)
				}
			}
			if m := leaks.FindString(stdout + stderr); m != "" {
				t.Errorf("a crash or trace reached the user (%q)", m)
			}
			if diff := compareSnapshots(before, snapshot(t, e.out)); diff != "" {
				t.Errorf("the output folder changed:\n%s", diff)
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
		})
	}

	// The two ways past the image check. --skip_bad_images: an unreadable image is listed and
	// left out, the run goes on. --check_images=false: the image is found when a batch needs
	// it, still with exit status 2 and its name (the TensorBoard run folder exists by then).
	t.Run("skip_bad_images trains without the image", func(t *testing.T) {
		e := newEnv(t)
		e.replaceImage(t, "train", 2, nil)
		code, stdout, stderr := runDrgrade(t, bin, e.tmp, trainArgs(e.data, e.out, "--skip_bad_images")...)
		if code != exitOK || !strings.Contains(stdout, "will skip (--skip_bad_images): "+filepath.Join(e.data, "train.txt")+":2:") {
			t.Errorf("exit %d, want 0 and the image listed\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})
	t.Run("check_images=false finds the image while training", func(t *testing.T) {
		e := newEnv(t)
		e.replaceImage(t, "val", 3, nil)
		code, stdout, stderr := runDrgrade(t, bin, e.tmp, trainArgs(e.data, e.out, "--check_images=false")...)
		bad := filepath.Join(e.data, "val", e.line(t, "val", 3))
		if code != exitUsage || !strings.Contains(stderr, bad+": empty file") || leaks.MatchString(stdout+stderr) {
			t.Errorf("exit %d, want 2 and %s named, no trace\nstdout:\n%s\nstderr:\n%s", code, bad, stdout, stderr)
		}
	})
}

// buildDrgrade builds this package's binary into dir.
func buildDrgrade(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "drgrade")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runDrgrade runs the binary in dir and returns its exit status and output.
func runDrgrade(t *testing.T, bin, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	return runCommand(t, cmd, 3*time.Minute)
}

// runCommand runs cmd (its Env and Dir as set) with a timeout and returns its exit status and
// output; a timeout or a failure to start ends the test.
func runCommand(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	name := filepath.Base(cmd.Path) + " " + strings.Join(cmd.Args[1:], " ")
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s: timed out after %v\nstdout: %s\nstderr: %s", name, timeout, stdout.String(), stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%s: %v", name, err)
	return 0, "", ""
}

func runOK(t *testing.T, bin, dir string, args ...string) {
	t.Helper()
	if code, stdout, stderr := runDrgrade(t, bin, dir, args...); code != 0 {
		t.Fatalf("drgrade %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
}

// setLabel replaces the label on line n of split's label file.
func setLabel(t *testing.T, e *badEnv, split string, n int, label string) {
	t.Helper()
	e.editLabels(t, split, func(l []string) []string {
		l[n-1] = strings.Fields(l[n-1])[0] + " " + label
		return l
	})
}

// pngWithBadCRC re-encodes a JPEG as PNG and corrupts the CRC of its first IDAT chunk: the
// header reads fine, the pixel data does not.
func pngWithBadCRC(t *testing.T, jpg []byte) []byte {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	i := bytes.Index(b, []byte("IDAT"))
	if i < 4 {
		t.Fatal("no IDAT chunk")
	}
	n := int(binary.BigEndian.Uint32(b[i-4 : i]))
	b[i+4+n] ^= 0xFF // first byte of the chunk's CRC
	return b
}

// makeUnwritable makes every folder under root unwritable: by permissions for a normal user,
// with the immutable attribute (chattr +i) for root, whom permissions do not stop.
func makeUnwritable(t *testing.T, root string) {
	t.Helper()
	var dirs []string
	walkFiles(t, root, func(p string, fi fs.FileInfo) {
		if fi.IsDir() {
			dirs = append(dirs, p)
		}
	})
	if os.Geteuid() != 0 {
		for _, d := range dirs {
			if err := os.Chmod(d, 0o555); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			for _, d := range dirs {
				os.Chmod(d, 0o755)
			}
		})
		return
	}
	args := append([]string{"+i"}, dirs...)
	if out, err := exec.Command("chattr", args...).CombinedOutput(); err != nil {
		t.Skipf("running as root and chattr +i is not available here (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", append([]string{"-i"}, dirs...)...).Run() })
	if f, err := os.CreateTemp(root, "probe"); err == nil { // the attribute must really stop writes
		f.Close()
		os.Remove(f.Name())
		t.Skip("chattr +i does not stop root from writing here")
	}
}

// fileState is what a file must keep: for folders only the mode.
type fileState struct {
	mode  fs.FileMode
	size  int64
	mtime time.Time
	sum   [32]byte
}

// snapshot records every file and folder under root.
func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	s := map[string]fileState{}
	walkFiles(t, root, func(p string, fi fs.FileInfo) {
		rel, _ := filepath.Rel(root, p)
		st := fileState{mode: fi.Mode()}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			st.size, st.mtime, st.sum = fi.Size(), fi.ModTime(), sha256.Sum256(b)
		}
		s[rel] = st
	})
	return s
}

// compareSnapshots lists what was added, removed or changed ("" when nothing).
func compareSnapshots(before, after map[string]fileState) string {
	var d []string
	for p, b := range before {
		a, ok := after[p]
		switch {
		case !ok:
			d = append(d, "removed "+p)
		case a != b:
			d = append(d, fmt.Sprintf("changed %s (mode %v→%v, size %d→%d, mtime %s→%s, content same: %v)",
				p, b.mode, a.mode, b.size, a.size, b.mtime.Format(time.RFC3339), a.mtime.Format(time.RFC3339), a.sum == b.sum))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			d = append(d, "added "+p)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}

// walkFiles calls f for root and everything below it, in lexical order.
func walkFiles(t *testing.T, root string, f func(p string, fi fs.FileInfo)) {
	t.Helper()
	err := filepath.Walk(root, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		f(p, fi)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// copyTree copies src to dst with modes and modification times.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	var files []string
	walkFiles(t, src, func(p string, fi fs.FileInfo) {
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			if err := os.MkdirAll(target, fi.Mode().Perm()); err != nil {
				t.Fatal(err)
			}
			return
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(target, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	})
	if len(files) == 0 {
		t.Fatalf("nothing to copy under %s", src)
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}
