package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSkipcheck(t *testing.T) {
	lines := func(l ...string) string { return strings.Join(l, "\n") + "\n" }
	pass := `{"Action":"pass","Package":"p","Test":"TestA"}`
	skipB := lines(`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: needs the venv\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestB"}`)
	fail := lines(`{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestC"}`, `{"Action":"fail","Package":"p"}`)
	dir := t.TempDir()
	allowB := filepath.Join(dir, "allow.txt")
	if err := os.WriteFile(allowB, []byte("# comment\np TestB  # runs in make parity\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noReason := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(noReason, []byte("p TestB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, allow string
		code            int
		want            []string
	}{
		{"all pass", lines(pass), "", 0, []string{"1 passed, 0 failed, 0 skipped"}},
		{"skip not allowed", lines(pass) + skipB, "", 1, []string{"SKIP p TestB (b_test.go:9: needs the venv) — NOT ALLOWED", "1 test(s) skipped"}},
		{"skip allowed", lines(pass) + skipB, allowB, 0, []string{"allowed: runs in make parity", "1 passed, 0 failed, 1 skipped"}},
		{"failure", lines(pass) + fail, allowB, 1, []string{"c_test.go:3: boom", "1 passed, 1 failed"}},
		{"nothing ran", "", "", 1, []string{"no test ran"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := readRules(tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if code := run(strings.NewReader(tc.in), &out, rules); code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	if _, err := readRules(noReason); err == nil || !strings.Contains(err.Error(), "needs a reason") {
		t.Errorf("an allow-list line without a reason: %v", err)
	}
}
