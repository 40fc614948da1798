package main

import (
	"bytes"
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
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
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
