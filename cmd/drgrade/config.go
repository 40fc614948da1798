package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/drgrade/drgrade/internal/suggest"
)

// configFlag is --config: an experiment file whose keys are the command's flag names (timm's
// train.py convention); flags given on the command line win over the file.
const configFlag = "config"

// applyConfig reads the --config file, if one was given, into fs: every key must be a flag of
// this command (but --config itself), every value a scalar; a flag set on the command line
// keeps its value. Errors name the file and line.
func applyConfig(fs *flag.FlagSet) error {
	path := fs.Lookup(configFlag).Value.String()
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return usagef("--config: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return usagef("--config %s: %v", path, err)
	}
	if len(doc.Content) == 0 { // an empty file
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return usagef("%s:%d: want a mapping of flag names to values", path, root.Line)
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := k.Value
		if line, dup := seen[name]; dup {
			return usagef("%s:%d: key %q again (first on line %d)", path, k.Line, name, line)
		}
		seen[name] = k.Line
		f := fs.Lookup(name)
		if f == nil || name == configFlag {
			return usagef("%s:%d: unknown key %q: not a flag of %s%s", path, k.Line, name, fs.Name(), closestFlag(fs, name))
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return usagef("%s:%d: key %q: want a single value", path, v.Line, name)
		}
		if onCommandLine[name] {
			continue
		}
		if err := fs.Set(name, v.Value); err != nil {
			return usagef("%s:%d: key %q: %v", path, v.Line, name, err)
		}
	}
	return nil
}

// closestFlag is ` (did you mean "x"?)` for the flag name nearest to name, or "".
func closestFlag(fs *flag.FlagSet, name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if best := suggest.Closest(name, names); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// resolvedArgs is the args.yaml of a run: every flag of fs (but --config) with the value the
// run used, typed (bool, number, string), sorted by name; `--config args.yaml` repeats the run.
func resolvedArgs(fs *flag.FlagSet) ([]byte, error) {
	m := map[string]any{}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag {
			return
		}
		if g, ok := f.Value.(flag.Getter); ok {
			switch v := g.Get().(type) {
			case bool, int, int64, uint, uint64, float64, string:
				m[f.Name] = v
				return
			}
		}
		m[f.Name] = f.Value.String()
	})
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# drgrade's resolved flags for this run: drgrade train --config args.yaml repeats it\n")
	for _, n := range names {
		node := &yaml.Node{}
		if err := node.Encode(m[n]); err != nil {
			return nil, err
		}
		if f, ok := m[n].(float64); ok { // keep the float's shortest exact form
			node = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(f, 'g', -1, 64)}
		}
		out, err := yaml.Marshal(map[string]*yaml.Node{n: node})
		if err != nil {
			return nil, err
		}
		b.Write(out)
	}
	return b.Bytes(), nil
}
