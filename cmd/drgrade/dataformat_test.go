package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (path relative to root → content) under a new temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		writeFile(t, filepath.Join(root, p), []byte(c))
	}
	return root
}

// TestDataFormatFlags: summary reads an APTOS-shaped CSV set and an ImageFolder set, and
// summary and train refuse an ambiguous set and a bad CSV row with exit 2 and file:line:col.
func TestDataFormatFlags(t *testing.T) {
	aptos := writeTree(t, map[string]string{
		"train.csv": "id_code,diagnosis\na,0\nb,2\nc,2\n", "train_images/a.png": "", "train_images/b.png": "", "train_images/c.png": "",
		"val.csv": "id_code,diagnosis\nd,1\n", "val_images/d.png": "",
	})
	folder := writeTree(t, map[string]string{"train/0/a.jpg": "", "train/1/b.jpg": "", "val/0/c.jpg": "", "val/1/d.jpg": ""})
	mixed := writeTree(t, map[string]string{"train.txt": "a.jpg 0\n", "train/a.jpg": "", "train.csv": "image,level\na,0\n"})
	bad := writeTree(t, map[string]string{"train.csv": "image;level\na;x\n", "train/a.jpeg": "", "val.csv": "image;level\na;0\n", "val/a.jpeg": ""})
	cases := []struct {
		name    string
		args    []string
		code    int
		wantOut []string
		wantErr string
	}{
		{"summary csv", []string{"summary", "--data_path", aptos, "--json"}, exitOK, []string{`"dataset": "Train"`, `"total": 3`, `"dataset": "Val"`}, ""},
		{"summary folder", []string{"summary", "--data_path", folder}, exitOK, []string{"Train", "No DR", "Mild"}, ""},
		{"summary folder as csv", []string{"summary", "--data_path", folder, "--data_format", "csv"}, exitUsage, nil, "has no train, val or test split in the csv format"},
		{"summary ambiguous", []string{"summary", "--data_path", mixed}, exitUsage, nil, "more than one data format"},
		{"summary chooses", []string{"summary", "--data_path", mixed, "--data_format", "ddr"}, exitOK, []string{"Train"}, ""},
		{"summary bad row", []string{"summary", "--data_path", bad}, exitUsage, nil, filepath.Join(bad, "train.csv") + `:2:3: label "x" in column "level" is not an integer`},
		{"train bad row", []string{"train", "--data_path", bad, "--weights", "", "--output", t.TempDir(), "--device", "cpu", "--label_col", "level"},
			exitUsage, nil, filepath.Join(bad, "train.csv") + ":2:3:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, stderr.String())
			}
		})
	}
}

// TestDICOMDataEndToEnd: an APTOS-shaped CSV set whose images are DICOM files (the imageio
// corpus: every syntax and photometric interpretation read) trains for one epoch, eval scores
// its val split with the format flags, and predict
// grades a folder of them, reporting the refused JPEG 2000 file by name and transfer syntax;
// no output holds the patient's name or ID, which every file carries.
func TestDICOMDataEndToEnd(t *testing.T) {
	src := filepath.Join("..", "..", "vision", "imageio", "testdata", "dicom")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	data, pred := t.TempDir(), t.TempDir()
	var train, val strings.Builder
	train.WriteString("id_code,diagnosis\n")
	val.WriteString("id_code,diagnosis\n")
	n := 0
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".dcm") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(pred, name), b)
		if strings.HasPrefix(name, "refused") {
			continue
		}
		id := strings.TrimSuffix(name, ".dcm")
		for _, part := range []string{"train_images", "val_images"} {
			writeFile(t, filepath.Join(data, part, name), b)
		}
		fmt.Fprintf(&train, "%s,%d\n", id, n%5)
		fmt.Fprintf(&val, "%s,%d\n", id, (n+1)%5)
		n++
	}
	writeFile(t, filepath.Join(data, "train.csv"), []byte(train.String()))
	writeFile(t, filepath.Join(data, "val.csv"), []byte(val.String()))
	out := t.TempDir()
	var all bytes.Buffer
	runStep := func(want int, args ...string) (string, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		all.Write(stdout.Bytes())
		all.Write(stderr.Bytes())
		if code != want {
			t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", args[0], code, want, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	stdout, _ := runStep(exitOK, trainArgs(data, out, "--device", "cpu")...)
	if !strings.Contains(stdout, fmt.Sprintf("%d images were found", n)) {
		t.Errorf("train output lacks the image count %d:\n%s", n, stdout)
	}
	weights := filepath.Join(out, "weights", "shufflenet_small", "DDR.pth")
	stdout, _ = runStep(exitOK, "eval", "--weights", weights, "--model", "shufflenet_small", "--img_size", "64", "--threads", "1",
		"--data_path", data, "--data_format", "csv", "--label_col", "diagnosis", "--bootstrap", "0", "--quiet")
	if !strings.Contains(stdout, fmt.Sprintf("/val: %d images", n)) {
		t.Errorf("eval output lacks the val split's %d images:\n%.2000s", n, stdout)
	}
	stdout, stderr := runStep(exitUsage, "predict", "--weights", weights, "--model", "shufflenet_small", "--img_size", "64",
		"--threads", "1", "--json", pred)
	if got := strings.Count(stdout, `"grade_name"`); got != n {
		t.Errorf("predict graded %d DICOM files, want %d:\n%s", got, n, stdout)
	}
	for _, want := range []string{"refused_jpeg2000.dcm", "1.2.840.10008.1.2.4.90", "refused_rle.dcm"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("predict stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, private := range []string{"Secretname", "31415926"} {
		if strings.Contains(all.String(), private) {
			t.Errorf("output holds patient data %q", private)
		}
	}
}
