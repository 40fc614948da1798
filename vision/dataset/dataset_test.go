package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// layout writes a data set under a temp dir: files maps a path relative to the data root
// to its content ("" makes an empty file); dirs are created as needed.
func layout(t *testing.T, files map[string]string, dirs ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoadGood(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		numClasses int
		wantNames  []string
		wantLabels []int
		wantCounts []int
		wantNum    int
	}{
		{
			name: "plain",
			files: map[string]string{
				"train.txt":   "a.jpg 0\nb.jpg 1\nc.jpg 2\n",
				"train/a.jpg": "", "train/b.jpg": "", "train/c.jpg": "",
			},
			numClasses: 3, wantNames: []string{"a.jpg", "b.jpg", "c.jpg"}, wantLabels: []int{0, 1, 2},
			wantCounts: []int{1, 1, 1}, wantNum: 3,
		},
		{
			name: "CRLF, BOM, tabs, trailing blank lines, sign and leading zeros",
			files: map[string]string{
				"train.txt":   "\ufeffa.jpg\t0\r\n  b.jpg   +1  \r\nc.jpg 002\r\n\r\n\n   \n",
				"train/a.jpg": "", "train/b.jpg": "", "train/c.jpg": "",
			},
			numClasses: 5, wantNames: []string{"a.jpg", "b.jpg", "c.jpg"}, wantLabels: []int{0, 1, 2},
			wantCounts: []int{1, 1, 1, 0, 0}, wantNum: 3,
		},
		{
			// Found by FuzzParseLabels: a BOM inside the file (two files joined with cat).
			name: "byte-order marks at the start of later lines",
			files: map[string]string{
				"train.txt":   "a.jpg 0\n\ufeffb.jpg 1\n \ufeff\ufeff c.jpg 1\n\ufeff \ufeff d.jpg 0\n",
				"train/a.jpg": "", "train/b.jpg": "", "train/c.jpg": "", "train/d.jpg": "",
			},
			numClasses: 2, wantNames: []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"}, wantLabels: []int{0, 1, 1, 0},
			wantCounts: []int{2, 2}, wantNum: 2,
		},
		{
			name: "old Mac line ends and a blank line in the middle",
			files: map[string]string{
				"train.txt":   "a.jpg 1\r\rb.jpg 1\r",
				"train/a.jpg": "", "train/b.jpg": "",
			},
			numClasses: 2, wantNames: []string{"a.jpg", "b.jpg"}, wantLabels: []int{1, 1},
			wantCounts: []int{0, 2}, wantNum: 1,
		},
		{
			name: "names with spaces when the label is last, inner spacing kept, subdirectories",
			files: map[string]string{
				"train.txt":             "left eye 01.jpg 3\nright  eye.png 4\nsub/x y.jpg 0\n",
				"train/left eye 01.jpg": "",
				"train/right  eye.png":  "",
				"train/sub/x y.jpg":     "",
				"train/left":            "", // the first field existing does not matter when the whole name does
			},
			numClasses: 5, wantNames: []string{"left eye 01.jpg", "right  eye.png", "sub/x y.jpg"},
			wantLabels: []int{3, 4, 0}, wantCounts: []int{1, 0, 0, 1, 1}, wantNum: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := layout(t, tc.files)
			d, err := Load(root, "train", tc.numClasses)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(d.Names, tc.wantNames) || !reflect.DeepEqual(d.Labels, tc.wantLabels) {
				t.Fatalf("names %q labels %v, want %q %v", d.Names, d.Labels, tc.wantNames, tc.wantLabels)
			}
			for i, n := range d.Names {
				if want := filepath.Join(root, "train", n); d.Paths[i] != want {
					t.Errorf("path %q, want %q", d.Paths[i], want)
				}
			}
			if !reflect.DeepEqual(d.ClassCounts, tc.wantCounts) || d.NumClass != tc.wantNum {
				t.Errorf("counts %v num_class %d, want %v %d", d.ClassCounts, d.NumClass, tc.wantCounts, tc.wantNum)
			}
			if want := len(tc.wantNames); d.Len() != want || d.FoundMessage() != fmt.Sprintf("%d images were found in the dataset.", want) {
				t.Errorf("Len %d, message %q", d.Len(), d.FoundMessage())
			}
		})
	}
}

