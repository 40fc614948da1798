package dataset

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// FolderExts are the extensions ImageFolder takes (torchvision.datasets.folder.IMG_EXTENSIONS,
// compared lower-cased), plus .dcm, which drgrade decodes too.
var FolderExts = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".dcm"}

// classDirs lists the class folders of an ImageFolder root: its subdirectories, sorted
// (torchvision's find_classes: sorted(entry.name for entry in os.scandir(dir) if
// entry.is_dir())). Names starting with "." are left out (a deviation: torchvision would make
// .ipynb_checkpoints class 0 and shift every grade).
func classDirs(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if e.IsDir() || (e.Type()&fs.ModeSymlink != 0 && isDir(filepath.Join(dir, e.Name()))) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out) // byte order of UTF-8 is Python's code-point order
	return out
}

func isFolderImage(name string) bool {
	low := strings.ToLower(name)
	for _, e := range FolderExts {
		if strings.HasSuffix(low, e) {
			return true
		}
	}
	return false
}

// classImages lists the images under one class folder in torchvision's make_dataset order:
// for root, _, fnames in sorted(os.walk(class_dir)): for fname in sorted(fnames). Names are
// slash-separated and relative to the ImageFolder root.
func classImages(root, class string) ([]string, error) {
	byDir := map[string][]string{}
	err := filepath.WalkDir(filepath.Join(root, class), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !isFolderImage(e.Name()) {
			return nil
		}
		byDir[filepath.Dir(p)] = append(byDir[filepath.Dir(p)], e.Name())
		return nil
	})
	dirs := make([]string, 0, len(byDir))
	for d := range byDir {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var out []string
	for _, d := range dirs {
		names := byDir[d]
		sort.Strings(names)
		rel, _ := filepath.Rel(root, d)
		for _, n := range names {
			out = append(out, filepath.ToSlash(filepath.Join(rel, n)))
		}
	}
	return out, err
}

// loadFolder reads an ImageFolder tree (src.Dir/<class>/…): the label of a class folder is its
// index among the sorted folder names (torchvision's class_to_idx). Folders named by integers
// must be named by their index, so that a missing grade folder (0 1 2 4) is an error instead of
// grade 4 silently becoming label 3.
func loadFolder(src Source, split string, numClasses int) (*Dataset, error) {
	d := &Dataset{Split: split, Format: FormatFolder, Dir: src.Dir, LabelFile: src.Dir, NumClasses: numClasses,
		ClassCounts: make([]int, numClasses)}
	e := &Error{Split: split}
	if !isDir(src.Dir) {
		e.Problems = append(e.Problems, Problem{File: src.Dir, Kind: MissingSplit,
			Msg: fmt.Sprintf("image directory of the %s split is missing (expected %s/<grade>/ folders)", split, src.Dir)})
		return nil, e
	}
	classes := classDirs(src.Dir)
	if len(classes) == 0 {
		e.Problems = append(e.Problems, Problem{File: src.Dir, Kind: Empty,
			Msg: fmt.Sprintf("no class folders in %s (expected one folder per grade, e.g. 0/ 1/ 2/ 3/ 4/)", src.Dir)})
		return nil, e
	}
	for idx, c := range classes {
		if n, err := strconv.Atoi(c); err == nil && n != idx {
			e.Problems = append(e.Problems, Problem{File: filepath.Join(src.Dir, c), Kind: Malformed,
				Msg: fmt.Sprintf("class folder %q is class %d by torchvision's rule (the sorted folder names %s); name the grade folders 0..%d "+
					"with none missing", c, idx, strings.Join(classes, " "), len(classes)-1)})
			continue
		}
		names, err := classImages(src.Dir, c)
		if err != nil {
			e.Problems = append(e.Problems, Problem{File: filepath.Join(src.Dir, c), Kind: MissingSplit, Msg: err.Error()})
			continue
		}
		if len(names) == 0 {
			e.Problems = append(e.Problems, Problem{File: filepath.Join(src.Dir, c), Kind: Empty,
				Msg: fmt.Sprintf("class folder %q has no images (%s)", c, strings.Join(FolderExts, " "))})
			continue
		}
		if idx >= numClasses {
			e.Problems = append(e.Problems, Problem{File: filepath.Join(src.Dir, c), Kind: LabelRange,
				Msg: fmt.Sprintf("class folder %q is label %d, outside 0..%d (--num_classes %d)", c, idx, numClasses-1, numClasses)})
			continue
		}
		e.Listed += len(names)
		for _, n := range names {
			d.add(n, filepath.Join(src.Dir, filepath.FromSlash(n)), 0, idx)
		}
	}
	return finish(d, e)
}
