package calibrate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/drgrade/drgrade/internal/atomicfile"
)

// Format is the "format" of a calibration file this package writes and reads.
const Format = "drgrade-calibration/1"

// Suffix is appended to a checkpoint's path to name its calibration file.
const Suffix = ".calibration.json"

// PathFor is the calibration file of the checkpoint at weights: weights + ".calibration.json".
func PathFor(weights string) string { return weights + Suffix }

// File is a temperature fitted for one checkpoint, as stored beside it. WeightsSHA256 ties it
// to the checkpoint's bytes: a retrained or replaced checkpoint makes the file stale, and Resolve
// refuses it.
type File struct {
	Format        string  `json:"format"`
	Temperature   float64 `json:"temperature"`
	Weights       string  `json:"weights"`        // the checkpoint's path when fitted
	WeightsSHA256 string  `json:"weights_sha256"` // of the checkpoint file's bytes
	Model         string  `json:"model"`
	NumClasses    int     `json:"num_classes"`
	DataPath      string  `json:"data_path"`
	Split         string  `json:"split"`
	Samples       int     `json:"samples"`
	ImgSize       int     `json:"img_size,omitempty"`
	Transforms    string  `json:"transforms,omitempty"`
	NLLBefore     float64 `json:"nll_before"`
	NLLAfter      float64 `json:"nll_after"`
	// ECE (15 equal-width bins, top label) of softmax(logits) and of softmax(logits/T).
	ECEBefore float64 `json:"ece_before"`
	ECEAfter  float64 `json:"ece_after"`
	Method    string  `json:"method"`
	Created   string  `json:"created,omitempty"` // RFC 3339
}

// Method is File.Method for FitTemperature's fits.
const Method = "minimum of the mean NLL of softmax(logits/T), Newton on 1/T in float64 (Guo et al. 2017 temperature scaling)"

// SHA256File is the hex SHA-256 of a file's bytes.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Save writes f to path atomically (an interrupted write leaves the old file or none).
func (f *File) Save(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("writing calibration file: %w", err)
	}
	return nil
}

// Load reads a calibration file; errors name the file and what is wrong with it.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calibration file %s: %w", path, err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("calibration file %s is not valid JSON (%v): delete it, or run drgrade calibrate again", path, err)
	}
	if f.Format != Format {
		return nil, fmt.Errorf("calibration file %s: format %q, want %q: delete it, or run drgrade calibrate again", path, f.Format, Format)
	}
	if !(f.Temperature > 0) || math.IsInf(f.Temperature, 0) {
		return nil, fmt.Errorf("calibration file %s: temperature %v is not a positive number: delete it, or run drgrade calibrate again", path, f.Temperature)
	}
	if len(f.WeightsSHA256) != 64 {
		return nil, fmt.Errorf("calibration file %s: weights_sha256 %q is not a SHA-256: delete it, or run drgrade calibrate again", path, f.WeightsSHA256)
	}
	return &f, nil
}

// Choice is the temperature to apply, and where it comes from.
type Choice struct {
	Temperature float64 // 0: none (the model's own softmax)
	Source      string  // "", "--temperature", or the calibration file's path
	File        *File   // the calibration file read, if any
}

// Note is the one line saying which temperature is used ("" when none).
func (c Choice) Note() string {
	switch {
	case c.Temperature == 0:
		return ""
	case c.File != nil:
		return fmt.Sprintf("using temperature %.4f from %s (fitted on %s/%s, %d images; --temperature none to leave it out)",
			c.Temperature, c.Source, c.File.DataPath, c.File.Split, c.File.Samples)
	default:
		return fmt.Sprintf("using temperature %s (--temperature)", strconv.FormatFloat(c.Temperature, 'g', -1, 64))
	}
}

// Resolve turns a --temperature flag into the temperature to apply to the logits of the
// checkpoint at weights: "none" (none), a positive number (that one), or "" — the calibration
// file beside weights (PathFor) when there is one, checked against the checkpoint's SHA-256
// and numClasses; none when there is none. A stale or unreadable file is an error naming it.
func Resolve(flag, weights string, numClasses int) (Choice, error) {
	switch s := strings.TrimSpace(flag); s {
	case "none":
		return Choice{}, nil
	case "":
		path := PathFor(weights)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return Choice{}, nil
		}
		f, err := Load(path)
		if err != nil {
			return Choice{}, err
		}
		sum, err := SHA256File(weights)
		if err != nil {
			return Choice{}, fmt.Errorf("weights file %s: %w", weights, err)
		}
		if sum != f.WeightsSHA256 {
			return Choice{}, fmt.Errorf("calibration file %s is stale: it was fitted on a checkpoint with SHA-256 %.12s…, and %s is now %.12s… (retrained or replaced): run drgrade calibrate again, or pass --temperature none",
				path, f.WeightsSHA256, weights, sum)
		}
		if f.NumClasses != numClasses {
			return Choice{}, fmt.Errorf("calibration file %s was fitted with --num_classes %d, not %d: run drgrade calibrate again with --num_classes %d, or pass --temperature none",
				path, f.NumClasses, numClasses, numClasses)
		}
		return Choice{Temperature: f.Temperature, Source: path, File: f}, nil
	default:
		t, err := strconv.ParseFloat(s, 64)
		if err != nil || !(t > 0) || math.IsInf(t, 0) {
			return Choice{}, fmt.Errorf("--temperature %q: want a positive number, none, or leave it out (the calibration file beside --weights, if any)", flag)
		}
		if t == 1 {
			return Choice{}, nil // softmax(z/1) is the model's own
		}
		return Choice{Temperature: t, Source: "--temperature"}, nil
	}
}
