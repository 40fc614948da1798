package pth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// nestedKeys are the checkpoint keys a state_dict is looked for under, in order.
var nestedKeys = []string{"state_dict", "model_state_dict", "model"}

// dataParallelPrefix is what torch.nn.DataParallel/DistributedDataParallel prepend.
const dataParallelPrefix = "module."

// maxDepth bounds how deeply nested metadata containers may be.
const maxDepth = 1000

func countTensors(d *Dict) int {
	n := 0
	for i := 0; i < d.Len(); i++ {
		if _, ok := d.Value(i).(*tensorRef); ok {
			n++
		}
	}
	return n
}

// describeTop explains why a non-dict checkpoint is not a state_dict.
func describeTop(obj any) error {
	switch x := obj.(type) {
	case *Object:
		return fmt.Errorf("checkpoint is a pickled %s object, not a state_dict (saved with torch.save(model)?); re-save model.state_dict()", x.Class)
	case *tensorRef:
		return errors.New("checkpoint is a single tensor, not a state_dict")
	}
	return fmt.Errorf("checkpoint is a %s, not a state_dict", typeName(obj))
}

// keyName renders a metadata key as a string.
func keyName(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return fmt.Sprint(k)
}

// buildStateDict picks the state_dict out of the unpickled object: the object itself, or
// the dict of tensors under one of nestedKeys; it materialises the tensors and keeps
// everything else as metadata.
func buildStateDict(obj any, fileSize int) (*StateDict, error) {
	top, ok := obj.(*Dict)
	if !ok {
		return nil, describeTop(obj)
	}
	src, nested := top, ""
	if countTensors(top) == 0 {
		for _, k := range nestedKeys {
			v, ok := top.Get(k)
			if !ok {
				continue
			}
			if d, ok := v.(*Dict); ok && countTensors(d) > 0 {
				src, nested = d, k
				break
			}
			if o, ok := v.(*Object); ok {
				return nil, fmt.Errorf("checkpoint entry %q is a pickled %s object, not a state_dict (saved with torch.save(model)?); re-save model.state_dict()", k, o.Class)
			}
		}
	}
	sd := &StateDict{NestedKey: nested}
	w := &walker{seen: map[any]bool{}, entries: map[*tensorRef]*Entry{},
		budget: 4*int64(fileSize) + maxExpandBytes}
	for i := 0; i < src.Len(); i++ {
		name, ok := src.Key(i).(string)
		if !ok {
			return nil, fmt.Errorf("state_dict key %s is not a string", typeName(src.Key(i)))
		}
		switch v := src.Value(i).(type) {
		case *tensorRef:
			e, err := w.materialize(v, name)
			if err != nil {
				return nil, err
			}
			sd.Entries = append(sd.Entries, e)
		case *Object:
			return nil, fmt.Errorf("state_dict entry %q is a pickled %s object; only tensors and plain values are supported", name, v.Class)
		default:
			mv, err := w.convert(v, name, 0)
			if err != nil {
				return nil, err
			}
			sd.Metadata = append(sd.Metadata, Meta{Name: name, Value: mv})
		}
	}
	if nested != "" {
		for i := 0; i < top.Len(); i++ {
			name := keyName(top.Key(i))
			if name == nested {
				continue
			}
			mv, err := w.convert(top.Value(i), name, 0)
			if err != nil {
				return nil, err
			}
			sd.Metadata = append(sd.Metadata, Meta{Name: name, Value: mv})
		}
	}
	if len(sd.Entries) == 0 {
		for i := 0; i < top.Len(); i++ {
			switch v := top.Value(i).(type) {
			case *Object:
				return nil, fmt.Errorf("checkpoint has no tensors; entry %q is a pickled %s object (saved with torch.save(model)?)", keyName(top.Key(i)), v.Class)
			case *Dict:
				if countTensors(v) > 0 {
					return nil, fmt.Errorf("checkpoint has no state_dict at the top level or under %s; tensors are under %q",
						strings.Join(nestedKeys, "/"), keyName(top.Key(i)))
				}
			}
		}
	}
	stripPrefix(sd)
	return sd, nil
}

