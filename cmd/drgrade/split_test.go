package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/vision/dataset"
)

// TestSplitCommand: drgrade split on an IDRiD-shaped CSV (labels and images in their own
// folders) and on a folder of grade folders writes a DDR data set that loads, with every image
// in exactly one part, each grade's share kept, and the same bytes for the same seed.
func TestSplitCommand(t *testing.T) {
	counts := []int{40, 5, 25, 6, 14}
	files := map[string]string{}
	var csv strings.Builder
	csv.WriteString("Image name,Retinopathy grade,Risk of macular edema \n")
	folder := map[string]string{}
	n := 0
	for g, c := range counts {
		for i := 0; i < c; i++ {
			n++
			name := fmt.Sprintf("IDRiD_%03d", n)
			fmt.Fprintf(&csv, "%s,%d,0\n", name, g)
			files["images/"+name+".jpg"] = ""
			folder[fmt.Sprintf("%d/%s.png", g, name)] = ""
		}
	}
	files["labels/train labels.csv"] = csv.String()
	idrid := writeTree(t, files)
	grades := writeTree(t, folder)

	split := func(t *testing.T, args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := runSplit(args, &stdout, &stderr)
		return stdout.String(), err
	}
	load := func(t *testing.T, out, s string) *dataset.Dataset {
		d, err := dataset.Load(out, s, 5)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"csv with --image_dir", []string{"--data_path", filepath.Join(idrid, "labels", "train labels.csv"), "--image_dir", filepath.Join(idrid, "images")}},
		{"grade folders", []string{"--data_path", grades}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outA, outB, outC := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "c")
			args := append(tc.args, "--val", "0.2", "--test", "0.1", "--seed", "7")
			msg, err := split(t, append(args, "--out", outA)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(msg, "into "+outA+": train 63, val 18, test 9") {
				t.Errorf("message %q", msg)
			}
			seen := map[string]string{}
			for _, s := range []string{"train", "val", "test"} {
				d := load(t, outA, s)
				for i, name := range d.Names {
					if p, dup := seen[name]; dup {
						t.Errorf("%s in %s and %s", name, p, s)
					}
					seen[name] = s
					if !strings.Contains(name, fmt.Sprint(d.Labels[i])) && tc.name == "grade folders" {
						t.Errorf("%s has label %d", name, d.Labels[i])
					}
				}
				// Each grade's share: within one image of its proportion of the part.
				for g, c := range d.ClassCounts {
					want := float64(counts[g]) * float64(d.Len()) / 90
					if diff := float64(c) - want; diff > 1 || diff < -1 {
						t.Errorf("%s: grade %d has %d images, want %.1f±1 (%v)", s, g, c, want, d.ClassCounts)
					}
				}
			}
			if len(seen) != 90 {
				t.Errorf("%d images in the parts, want 90", len(seen))
			}
			if _, err := split(t, append(args, "--out", outB)...); err != nil {
				t.Fatal(err)
			}
			if _, err := split(t, append(append([]string{}, tc.args...), "--val", "0.2", "--test", "0.1", "--seed", "8", "--out", outC)...); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"train.txt", "val.txt", "test.txt"} {
				a, _ := os.ReadFile(filepath.Join(outA, f))
				b, _ := os.ReadFile(filepath.Join(outB, f))
				c, _ := os.ReadFile(filepath.Join(outC, f))
				if !bytes.Equal(a, b) || len(a) == 0 {
					t.Errorf("%s differs between two runs with --seed 7", f)
				}
				if bytes.Equal(a, c) {
					t.Errorf("%s is the same with --seed 7 and 8", f)
				}
			}
			b, _ := os.ReadFile(filepath.Join(outA, "split.json"))
			if !bytes.Contains(b, []byte(`"rule": "scikit-learn's train_test_split`)) || !bytes.Contains(b, []byte(`"seed": 7`)) {
				t.Errorf("split.json:\n%s", b)
			}
			// Refusals.
			if _, err := split(t, append(args, "--out", outA)...); err == nil || !strings.Contains(err.Error(), "exists and is not empty") {
				t.Errorf("existing --out: %v", err)
			}
		})
	}
	// --write csv: the same parts as <part>.csv files, which the csv format reads back.
	t.Run("write csv", func(t *testing.T) {
		ddrOut, csvOut := filepath.Join(t.TempDir(), "d"), filepath.Join(t.TempDir(), "c")
		for _, a := range [][]string{{"--out", ddrOut}, {"--out", csvOut, "--write", "csv"}} {
			if _, err := split(t, append([]string{"--data_path", grades, "--seed", "3"}, a...)...); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(filepath.Join(csvOut, "train.txt")); err == nil {
			t.Error("--write csv wrote train.txt")
		}
		for _, s := range []string{"train", "val"} {
			want := load(t, ddrOut, s)
			got, err := dataset.Options{}.Load(csvOut, s, 5)
			if err != nil {
				t.Fatal(err)
			}
			if got.Format != dataset.FormatCSV || !reflect.DeepEqual(got.Names, want.Names) || !reflect.DeepEqual(got.Labels, want.Labels) {
				t.Errorf("%s: csv layout (%s) %v %v, ddr %v %v", s, got.Format, got.Names, got.Labels, want.Names, want.Labels)
			}
		}
		if _, err := split(t, "--data_path", grades, "--out", filepath.Join(t.TempDir(), "x"), "--write", "json"); err == nil ||
			!strings.Contains(err.Error(), `--write "json"`) {
			t.Errorf("--write json: %v", err)
		}
	})
	// Through the command list: help, and a usage error's exit status.
	for _, tc := range []struct {
		args       []string
		code       int
		out, errex string
	}{
		{[]string{"split", "--help"}, exitOK, "Usage: drgrade split", ""},
		{[]string{"split", "--data_path", grades}, exitUsage, "", "--data_path and --out are required"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.errex) {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", tc.args, code, tc.code, stdout.String(), stderr.String())
		}
	}
	oneImage := writeTree(t, map[string]string{"l.csv": "image,level\na,0\nb,0\nc,1\nd,0\ne,0\n", "a.png": "", "b.png": "", "c.png": "", "d.png": "", "e.png": ""})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a grade with one image", []string{"--data_path", filepath.Join(oneImage, "l.csv"), "--out", filepath.Join(t.TempDir(), "o")}, "grade 1 has only 1 image"},
		{"out inside the input", []string{"--data_path", grades, "--out", filepath.Join(grades, "split")}, "is inside the input"},
		{"bad fraction", []string{"--data_path", grades, "--out", t.TempDir() + "/x", "--val", "1.5"}, "--val must lie in (0, 1)"},
		{"val and test leave nothing", []string{"--data_path", grades, "--out", t.TempDir() + "/x", "--val", "0.5", "--test", "0.5"}, "leave no training images"},
		{"no such split", []string{"--data_path", oneImage, "--out", t.TempDir() + "/x"}, "has no train split"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := split(t, tc.args...)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}
