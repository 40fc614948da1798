package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGPUSavedCheckpoints: a researcher's DDR.pth from a GPU run has every storage tagged
// 'cuda:0'; --weights, eval, predict and forward read it as torch.load(map_location='cpu')
// does, with results identical to the same weights saved on the CPU. (torch's own encodings
// of GPU checkpoints, zip and torch 1.x's torch.cuda.FloatStorage legacy files, are fixtures
// of vision/models/pth: gpu_zip.pth, gpu_legacy.pth.)
func TestGPUSavedCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the drgrade binary")
	}
	work := t.TempDir()
	bin := buildDrgrade(t, work)
	data := filepath.Join(work, "data")
	out := filepath.Join(work, "out")
	runOK(t, bin, work, "synth", "--out", data, "--n", "30", "--size", "64", "--proportions", "uniform")
	runOK(t, bin, work, trainArgs(data, out)...)
	cpu := filepath.Join(out, "weights", "shufflenet_small", "DDR.pth")
	gpu := filepath.Join(work, "gpu.pth")
	tagCUDA(t, cpu, gpu)

	common := []string{"--model", "shufflenet_small", "--img_size", "64", "--threads", "1", "--num_workers", "1"}
	same := func(what string, args ...string) {
		t.Helper()
		var outs [2]string
		for i, w := range []string{cpu, gpu} {
			code, stdout, stderr := runDrgrade(t, bin, work, append(append([]string{}, args...), append([]string{"--weights", w}, common...)...)...)
			if code != 0 {
				t.Fatalf("%s --weights %s: exit %d\n%s", what, w, code, stderr)
			}
			outs[i] = strings.ReplaceAll(stdout, w, "W")
		}
		if outs[0] != outs[1] {
			t.Errorf("%s differs between the CPU-saved and the GPU-saved checkpoint:\n%s\n---\n%s", what, outs[0], outs[1])
		}
	}
	same("eval", "eval", "--data_path", data, "--json")
	same("predict", "predict", "--json", filepath.Join(data, "val"))
	code, stdout, stderr := runDrgrade(t, bin, work, trainArgs(data, filepath.Join(work, "out2"), "--weights", gpu)...)
	if code != 0 || !strings.Contains(stdout, "loaded 338 tensors from "+gpu) {
		t.Fatalf("train --weights gpu.pth: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var fwd [2]string
	for i, w := range []string{cpu, gpu} {
		code, stdout, stderr := runDrgrade(t, bin, work, "forward", "--model", "shufflenet_small", "--weights", w, "--random", "2", "--threads", "1")
		if code != 0 {
			t.Fatalf("forward --weights %s: exit %d\n%s", w, code, stderr)
		}
		fwd[i] = strings.ReplaceAll(stdout, w, "W")
	}
	if fwd[0] != fwd[1] {
		t.Errorf("forward differs:\n%s\n---\n%s", fwd[0], fwd[1])
	}
}

// tagCUDA copies the zip checkpoint src to dst with its storages tagged 'cuda:0', as
// torch.save writes CUDA tensors: drgrade's pickle names the location once (BINUNICODE "cpu")
// and refers back to it, and protocol 2 has no frames or offsets, so swapping the one string
// is a valid pickle.
func tagCUDA(t *testing.T, src, dst string) {
	t.Helper()
	r, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	swapped := 0
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f.Name, "/data.pkl") {
			cpu := []byte("X\x03\x00\x00\x00cpu")
			swapped = bytes.Count(b, cpu)
			b = bytes.Replace(b, cpu, []byte("X\x06\x00\x00\x00cuda:0"), -1)
		}
		fw, err := w.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if swapped != 1 {
		t.Fatalf("%s: found the location string %d times, want once", src, swapped)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
