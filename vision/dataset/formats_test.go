package dataset

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestFormatsAsDistributed reads small copies of the public DR sets in the shape they are
// downloaded in, with the format and the columns auto-detected.
func TestFormatsAsDistributed(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		dirs       []string
		opts       Options
		split      string
		wantFormat string
		wantFile   string // label file relative to the root
		wantNames  []string
		wantLabels []int
	}{
		{
			name: "EyePACS trainLabels.csv, names without .jpeg",
			files: map[string]string{
				"trainLabels.csv":    "image,level\n10_left,0\n10_right,0\n13_left,4\n",
				"train/10_left.jpeg": "", "train/10_right.jpeg": "", "train/13_left.jpeg": "",
			},
			split: "train", wantFormat: FormatCSV, wantFile: "trainLabels.csv",
			wantNames: []string{"10_left.jpeg", "10_right.jpeg", "13_left.jpeg"}, wantLabels: []int{0, 0, 4},
		},
		{
			name: "APTOS 2019 train.csv and train_images/*.png, CRLF",
			files: map[string]string{
				"train.csv":                     "id_code,diagnosis\r\n000c1434d8d7,2\r\n001639a390f0,4\r\n",
				"train_images/000c1434d8d7.png": "", "train_images/001639a390f0.png": "",
			},
			split: "train", wantFormat: FormatCSV, wantFile: "train.csv",
			wantNames: []string{"000c1434d8d7.png", "001639a390f0.png"}, wantLabels: []int{2, 4},
		},
		{
			name: "IDRiD: BOM, quoted names with spaces in the header, trailing empty columns and rows",
			files: map[string]string{
				"val.csv":           "\ufeffImage name,Retinopathy grade,Risk of macular edema ,,,\nIDRiD_001,3,2,,,\nIDRiD_002,0,0,,,\n,,,,,\n",
				"val/IDRiD_001.jpg": "", "val/IDRiD_002.jpg": "",
			},
			split: "val", wantFormat: FormatCSV, wantFile: "val.csv",
			wantNames: []string{"IDRiD_001.jpg", "IDRiD_002.jpg"}, wantLabels: []int{3, 0},
		},
		{
			name: "Messidor-2: names with mixed extensions, pandas floats, other columns first",
			files: map[string]string{
				"test.csv": "adjudicated_dme,image_id,adjudicated_dr_grade,adjudicated_gradable\n0,20051020_43808_0100_PP.png,0.0,1\n" +
					"1,IM002385.JPG,2.0,1\n",
				"test/20051020_43808_0100_PP.png": "", "test/IM002385.JPG": "",
			},
			split: "test", wantFormat: FormatCSV, wantFile: "test.csv",
			wantNames: []string{"20051020_43808_0100_PP.png", "IM002385.JPG"}, wantLabels: []int{0, 2},
		},
		{
			name: "semicolons (an Excel export) and columns named by flags",
			files: map[string]string{
				"train.csv":     "file name;dr;note\n\"a b\";1;x\nc;0;y\n",
				"train/a b.tif": "", "train/c.tif": "",
			},
			opts:  Options{ImageCol: "File Name", LabelCol: "dr", ImageExt: "tif"},
			split: "train", wantFormat: FormatCSV, wantFile: "train.csv",
			wantNames: []string{"a b.tif", "c.tif"}, wantLabels: []int{1, 0},
		},
		{
			name: "ImageFolder: sorted class folders, nested, any case of extension, other files and dot folders ignored",
			files: map[string]string{
				"train/0/b.jpg": "", "train/0/a.PNG": "", "train/0/notes.txt": "",
				"train/1/z.jpeg": "", "train/1/sub/y.jpg": "", "train/1/sub-x/w.jpg": "", "train/1/sub/deep/v.jpg": "",
				"train/2/c.dcm": "", "train/.ipynb_checkpoints/q.jpg": "", "train/stray.jpg": "",
			},
			split: "train", wantFormat: FormatFolder, wantFile: "train",
			// torchvision 0.16's make_dataset on this tree (sorted(os.walk) compares whole roots:
			// 1/sub < 1/sub-x < 1/sub/deep); file names sorted per folder.
			wantNames:  []string{"0/a.PNG", "0/b.jpg", "1/z.jpeg", "1/sub/y.jpg", "1/sub-x/w.jpg", "1/sub/deep/v.jpg", "2/c.dcm"},
			wantLabels: []int{0, 0, 1, 1, 1, 1, 2},
		},
		{
			name: "ImageFolder with named grades: torchvision's sorted order",
			files: map[string]string{
				"val/No_DR/a.jpg": "", "val/Mild/b.jpg": "", "val/Severe/c.jpg": "",
			},
			split: "val", wantFormat: FormatFolder, wantFile: "val",
			wantNames: []string{"Mild/b.jpg", "No_DR/a.jpg", "Severe/c.jpg"}, wantLabels: []int{0, 1, 2},
		},
		{
			name: "DDR stays DDR",
			files: map[string]string{
				"train.txt": "a.jpg 1\n", "train/a.jpg": "",
			},
			split: "train", wantFormat: FormatDDR, wantFile: "train.txt",
			wantNames: []string{"a.jpg"}, wantLabels: []int{1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := layout(t, tc.files, tc.dirs...)
			f, err := tc.opts.DetectFormat(root)
			if err != nil || f != tc.wantFormat {
				t.Fatalf("DetectFormat = %q, %v; want %q", f, err, tc.wantFormat)
			}
			splits, err := tc.opts.Splits(root)
			if err != nil || !reflect.DeepEqual(splits, []string{tc.split}) {
				t.Fatalf("Splits = %v, %v; want [%s]", splits, err, tc.split)
			}
			d, err := tc.opts.Load(root, tc.split, 5)
			if err != nil {
				t.Fatal(err)
			}
			if d.Format != tc.wantFormat || d.LabelFile != filepath.Join(root, tc.wantFile) {
				t.Errorf("format %q, label file %s; want %q, %s", d.Format, d.LabelFile, tc.wantFormat, tc.wantFile)
			}
			if !reflect.DeepEqual(d.Names, tc.wantNames) || !reflect.DeepEqual(d.Labels, tc.wantLabels) {
				t.Errorf("names %q labels %v; want %q %v", d.Names, d.Labels, tc.wantNames, tc.wantLabels)
			}
			for i, p := range d.Paths {
				if !isFile(p) {
					t.Errorf("path %d %s is not a file", i, p)
				}
			}
		})
	}
}

