package pth

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// The unpickler produces Go values of these types, which is also what Meta.Value holds:
// nil (None), bool, int64, *big.Int (integers beyond int64), float64, string, []byte,
// *List (list, set, frozenset), *Tuple, *Dict, *Entry (a tensor), Global (a class or
// function referenced by name) and *Object (an instance of a class this package does not
// rebuild, kept inert).

// List is a pickled Python list (or set/frozenset, in insertion order).
type List struct{ Items []any }

// Tuple is a pickled Python tuple.
type Tuple struct{ Items []any }

// Global is a module attribute referenced by a pickle (a class or function), never resolved.
type Global struct{ Module, Name string }

// String returns the dotted name, e.g. "collections.OrderedDict".
func (g Global) String() string { return g.Module + "." + g.Name }

// Object is an instance of a class the reader does not rebuild (e.g. argparse.Namespace
// in a training checkpoint). It is inert: Class names it, Args are the constructor
// arguments and State what BUILD would have set.
type Object struct {
	Class string
	Args  []any
	State any
	Items []any // values appended/set on the object by APPEND(S)/SETITEM(S), if any
}

// Dict is a pickled dict or collections.OrderedDict, in insertion order.
type Dict struct {
	keys  []any
	vals  []any
	index map[string]int
	attrs any // state set by BUILD (OrderedDict._metadata from Module.state_dict)
}

func newDict() *Dict { return &Dict{index: map[string]int{}} }

// Len is the number of items.
func (d *Dict) Len() int { return len(d.keys) }

// Key returns the i-th key in insertion order.
func (d *Dict) Key(i int) any { return d.keys[i] }

// Value returns the i-th value in insertion order.
func (d *Dict) Value(i int) any { return d.vals[i] }

// Get returns the value stored under the string key k.
func (d *Dict) Get(k string) (any, bool) {
	i, ok := d.index["s"+k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// set inserts or replaces k, keeping the first insertion position (Python dict semantics);
// it returns the size of the key's canonical form (the hashing cost).
func (d *Dict) set(k, v any) (int, error) {
	r, err := keyRepr(k)
	if err != nil {
		return 0, err
	}
	if i, ok := d.index[r]; ok {
		d.vals[i] = v
		return len(r), nil
	}
	d.index[r] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return len(r), nil
}

// maxKeyRepr bounds the canonical form of a dict key: pickles can build tuples of tuples
// whose naive expansion is exponential in the input size.
const maxKeyRepr = 4096

// keyRepr is a canonical string for a hashable Python value, equal for values Python
// considers equal dict keys (True == 1 == 1.0); unhashable values are an error.
func keyRepr(k any) (string, error) {
	var sb strings.Builder
	if err := writeKeyRepr(&sb, k); err != nil {
		return "", err
	}
	return sb.String(), nil
}

func writeKeyRepr(sb *strings.Builder, k any) error {
	if sb.Len() > maxKeyRepr {
		return errors.New("dict key is too large")
	}
	switch v := k.(type) {
	case nil:
		sb.WriteString("N")
	case string:
		sb.WriteString("s")
		sb.WriteString(v)
	case bool:
		if v {
			sb.WriteString("i1")
		} else {
			sb.WriteString("i0")
		}
	case int64:
		sb.WriteString("i" + strconv.FormatInt(v, 10))
	case *big.Int:
		sb.WriteString("i" + v.String())
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<63 {
			sb.WriteString("i" + strconv.FormatInt(int64(v), 10))
		} else {
			sb.WriteString("f" + strconv.FormatFloat(v, 'g', -1, 64))
		}
	case []byte:
		sb.WriteString("b" + string(v))
	case Global:
		sb.WriteString("g" + v.String())
	case *Tuple:
		sb.WriteString("(")
		for _, it := range v.Items {
			if err := writeKeyRepr(sb, it); err != nil {
				return err
			}
			sb.WriteString(",")
		}
		sb.WriteString(")")
	default:
		return fmt.Errorf("unhashable dict key of type %s", typeName(k))
	}
	if sb.Len() > maxKeyRepr {
		return errors.New("dict key is too large")
	}
	return nil
}

// typeName names a value's Python type for error messages.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case *List:
		return "list"
	case *Tuple:
		return "tuple"
	case *Dict:
		return "dict"
	case Global:
		return "global " + x.String()
	case *Object:
		return x.Class + " object"
	case *tensorRef, *Entry:
		return "tensor"
	case *storage:
		return "storage"
	}
	return fmt.Sprintf("%T", v)
}

// asInt converts a pickled Python int (or bool, which is an int) to int64.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

// asItems returns the elements of a tuple or list.
func asItems(v any) ([]any, bool) {
	switch x := v.(type) {
	case *Tuple:
		return x.Items, true
	case *List:
		return x.Items, true
	}
	return nil, false
}

// asInts converts a tuple/list of Python ints (a torch.Size or stride) to int64s.
func asInts(v any) ([]int64, bool) {
	items, ok := asItems(v)
	if !ok {
		return nil, false
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, ok := asInt(it)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// canonicalKey turns a storage/tensor key (str or int in the legacy formats) into the
// string torch would look it up by: torch's tar loader does deserialized_objects[int(id)].
func canonicalKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return strconv.FormatInt(n, 10), true
		}
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case *big.Int:
		return x.String(), true
	}
	return "", false
}