// stripPrefix removes DataParallel's "module." from every name when all tensors carry it,
// as load_state_dict on the unwrapped model requires.
func stripPrefix(sd *StateDict) {
	if len(sd.Entries) == 0 {
		return
	}
	for _, e := range sd.Entries {
		if !strings.HasPrefix(e.Name, dataParallelPrefix) {
			return
		}
	}
	for _, e := range sd.Entries {
		e.Name = strings.TrimPrefix(e.Name, dataParallelPrefix)
	}
	if sd.NestedKey == "" {
		for i := range sd.Metadata {
			sd.Metadata[i].Name = strings.TrimPrefix(sd.Metadata[i].Name, dataParallelPrefix)
		}
	}
	sd.StrippedPrefix = dataParallelPrefix
}

// walker converts metadata in place: tensors become materialised *Entry values, bare
// storages inert *Objects. seen guards against cycles and shared sub-trees.
type walker struct {
	seen    map[any]bool
	entries map[*tensorRef]*Entry
	budget  int64 // bytes left to materialise
}

// materialize copies one tensor, charging its size to the budget: tensors that share
// storage are copied once per name, so a hostile pickle could otherwise repeat one large
// view many times. Real checkpoints stay far below four times their file size.
func (w *walker) materialize(t *tensorRef, name string) (*Entry, error) {
	e, err := t.materialize(name)
	if err != nil {
		return nil, err
	}
	w.budget -= int64(len(e.Data))
	if w.budget < 0 {
		return nil, fmt.Errorf("tensor %q: the tensors hold far more data than the file (shared or expanded views); refusing to materialise them", name)
	}
	return e, nil
}

func (w *walker) convert(v any, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("metadata %q is nested too deeply", path)
	}
	switch x := v.(type) {
	case *tensorRef:
		if e, ok := w.entries[x]; ok {
			return e, nil
		}
		e, err := w.materialize(x, path)
		if err != nil {
			return nil, err
		}
		w.entries[x] = e
		return e, nil
	case *storage:
		return &Object{Class: "storage"}, nil
	case *List:
		if w.seen[x] {
			return x, nil
		}
		w.seen[x] = true
		return x, w.convertSlice(x.Items, path, depth)
	case *Tuple:
		if w.seen[x] {
			return x, nil
		}
		w.seen[x] = true
		return x, w.convertSlice(x.Items, path, depth)
	case *Dict:
		if w.seen[x] {
			return x, nil
		}
		w.seen[x] = true
		for i := range x.vals {
			c, err := w.convert(x.vals[i], childPath(path, "."+keyName(x.keys[i])), depth+1)
			if err != nil {
				return nil, err
			}
			x.vals[i] = c
		}
		return x, nil
	case *Object:
		if w.seen[x] {
			return x, nil
		}
		w.seen[x] = true
		if err := w.convertSlice(x.Args, path, depth); err != nil {
			return nil, err
		}
		if err := w.convertSlice(x.Items, path, depth); err != nil {
			return nil, err
		}
		s, err := w.convert(x.State, path, depth+1)
		if err != nil {
			return nil, err
		}
		x.State = s
		return x, nil
	}
	return v, nil
}

// childPath extends a metadata path (used to name tensors found in metadata), bounded so
// that deep or long-keyed hostile structures cannot make the names grow quadratically.
func childPath(path, suffix string) string {
	const maxPath = 256
	if len(path) >= maxPath {
		return path
	}
	p := path + suffix
	if len(p) > maxPath {
		p = p[:maxPath] + "…"
	}
	return p
}

func (w *walker) convertSlice(items []any, path string, depth int) error {
	for i := range items {
		c, err := w.convert(items[i], childPath(path, "["+strconv.Itoa(i)+"]"), depth+1)
		if err != nil {
			return err
		}
		items[i] = c
	}
	return nil
}
