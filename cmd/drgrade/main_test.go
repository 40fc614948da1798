package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
)

func TestCommandLine(t *testing.T) {
	out := filepath.Join(t.TempDir(), "y.npy")
	cases := []struct {
		name    string
		args    []string
		code    int
		wantOut string // substring of stdout
		wantErr string // substring of stderr
	}{
		{"no arguments", nil, exitUsage, "", "Usage: drgrade <command>"},
		{"help", []string{"--help"}, exitOK, "Commands:", ""},
		{"unknown command", []string{"trian"}, exitUsage, "", `unknown command "trian" (did you mean "train"?)`},
		{"version", []string{"version"}, exitOK, "libtorch  2.1", ""},
		{"version flag", []string{"--version"}, exitOK, "drgrade   ", ""},
		{"version extra arg", []string{"version", "x"}, exitUsage, "", `unexpected argument "x"`},
		{"unknown flag", []string{"train", "--bogus"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{"forward unknown model", []string{"forward", "--model", "resnt", "--random", "1"}, exitUsage, "", `unknown model "resnt" (did you mean "resnet"?)`},
		{"forward needs an input", []string{"forward", "--model", "resnet_small"}, exitUsage, "", "exactly one of --input"},
		{"forward missing input file", []string{"forward", "--model", "resnet_small", "--input", "/nonexistent.npy"}, exitUsage, "", "/nonexistent.npy"},
		{"forward random", []string{"forward", "--model", "resnet_small", "--random", "1", "--out", out}, exitOK, "logits [1 5]", ""},
		{"forward with weights", []string{"forward", "--model", "resnet_small", "--random", "1", "--weights", "/nonexistent.pth"}, exitUsage, "", "/nonexistent.pth"},
		{"forward bad weights", []string{"forward", "--model", "resnet_small", "--random", "1", "--weights", "main.go"}, exitUsage, "", "main.go"},
		{"transform missing image", []string{"transform", "--in", "/nonexistent.jpg", "--out", out + ".x.npy"}, exitUsage, "", "/nonexistent.jpg"},
		{"transform bad pipeline", []string{"transform", "--pipeline", "test", "--in", "x", "--out", "y"}, exitUsage, "", `--pipeline "test"`},
		{"summary missing data", []string{"summary", "--data_path", "/nonexistent"}, exitUsage, "", "/nonexistent"},
		{"train bad batch size", []string{"train", "--batch_size", "0"}, exitUsage, "", "--batch_size must be at least 1"},
		{"train unknown model", []string{"train", "--model", "resnet5O"}, exitUsage, "", "unknown model"},
		{"train bad device", []string{"train", "--device", "gpu"}, exitUsage, "", `--device "gpu"`},
		{"train missing data", []string{"train", "--data_path", "/nonexistent", "--weights", "", "--output", filepath.Dir(out)}, exitUsage, "", "/nonexistent/train"},
	}
	for _, c := range commands { // every command's --help, so a new one is covered too
		name := c.name
		cases = append(cases, struct {
			name             string
			args             []string
			code             int
			wantOut, wantErr string
		}{name + " --help", []string{name, "--help"}, exitOK, "Usage: drgrade " + name, ""})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantOut, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, stderr.String())
			}
			if strings.Contains(stderr.String(), "goroutine ") || strings.Contains(stderr.String(), "Exception raised from") {
				t.Errorf("a stack trace reached the user:\n%s", stderr.String())
			}
		})
	}
	a, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Shape) != 2 || a.Shape[0] != 1 || a.Shape[1] != 5 {
		t.Fatalf("forward --out wrote shape %v, want [1 5]", a.Shape)
	}
}
