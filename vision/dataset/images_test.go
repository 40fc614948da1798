package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckImages(t *testing.T) {
	// The sizer reads the "image" content as "W H" or fails with the content as its message,
	// so each case states its images' sizes in the files themselves.
	sizer := func(path string) (int, int, error) {
		raw, err := os.ReadFile(path)
		if err != nil {
			return 0, 0, err
		}
		var w, h int
		b := string(raw)
		if _, err := fmt.Sscanf(b, "%d %d", &w, &h); err != nil {
			return 0, 0, errors.New(path + ": " + b)
		}
		return w, h, nil
	}
	type want struct {
		kind ProblemKind
		line int
		text string
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []want
	}{
		{"all fine", map[string]string{"train.txt": "a.jpg 0\nb.jpg 1\n", "train/a.jpg": "512 512", "train/b.jpg": "8 8"}, nil},
		{"unreadable and too small, by line", map[string]string{
			"train.txt":   "\na.jpg 0\nb.jpg 1\nc.jpg 0\nd.jpg 1\n",
			"train/a.jpg": "512 512", "train/b.jpg": "not an image", "train/c.jpg": "1 1", "train/d.jpg": "640 7",
		}, []want{{Unreadable, 3, filepath.Join("train", "b.jpg") + ": not an image"},
			{TooSmall, 4, `"c.jpg"`}, {TooSmall, 5, "640×7 pixels"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := layout(t, tc.files)
			d, err := Load(root, "train", 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, workers := range []int{1, 3, 100} {
				err := d.CheckImages(sizer, workers)
				if len(tc.want) == 0 {
					if err != nil {
						t.Fatalf("workers %d: %v", workers, err)
					}
					continue
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("workers %d: got %v, want an *Error", workers, err)
				}
				if len(e.Problems) != len(tc.want) {
					t.Fatalf("workers %d: %d problems, want %d:\n%v", workers, len(e.Problems), len(tc.want), err)
				}
				for i, w := range tc.want {
					p := e.Problems[i]
					if p.Kind != w.kind || p.Line != w.line || p.File != d.LabelFile || !strings.Contains(p.Msg, w.text) {
						t.Errorf("workers %d: problem %d = %+v, want kind %v line %d text %q", workers, i, p, w.kind, w.line, w.text)
					}
				}
				if s := err.Error(); !strings.Contains(s, d.LabelFile+":3: ") || !strings.Contains(s, "1 unreadable image(s), 2 image(s) too small") {
					t.Errorf("message lacks the file:line or the counts:\n%s", s)
				}
			}
		})
	}
}