func TestLoadProblems(t *testing.T) {
	type want struct {
		kind ProblemKind
		line int
		text string // substring of the problem's message
	}
	tests := []struct {
		name       string
		files      map[string]string
		dirs       []string
		numClasses int
		want       []want
		header     string // substring of Error()
	}{
		{
			name:  "single field",
			files: map[string]string{"train.txt": "a.jpg 0\nb.jpg\n", "train/a.jpg": "", "train/b.jpg": ""},
			want:  []want{{Malformed, 2, "single field"}},
		},
		{
			name: "three fields where the first is an image",
			files: map[string]string{"train.txt": "a.jpg 1 0\nb c.jpg 2\n",
				"train/a.jpg": "", "train/b c.jpg": ""},
			want: []want{{Malformed, 1, `"a.jpg" exists, "a.jpg 1" does not`}},
		},
		{
			name:  "three fields and nothing exists: a missing image",
			files: map[string]string{"train.txt": "x y.jpg 1\n"},
			dirs:  []string{"train"},
			want:  []want{{MissingImage, 1, `"x y.jpg"`}},
		},
		{
			name: "labels that are not integers",
			files: map[string]string{"train.txt": "a.jpg one\nb.jpg 1.0\nc.jpg 1_0\nd.jpg 99999999999999999999\n",
				"train/a.jpg": "", "train/b.jpg": "", "train/c.jpg": "", "train/d.jpg": ""},
			want: []want{{BadLabel, 1, `"one" is not an integer`}, {BadLabel, 2, `"1.0"`}, {BadLabel, 3, `"1_0"`},
				{BadLabel, 4, "too large"}},
		},
		{
			name: "labels outside [0, num_classes)",
			files: map[string]string{"train.txt": "a.jpg -1\nb.jpg 5\nc.jpg 4\n",
				"train/a.jpg": "", "train/b.jpg": "", "train/c.jpg": ""},
			want: []want{{LabelRange, 1, "label -1"}, {LabelRange, 2, "outside 0..4 (--num_classes 5)"}},
		},
		{
			name:  "duplicate image names",
			files: map[string]string{"train.txt": "a.jpg 0\nb.jpg 1\n./a.jpg 2\n", "train/a.jpg": "", "train/b.jpg": ""},
			want:  []want{{Duplicate, 3, "first on line 1"}},
		},
		{
			name:   "every missing image, with a count",
			files:  map[string]string{"train.txt": "a.jpg 0\nb.jpg 1\nc.jpg 1\nd.jpg 0\n", "train/b.jpg": ""},
			want:   []want{{MissingImage, 1, `"a.jpg"`}, {MissingImage, 3, `"c.jpg"`}, {MissingImage, 4, `"d.jpg"`}},
			header: "3 of 4 listed images missing",
		},
		{
			name:  "empty label file",
			files: map[string]string{"train.txt": ""},
			dirs:  []string{"train"},
			want:  []want{{Empty, 0, "no `image_name label` lines"}},
		},
		{
			name:  "label file with only blank lines and a BOM",
			files: map[string]string{"train.txt": "\ufeff\r\n  \n\t\n"},
			dirs:  []string{"train"},
			want:  []want{{Empty, 0, "no `image_name label` lines"}},
		},
		{
			name:  "missing split directory",
			files: map[string]string{"train.txt": "a.jpg 0\n"},
			want:  []want{{MissingSplit, 0, "image directory of the train split is missing"}},
		},
		{
			name: "missing label file",
			dirs: []string{"train"},
			want: []want{{MissingSplit, 0, "label file of the train split is missing"}},
		},
		{
			name: "both missing",
			dirs: []string{"val"},
			want: []want{{MissingSplit, 0, "image directory"}, {MissingSplit, 0, "label file"}},
		},
		{
			name: "everything at once, all reported",
			files: map[string]string{"train.txt": "ok.jpg 0\nbad\nx.jpg two\ny.jpg 7\nok.jpg 1\ngone.jpg 0\na.jpg 1 0\n",
				"train/ok.jpg": "", "train/x.jpg": "", "train/y.jpg": "", "train/a.jpg": ""},
			// ordered by line, missing images last
			want: []want{{Malformed, 2, "single field"}, {BadLabel, 3, `"two"`}, {LabelRange, 4, "label 7"},
				{Duplicate, 5, "first on line 1"}, {Malformed, 7, "has 3 fields"}, {MissingImage, 6, `"gone.jpg"`}},
			header: "6 problem(s): 2 malformed line(s), 1 label(s) not an integer, 1 label(s) out of range, 1 duplicate image(s), 1 of 4 listed images missing",
		},
		{
			name:  "invalid UTF-8",
			files: map[string]string{"train.txt": "a.jpg 0\n\xff\xfe.jpg 1\n", "train/a.jpg": ""},
			want:  []want{{Malformed, 2, "not valid UTF-8"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := layout(t, tc.files, tc.dirs...)
			nc := tc.numClasses
			if nc == 0 {
				nc = 5
			}
			d, err := Load(root, "train", nc)
			if err == nil {
				t.Fatalf("Load succeeded with %d images, want problems", d.Len())
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if len(e.Problems) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(e.Problems), len(tc.want), err)
			}
			msg := err.Error()
			for i, w := range tc.want {
				p := e.Problems[i]
				if p.Kind != w.kind || p.Line != w.line || !strings.Contains(p.Msg, w.text) {
					t.Errorf("problem %d = %v (%v, line %d), want %v line %d containing %q", i, p, p.Kind, p.Line, w.kind, w.line, w.text)
				}
				if !strings.Contains(msg, p.String()) {
					t.Errorf("Error() does not list %q:\n%s", p, msg)
				}
				if p.Line > 0 && !strings.Contains(p.String(), fmt.Sprintf("train.txt:%d:", p.Line)) {
					t.Errorf("problem %q is not located as file:line", p)
				}
			}
			if tc.header != "" && !strings.Contains(msg, tc.header) {
				t.Errorf("Error() = %q, want it to contain %q", msg, tc.header)
			}
		})
	}
}

