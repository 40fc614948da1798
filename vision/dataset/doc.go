// Package dataset reads a diabetic-retinopathy grading data set laid out like the
// researcher's (dataload_DR_grading.py):
//
//	data_path/train/  + data_path/train.txt
//	data_path/val/    + data_path/val.txt
//	data_path/test/   + data_path/test.txt    (optional)
//
// Each label-file line is `image_name label`; the image is data_path/<split>/<image_name>.
// It mirrors DR_Grading_Dataset.__init__ (paths, labels, num_class = number of distinct
// labels, the "N images were found in the dataset." line) and the training script's
// `--num_classes` check, but validates everything first and reports every problem at once,
// with file:line, instead of crashing on the first one.
//
// Label-file rules (a superset of what the original accepts; deviations are marked):
//   - UTF-8 text; byte-order marks are ignored at the start of the file (the original would
//     make one part of the first image name) and among the leading spaces of any line (files
//     joined with `cat` leave them there), so no image name starts with U+FEFF; lines end in
//     \n, \r\n or \r (Python's universal newlines).
//   - Leading/trailing whitespace is stripped (Python's str.strip). Blank lines are skipped
//     anywhere (the original crashes on them, e.g. on a trailing empty line).
//   - The label is the LAST whitespace-separated field and must be a decimal integer
//     (optional sign; Python's int() also takes "1_0" or non-ASCII digits, which are refused
//     here). Everything before it, with its inner spacing kept, is the image name, so names
//     may contain spaces (the original requires exactly two fields).
//   - A line with more than two fields is therefore ambiguous: `a b 3` is image "a b" with
//     label 3 when data_path/<split>/"a b" exists. When it does not but data_path/<split>/a
//     does, the line is reported as malformed (an extra column, not a name with a space);
//     when neither exists, the image is reported missing.
//   - Every label must lie in [0, num_classes) (the original does not check; a bad label
//     surfaces later as a CUDA assert or an index error).
//   - An image name may appear only once (the original silently keeps both lines as two
//     samples); names are compared after filepath.Clean.
//   - Every listed image must exist as a regular file; all missing ones are reported, with a
//     count. Names are joined to the split directory like os.path.join (an absolute name is
//     used as is).
//
// Other layouts (Options, --data_format): CSV label files as the public sets ship them
// (EyePACS trainLabels.csv, APTOS train.csv + train_images/, IDRiD and Messidor; csv.go) and
// torchvision ImageFolder trees (folder.go), detected when unambiguous (formats.go); their
// problems are reported the same way, CSV ones with a column. SplitIndices and WriteSplit
// (split.go) divide one labelled set as scikit-learn's stratified train_test_split does.
//
// Load does not open the images. Dataset.CheckImages reads every one with a caller-given
// decoder (the training command runs it before writing anything) and reports, by label-file
// line, the unreadable ones and those smaller than MinImageSide.
//
// A Dataset is immutable after Load and safe to share between goroutines.
package dataset
