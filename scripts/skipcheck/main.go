// Command skipcheck reads `go test -json` on standard input and fails when a test skipped that
// is not on an allow-list: CI must not pass while a test it is meant to run skips quietly.
//
//	go test -json ./... | go run ./scripts/skipcheck -allow .ci/skips-test.txt
//
// It prints what `go test` prints without -v (each package's ok/FAIL line, the output of
// failing tests), every skip with its reason and whether the list allows it, and a closing
// "N passed, N failed, N skipped" line. It exits 1 when a test failed, a package failed to
// build, a skip is not allowed, or the input holds no test at all.
//
// An allow-list line is a regular expression matched against "package TestName" (subtests:
// "package TestName/sub"), then a "#" and the reason, which is required; blank lines and lines
// starting with "#" are comments.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type rule struct {
	re     *regexp.Regexp
	reason string
	used   int
}

func main() {
	allow := flag.String("allow", "", "the allow-list file (none: no skip is allowed)")
	flag.Parse()
	rules, err := readRules(*allow)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	os.Exit(run(os.Stdin, os.Stdout, rules))
}

func readRules(path string) ([]*rule, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rules []*rule
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pat, reason, ok := strings.Cut(line, "#")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: an allowed skip needs a reason after #", path, i+1)
		}
		re, err := regexp.Compile("^(?:" + strings.TrimSpace(pat) + ")$")
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		rules = append(rules, &rule{re: re, reason: strings.TrimSpace(reason)})
	}
	return rules, nil
}

func run(in io.Reader, out io.Writer, rules []*rule) int {
	outputs := map[string][]string{} // package + test → its output lines, until it ends
	skipReason := map[string]string{}
	var passed, failed, skipped int
	var bad []string
	pkgFailed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Fprintln(out, string(line)) // build errors and the like come as plain text
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				// Package-level lines: ok/FAIL summaries, build failures, panics outside a test.
				if t := strings.TrimSpace(e.Output); strings.HasPrefix(t, "ok ") || strings.HasPrefix(t, "FAIL") ||
					strings.HasPrefix(t, "?") || strings.HasPrefix(t, "panic") || strings.Contains(t, "[build failed]") ||
					strings.HasPrefix(t, "#") || strings.Contains(t, ".go:") {
					fmt.Fprint(out, e.Output)
				}
				continue
			}
			outputs[key] = append(outputs[key], e.Output)
			if t := strings.TrimSpace(e.Output); strings.Contains(t, ": ") && !strings.HasPrefix(t, "---") && !strings.HasPrefix(t, "===") {
				skipReason[key] = t // the last logged line: t.Skip's message
			}
		case "pass":
			if e.Test != "" {
				passed++
			}
			delete(outputs, key)
		case "fail":
			if e.Test == "" {
				pkgFailed = true
				continue
			}
			failed++
			for _, o := range outputs[key] {
				fmt.Fprint(out, o)
			}
			delete(outputs, key)
		case "skip":
			if e.Test == "" {
				continue // a package without tests
			}
			skipped++
			name := e.Package + " " + e.Test
			reason := skipReason[key]
			verdict := "NOT ALLOWED"
			for _, r := range rules {
				if r.re.MatchString(name) {
					r.used++
					verdict = "allowed: " + r.reason
					break
				}
			}
			if verdict == "NOT ALLOWED" {
				bad = append(bad, name)
			}
			fmt.Fprintf(out, "SKIP %s (%s) — %s\n", name, reason, verdict)
			delete(outputs, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "skipcheck: reading go test -json:", err)
		return 1
	}
	code := 0
	if len(bad) > 0 {
		sort.Strings(bad)
		fmt.Fprintf(out, "skipcheck: %d test(s) skipped that CI is meant to run (not on the allow-list):\n  %s\n", len(bad), strings.Join(bad, "\n  "))
		code = 1
	}
	if failed > 0 || pkgFailed {
		code = 1
	}
	if passed+failed == 0 {
		fmt.Fprintln(out, "skipcheck: no test ran")
		code = 1
	}
	fmt.Fprintf(out, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	return code
}