// TestFormatProblems: ambiguity and bad rows are errors naming the file, line and column.
func TestFormatProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		dirs  []string
		opts  Options
		split string
		want  []string // substrings of the error, in order
	}{
		{
			name:  "ddr and csv files both present",
			files: map[string]string{"train.txt": "a.jpg 0\n", "train.csv": "image,level\na,0\n", "train/a.jpg": ""},
			split: "train", want: []string{"more than one data format", "ddr (", "train.txt", "csv (", "train.csv", "--data_format"},
		},
		{
			name:  "ddr train and an ImageFolder val",
			files: map[string]string{"train.txt": "a.jpg 0\n", "train/a.jpg": "", "val/0/b.jpg": ""},
			split: "train", want: []string{"ddr (", "folder (", "val"},
		},
		{
			name:  "unknown --data_format",
			files: map[string]string{"train.txt": "a.jpg 0\n", "train/a.jpg": ""},
			opts:  Options{Format: "json"}, split: "train", want: []string{`--data_format "json"`, "ddr, csv, folder"},
		},
		{
			name:  "two label-like columns",
			files: map[string]string{"train.csv": "image,level,diagnosis\na,0,1\n", "train/a.jpg": ""},
			split: "train", want: []string{"train.csv:1:1:", `"level" and "diagnosis" both look like the label column`, "--label_col"},
		},
		{
			name:  "no known image column",
			files: map[string]string{"train.csv": "img,level\na,0\n", "train/a.jpg": ""},
			split: "train", want: []string{"train.csv:1:1:", `no column of the header ("img", "level")`, "--image_col"},
		},
		{
			name:  "--label_col not in the header",
			files: map[string]string{"train.csv": "image,level\na,0\n", "train/a.jpg": ""},
			opts:  Options{LabelCol: "grade"}, split: "train", want: []string{`--label_col "grade" is not a column`},
		},
		{
			name: "bad rows: text label, empty label, short row, duplicate, bad quote, out of range, missing image",
			files: map[string]string{
				"train.csv": "image,level\n" +
					"a,0\n" + // 2 good
					"b,two\n" + // 3
					"c,\n" + // 4
					"d\n" + // 5
					"a,1\n" + // 6
					"e,\"1\"x\n" + // 7
					"f,9\n" + // 8
					"g,1\n", // 9 (missing)
				"train/a.jpeg": "", "train/b.jpeg": "", "train/c.jpeg": "", "train/d.jpeg": "", "train/f.jpeg": "",
			},
			split: "train",
			want: []string{"train split has 7 problem(s)", "1 of 3 listed images missing",
				`train.csv:3:3: label "two" in column "level" is not an integer`,
				`train.csv:4:3: image "c" has no label in column "level"`,
				`train.csv:5:1: row has 1 field(s) but column "level" is field 2`,
				`train.csv:6:1: image "a" is listed again (first on line 2)`,
				`train.csv:7:`, `extraneous or missing " in quoted-field`,
				`train.csv:8: label 9 of "f" is outside 0..4`,
				`train.csv:9: image "g" is not a file in`, "tried .jpeg .jpg"},
		},
		{
			name:  "a name that matches two extensions",
			files: map[string]string{"train.csv": "image,level\na,0\n", "train/a.jpeg": "", "train/a.png": ""},
			split: "train", want: []string{`train.csv:2: image "a" matches a.jpeg and a.png`, "--image_ext"},
		},
		{
			name:  "--image_ext names a file that is not there",
			files: map[string]string{"train.csv": "image,level\na,0\n", "train/a.jpeg": ""},
			opts:  Options{ImageExt: ".png"}, split: "train", want: []string{`image "a.png" is not a file`},
		},
		{
			name:  "both train.csv and trainLabels.csv",
			files: map[string]string{"train.csv": "image,level\na,0\n", "trainLabels.csv": "image,level\na,1\n", "train/a.jpeg": ""},
			split: "train", want: []string{"two label files", "train.csv and", "trainLabels.csv: keep one"},
		},
		{
			name:  "both train/ and train_images/",
			files: map[string]string{"train.csv": "image,level\na,0\n", "train/a.jpeg": "", "train_images/a.jpeg": ""},
			split: "train", want: []string{"two image directories", "train_images"},
		},
		{
			name:  "csv without its image directory",
			files: map[string]string{"train.csv": "image,level\na,0\n", "val.csv": "image,level\na,0\n", "val/a.jpeg": ""},
			split: "train", want: []string{"image directory of the train split is missing", "train/ or train_images/"},
		},
		{
			name:  "header only",
			files: map[string]string{"train.csv": "image,level\n\n", "train/a.jpeg": ""},
			split: "train", want: []string{"train.csv: CSV label file has a header but no rows"},
		},
		{
			name:  "ImageFolder with a grade folder missing",
			files: map[string]string{"train/0/a.jpg": "", "train/1/b.jpg": "", "train/3/c.jpg": ""},
			split: "train", want: []string{`class folder "3" is class 2 by torchvision's rule (the sorted folder names 0 1 3)`},
		},
		{
			name:  "ImageFolder class without images, and too many classes",
			files: map[string]string{"train/a/x.jpg": "", "train/b/notes.txt": "", "train/c/y.jpg": ""},
			opts:  Options{Format: FormatFolder}, split: "train",
			want: []string{`class folder "b" has no images`, `class folder "c" is label 2, outside 0..1`},
		},
		{
			name:  "--data_format folder on a missing split",
			files: map[string]string{"train/0/x.jpg": ""},
			opts:  Options{Format: FormatFolder}, split: "val", want: []string{"image directory of the val split is missing", "<grade>/"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := layout(t, tc.files, tc.dirs...)
			n := 5
			if strings.Contains(tc.name, "too many classes") {
				n = 2
			}
			_, err := tc.opts.Load(root, tc.split, n)
			if err == nil {
				t.Fatal("no error")
			}
			msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error lacks %q after offset %d:\n%s", w, at, msg)
				}
				at += i
			}
		})
	}
}

// TestDDRUnchangedByDetection: with no data-set files present, the zero Options give Load's
// DDR messages, not a format error.
func TestDDRUnchangedByDetection(t *testing.T) {
	root := layout(t, map[string]string{"val.txt": "a.jpg 0\n"}, "val")
	_, want := Load(root, "train", 5)
	_, got := Options{}.Load(root, "train", 5)
	if want == nil || got == nil || got.Error() != want.Error() {
		t.Fatalf("Options{}.Load: %v\nLoad: %v", got, want)
	}
}
