package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configFlags is a small flag set of train's kinds of flags, plus --config.
func configFlags() (*flag.FlagSet, *struct {
	lr     float64
	epochs int
	model  string
	amp    bool
	seed   uint64
}) {
	v := &struct {
		lr     float64
		epochs int
		model  string
		amp    bool
		seed   uint64
	}{}
	fs := newFlags("train", "", io.Discard, io.Discard)
	fs.Float64Var(&v.lr, "lr", 0.0002, "")
	fs.IntVar(&v.epochs, "epochs", 20, "")
	fs.StringVar(&v.model, "model", "resnet", "")
	fs.BoolVar(&v.amp, "use_amp", false, "")
	fs.Uint64Var(&v.seed, "seed", 1, "")
	fs.String(configFlag, "", "")
	return fs, v
}

// TestConfigFile: the file's keys set their flags, the command line wins, and every bad file
// is a usage error naming the file and the line (and the closest flag for a misspelt key).
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("exp.yaml", "# an experiment\nlr: 0.001\nepochs: 3\nmodel: shufflenet_small\nuse_amp: true\n")
	for _, c := range []struct {
		name   string
		args   []string
		lr     float64
		epochs int
		model  string
		amp    bool
		errHas []string
	}{
		{"file", []string{"--config", good}, 0.001, 3, "shufflenet_small", true, nil},
		{"command line wins", []string{"--epochs", "7", "--config", good, "--model", "resnet"}, 0.001, 7, "resnet", true, nil},
		{"no file", nil, 0.0002, 20, "resnet", false, nil},
		{"empty file", []string{"--config", write("empty.yaml", "")}, 0.0002, 20, "resnet", false, nil},
		{"unknown key", []string{"--config", write("typo.yaml", "lr: 0.1\nepoch: 3\n")}, 0, 0, "", false,
			[]string{"typo.yaml:2", `unknown key "epoch"`, `did you mean "epochs"`}},
		{"bad value", []string{"--config", write("bad.yaml", "epochs: three\n")}, 0, 0, "", false,
			[]string{"bad.yaml:1", `key "epochs"`}},
		{"a list", []string{"--config", write("list.yaml", "model:\n  - a\n  - b\n")}, 0, 0, "", false,
			[]string{"list.yaml:2", "single value"}},
		{"null", []string{"--config", write("null.yaml", "model:\n")}, 0, 0, "", false,
			[]string{"null.yaml:1", "single value"}},
		{"duplicate key", []string{"--config", write("dup.yaml", "lr: 1\nlr: 2\n")}, 0, 0, "", false,
			[]string{"dup.yaml:2", "first on line 1"}},
		{"not a mapping", []string{"--config", write("seq.yaml", "- lr\n")}, 0, 0, "", false,
			[]string{"seq.yaml:1", "mapping"}},
		{"config in config", []string{"--config", write("self.yaml", "config: x.yaml\n")}, 0, 0, "", false,
			[]string{"self.yaml:1", `unknown key "config"`}},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, 0, 0, "", false,
			[]string{"nope.yaml"}},
		{"broken yaml", []string{"--config", write("broken.yaml", "lr: [1\n")}, 0, 0, "", false,
			[]string{"broken.yaml"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, v := configFlags()
			err := parse(fs, c.args, io.Discard)
			if err == nil {
				err = applyConfig(fs)
			}
			if c.errHas != nil {
				if err == nil {
					t.Fatal("no error")
				}
				if _, ok := err.(usageError); !ok {
					t.Errorf("%T is not a usage error (exit 2)", err)
				}
				for _, s := range c.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.lr != c.lr || v.epochs != c.epochs || v.model != c.model || v.amp != c.amp {
				t.Errorf("lr %v epochs %d model %s amp %v; want %v %d %s %v", v.lr, v.epochs, v.model, v.amp, c.lr, c.epochs, c.model, c.amp)
			}
		})
	}
}

// TestResolvedArgsRoundTrip: args.yaml holds every flag but --config, typed, and read back with
// --config it gives the same values.
func TestResolvedArgsRoundTrip(t *testing.T) {
	fs, _ := configFlags()
	if err := parse(fs, []string{"--lr", "0.00031", "--use_amp", "--model", "a: b", "--seed", "18446744073709551615"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	out, err := resolvedArgs(fs)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, s := range []string{"lr: 0.00031\n", "use_amp: true\n", "epochs: 20\n", "seed: 18446744073709551615\n"} {
		if !strings.Contains(text, s) {
			t.Errorf("args.yaml lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "config") && !strings.HasPrefix(text, "#") {
		t.Errorf("args.yaml names --config:\n%s", text)
	}
	p := filepath.Join(t.TempDir(), "args.yaml")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	fs2, v2 := configFlags()
	if err := parse(fs2, []string{"--config", p}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(fs2); err != nil {
		t.Fatal(err)
	}
	if v2.lr != 0.00031 || !v2.amp || v2.model != "a: b" || v2.seed != 18446744073709551615 || v2.epochs != 20 {
		t.Errorf("read back: %+v", *v2)
	}
}

// TestConfigRepeatsRun: a run from --config writes args.yaml beside DDR.txt, and training again
// from that args.yaml (only --output changed on the command line) gives the same DDR.txt.
func TestConfigRepeatsRun(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "data")
	var out strings.Builder
	if code := run([]string{"synth", "--out", data, "--n", "40", "--size", "48", "--proportions", "uniform"}, &out, &out); code != 0 {
		t.Fatalf("synth: exit %d\n%s", code, out.String())
	}
	exp := filepath.Join(work, "exp.yaml")
	writeFile(t, exp, []byte("model: shufflenet_small\nepochs: 2\nlr: 0.003\nbatch_size: 8\nimg_size: 48\n"))
	args := []string{"train", "--config", exp, "--data_path", data, "--output", filepath.Join(work, "a"),
		"--weights", "", "--threads", "1", "--num_workers", "1", "--quiet", "--tensorboard=false"}
	if code := run(args, &out, &out); code != 0 {
		t.Fatalf("train --config: exit %d\n%s", code, out.String())
	}
	wa := filepath.Join(work, "a", "weights", "shufflenet_small")
	text := readText(t, filepath.Join(wa, "args.yaml"))
	for _, s := range []string{"epochs: 2\n", "lr: 0.003\n", "model: shufflenet_small\n", "img_size: 48\n", "weights: \"\"\n", "tensorboard: false\n"} {
		if !strings.Contains(text, s) {
			t.Errorf("args.yaml lacks %q:\n%s", s, text)
		}
	}
	if code := run([]string{"train", "--config", filepath.Join(wa, "args.yaml"), "--output", filepath.Join(work, "b")}, &out, &out); code != 0 {
		t.Fatalf("train --config args.yaml: exit %d\n%s", code, out.String())
	}
	wb := filepath.Join(work, "b", "weights", "shufflenet_small")
	a, b := readText(t, filepath.Join(wa, "DDR.txt")), readText(t, filepath.Join(wb, "DDR.txt"))
	if a != b || !strings.Contains(a, "[epoch 2]") {
		t.Errorf("the repeated run differs:\n--- from exp.yaml\n%s--- from its args.yaml\n%s", a, b)
	}
	if ya, yb := text, readText(t, filepath.Join(wb, "args.yaml")); strings.Replace(ya, filepath.Join(work, "a"), filepath.Join(work, "b"), 1) != yb {
		t.Errorf("the repeated run's args.yaml differs beyond --output:\n%s\n%s", ya, yb)
	}
}