func TestErrorCapsLongLists(t *testing.T) {
	var b strings.Builder
	for i := range maxListed + 25 {
		b.WriteString("img" + strings.Repeat("x", i) + ".jpg 0\n")
	}
	root := layout(t, map[string]string{"train.txt": b.String()}, "train")
	_, err := Load(root, "train", 5)
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) != maxListed+25 {
		t.Fatalf("want %d problems, got %v", maxListed+25, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "125 of 125 listed images missing") || !strings.Contains(msg, "... and 25 more: missing image(s)") {
		t.Errorf("unexpected message tail:\n%s", msg[max(0, len(msg)-300):])
	}
	if n := strings.Count(msg, "\n  "); n != maxListed+1 {
		t.Errorf("Error() has %d listed lines, want %d", n, maxListed+1)
	}
}

func TestCheckNumClasses(t *testing.T) {
	files := map[string]string{"train.txt": "a.jpg 0\nb.jpg 1\nc.jpg 3\n", "train/a.jpg": "", "train/b.jpg": "", "train/c.jpg": ""}
	root := layout(t, files)
	tests := []struct {
		numClasses int
		wantErr    []string
	}{
		{4, []string{"images of 3 classes (0 (No DR), 1 (Mild), 3 (Severe))", "--num_classes is 4", "class(es) 2 (Moderate) would have no training images", "dataset has 3 classes, but input 4"}},
		{6, []string{"2 (Moderate), 4 (Proliferative), 5 (Ungradable)", "dataset has 3 classes, but input 6"}},
	}
	for _, tc := range tests {
		d, err := Load(root, "train", tc.numClasses)
		if err != nil {
			t.Fatal(err)
		}
		err = d.CheckNumClasses()
		if err == nil {
			t.Fatalf("num_classes %d: no error", tc.numClasses)
		}
		for _, w := range tc.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("num_classes %d: %q does not contain %q", tc.numClasses, err, w)
			}
		}
	}
	ok := layout(t, map[string]string{"train.txt": "a.jpg 0\nb.jpg 1\n", "train/a.jpg": "", "train/b.jpg": ""})
	d, err := Load(ok, "train", 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CheckNumClasses(); err != nil {
		t.Errorf("matching num_classes: %v", err)
	}
	if _, err := Load(ok, "train", 0); err == nil {
		t.Error("num_classes 0 accepted")
	}
}

func TestSplits(t *testing.T) {
	tests := []struct {
		files map[string]string
		dirs  []string
		want  []string
	}{
		{map[string]string{"train.txt": "", "val.txt": ""}, []string{"train", "val"}, []string{"train", "val"}},
		{map[string]string{"train.txt": "", "val.txt": "", "test.txt": ""}, []string{"train", "val", "test"}, []string{"train", "val", "test"}},
		{map[string]string{"train.txt": "", "test.txt": ""}, []string{"train", "val"}, []string{"train"}}, // val.txt and test/ missing
		{nil, nil, nil},
	}
	for _, tc := range tests {
		root := layout(t, tc.files, tc.dirs...)
		if got := Splits(root); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Splits = %v, want %v", got, tc.want)
		}
	}
}

func TestAbsoluteNameLikeOsPathJoin(t *testing.T) {
	other := t.TempDir()
	abs := filepath.Join(other, "elsewhere.jpg")
	if err := os.WriteFile(abs, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	root := layout(t, map[string]string{"val.txt": abs + " 1\n"}, "val")
	d, err := Load(root, "val", 2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Paths[0] != abs {
		t.Errorf("path %q, want %q (os.path.join keeps an absolute name)", d.Paths[0], abs)
	}
}
