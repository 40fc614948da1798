package pth

import (
	"archive/zip"
	"bytes"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// zipOf builds a zip archive (stored records, in name order) for hand-made test inputs.
func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func unpickle(p string) (any, error) {
	u := newUnpickler([]byte(p), 0, nil)
	u.persistentLoad = func(pid any) (any, error) {
		// Test hook: a persistent id "f<n>" is a float32 storage of n elements.
		s, _ := pid.(string)
		n := int64(len(s))
		return &storage{dtype: Float32, numel: n, data: make([]byte, 4*n)}, nil
	}
	return u.load()
}

// TestUnpickleOpcodes runs hand-assembled pickles through the machine; the expected values
// are what CPython's pickle.loads returns for the same bytes (checked by hand with
// pickletools.dis).
func TestUnpickleOpcodes(t *testing.T) {
	magic, _ := new(big.Int).SetString("1950a86a20f9469cfc6c", 16)
	cases := []struct {
		name string
		in   string
		want any
	}{
		{"BININT1", "K\x07.", int64(7)},
		{"BININT2", "M\x01\x01.", int64(257)},
		{"BININT negative", "J\xff\xff\xff\xff.", int64(-1)},
		{"LONG1 empty", "\x8a\x00.", int64(0)},
		{"LONG1 negative", "\x8a\x01\xff.", int64(-1)},
		{"LONG1 int64 min", "\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80.", int64(-1 << 63)},
		{"LONG1 magic number", "\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", magic},
		{"LONG4", "\x8b\x02\x00\x00\x00\x00\x01.", int64(256)},
		{"INT text", "I42\n.", int64(42)},
		{"INT text True", "I01\n.", true},
		{"LONG text", "L12345678901234567890L\n.", func() any { b, _ := new(big.Int).SetString("12345678901234567890", 10); return b }()},
		{"FLOAT text", "F1.5\n.", 1.5},
		{"BINFLOAT", "G\x3f\xf8\x00\x00\x00\x00\x00\x00.", 1.5},
		{"BINSTRING (py2 str)", "T\x02\x00\x00\x00ab.", "ab"},
		{"SHORT_BINSTRING", "U\x02hi.", "hi"},
		{"SHORT_BINUNICODE", "\x8c\x03abc.", "abc"},
		{"BINUNICODE8", "\x8d\x01\x00\x00\x00\x00\x00\x00\x00z.", "z"},
		{"SHORT_BINBYTES", "C\x02\x00\x01.", []byte{0, 1}},
		{"NONE/NEWTRUE/NEWFALSE tuple3", "N\x88\x89\x87.", &Tuple{Items: []any{nil, true, false}}},
		{"PUT/GET text", "K\x05p3\n0g3\n.", int64(5)},
		{"MEMOIZE/BINGET", "K\x09\x94h\x00\x86.", &Tuple{Items: []any{int64(9), int64(9)}}},
		{"POP", "K\x01K\x020.", int64(1)},
		{"POP at mark pops the mark", "K\x01(0.", int64(1)},
		{"POP_MARK", "K\x01(K\x02K\x031.", int64(1)},
		{"DUP", "K\x042\x86.", &Tuple{Items: []any{int64(4), int64(4)}}},
		{"LIST/APPENDS", "(K\x01l(K\x02K\x03e.", &List{Items: []any{int64(1), int64(2), int64(3)}}},
		{"EMPTY_SET/ADDITEMS", "\x8f(K\x01K\x02\x90.", &List{Items: []any{int64(1), int64(2)}}},
		{"FROZENSET", "(K\x01\x91.", &List{Items: []any{int64(1)}}},
		{"torch.Size", "ctorch\nSize\nK\x02K\x03\x86\x85R.", &Tuple{Items: []any{int64(2), int64(3)}}},
		{"_codecs.encode", "c_codecs\nencode\nX\x02\x00\x00\x00\xc3\xbfX\x06\x00\x00\x00latin1\x86R.", []byte{0xff}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := unpickle("\x80\x02" + c.in)
			if err != nil {
				t.Fatal(err)
			}
			if gb, ok := got.(*big.Int); ok {
				if wb, ok := c.want.(*big.Int); !ok || gb.Cmp(wb) != 0 {
					t.Fatalf("got %v want %v", got, c.want)
				}
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v want %#v", got, c.want)
			}
		})
	}
}

func TestUnpickleDictsAndObjects(t *testing.T) {
	// {1: 'a', True: 'b', 1.0: 'c', 'k': 2}: Python keeps the first key and the last value.
	v, err := unpickle("}(K\x01X\x01\x00\x00\x00a\x88X\x01\x00\x00\x00bG\x3f\xf0\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00cX\x01\x00\x00\x00kK\x02u.")
	if err != nil {
		t.Fatal(err)
	}
	d := v.(*Dict)
	if d.Len() != 2 || d.Key(0) != int64(1) || d.Value(0) != "c" {
		t.Fatalf("dict %v %v", d.keys, d.vals)
	}
	if x, ok := d.Get("k"); !ok || x != int64(2) {
		t.Errorf("Get(k) = %v %v", x, ok)
	}
	// An unknown class becomes an inert object that records its arguments and state.
	v, err = unpickle("cargparse\nNamespace\n)\x81}(X\x02\x00\x00\x00lrG\x3f\xb9\x99\x99\x99\x99\x99\x9aub.")
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*Object)
	if o.Class != "argparse.Namespace" || o.State.(*Dict).Len() != 1 {
		t.Errorf("object %+v", o)
	}
	// NEWOBJ_EX with empty kwargs; OBJ; INST.
	for _, p := range []string{"cfoo\nBar\n)}\x92.", "(cfoo\nBar\no.", "(ifoo\nBar\n."} {
		v, err := unpickle(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if o, ok := v.(*Object); !ok || o.Class != "foo.Bar" {
			t.Errorf("%q: %#v", p, v)
		}
	}
}

func TestUnpickleTensors(t *testing.T) {
	// _rebuild_tensor_v3 with an explicit dtype over an untyped-size storage "ffff" (4 floats
	// = 16 bytes = 8 halves), and _rebuild_parameter wrapping a _rebuild_tensor_v2 tensor.
	v3 := "ctorch._utils\n_rebuild_tensor_v3\n(X\x04\x00\x00\x00ffffQK\x00K\x08\x85K\x01\x85\x89}ctorch\nhalf\ntR."
	v, err := unpickle(v3)
	if err != nil {
		t.Fatal(err)
	}
	tr := v.(*tensorRef)
	e, err := tr.materialize("x")
	if err != nil || e.Dtype != Float16 || len(e.Data) != 16 {
		t.Fatalf("%v %+v", err, e)
	}
	param := "ctorch._utils\n_rebuild_parameter\n(ctorch._utils\n_rebuild_tensor_v2\n(X\x02\x00\x00\x00ffQK\x00K\x02\x85K\x01\x85\x89}tR\x88}tR."
	if v, err := unpickle(param); err != nil {
		t.Fatal(err)
	} else if _, ok := v.(*tensorRef); !ok {
		t.Fatalf("%#v", v)
	}
	sub := "ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor_v2\ncmy\nTensor\n(X\x01\x00\x00\x00fQK\x00K\x01\x85K\x01\x85\x89}tN" + "tR."
	if v, err := unpickle(sub); err != nil {
		t.Fatal(err)
	} else if _, ok := v.(*tensorRef); !ok {
		t.Fatalf("%#v", v)
	}
}

func TestUnpickleErrors(t *testing.T) {
	deep := "}K\x01\x85q\x00" + strings.Repeat("h\x00h\x00\x86q\x000", 40) + "0h\x00Ns."
	// One 4 KB string copied by _codecs.encode 2000 times: 8 MB of work from an 18 KB pickle.
	bomb := "]c_codecs\nencode\nq\x010X\x00\x10\x00\x00" + strings.Repeat("a", 4096) + "q\x020X\x06\x00\x00\x00latin1q\x030(" +
		strings.Repeat("h\x01h\x02h\x03\x86R", 2000) + "e."
	// A 1000-item tuple copied by torch.Size 3000 times.
	sizeBomb := "]ctorch\nSize\nq\x010(" + strings.Repeat("K\x00", 1000) + "t\x85q\x020(" + strings.Repeat("h\x01h\x02R", 3000) + "e."
	cases := []struct{ name, in, want string }{
		{"empty stack at STOP", ".", "underflow"},
		{"no STOP", "K\x01", "no STOP"},
		{"memo miss", "h\x05.", "memo key 5"},
		{"truncated string", "X\xff\x00\x00\x00ab.", "truncated"},
		{"huge BINUNICODE8", "\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", "truncated"},
		{"unknown opcode", "\xff.", "unknown pickle opcode"},
		{"text STRING", "S'a'\n.", "not supported"},
		{"protocol 6", "\x80\x06.", "protocol 6"},
		{"TUPLE without MARK", "K\x01t.", "MARK"},
		{"TUPLE2 underflow", "K\x01\x86.", "underflow"},
		{"pop below mark", "K\x01(\x85.", "underflow"},
		{"STACK_GLOBAL of ints", "K\x01K\x02\x93.", "STACK_GLOBAL"},
		{"REDUCE args not tuple", "cfoo\nbar\nK\x01R.", "REDUCE arguments are a int, not a tuple"},
		{"NEWOBJ args not tuple", "cfoo\nbar\nK\x01\x81.", "NEWOBJ arguments are a int, not a tuple"},
		{"NEWOBJ underflow", ")\x81.", "underflow"},
		{"NEWOBJ_EX with kwargs", "cfoo\nbar\n)}K\x01K\x02s\x92.", "keyword"},
		{"SETITEM underflow", "}K\x01s.", "underflow"},
		{"call a non-global", "K\x01)R.", "cannot call"},
		{"BUILD on a list", "]K\x01b.", "BUILD"},
		{"APPEND to a dict", "}K\x01a.", "APPEND"},
		{"SETITEM on a list", "]K\x01K\x02s.", "SETITEM"},
		{"odd DICT", "(K\x01d.", "odd"},
		{"unhashable key", "}]K\x01s.", "unhashable"},
		{"exponential tuple key", deep, "too large"},
		{"repeated _codecs.encode of one string", bomb, "too much work"},
		{"repeated torch.Size of one tuple", sizeBomb, "too much work"},
		{"conj bit", "ctorch._utils\n_rebuild_tensor_v2\n(X\x01\x00\x00\x00fQK\x00))\x89}}X\x08\x00\x00\x00conj_bit\x88stR.", "conj_bit"},
		{"quantized tensor", "ctorch._utils\n_rebuild_qtensor\n)R.", "unsupported tensor kind"},
		{"tensor on a non-storage", "ctorch._utils\n_rebuild_tensor_v2\n(K\x00K\x00))\x89}tR.", "storage argument"},
		{"bad size tuple", "ctorch._utils\n_rebuild_tensor_v2\n(X\x01\x00\x00\x00fQK\x00X\x00\x00\x00\x00)\x89}tR.", "bad arguments"},
		{"v3 unknown dtype", "ctorch._utils\n_rebuild_tensor_v3\n(X\x01\x00\x00\x00fQK\x00))\x89}ctorch\nfloat8_e4m3fn\ntR.", "float8"},
		{"storage class call", "ctorch\nFloatStorage\n)R.", "storage class"},
		{"EXT1", "\x82\x01.", "extension"},
		{"codecs non-latin1", "c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacX\x06\x00\x00\x00latin1\x86R.", "latin-1"},
		{"_load_from_bytes without loader", "ctorch.storage\n_load_from_bytes\nC\x01x\x85R.", "bad arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := unpickle("\x80\x02" + c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestMetadataCycles: a list containing itself must not hang the metadata walk.
func TestMetadataCycles(t *testing.T) {
	pkl := "\x80\x02}(X\x01\x00\x00\x00w" + "ctorch._utils\n_rebuild_tensor_v2\n(X\x01\x00\x00\x00fQK\x00K\x01\x85K\x01\x85\x89}tR" +
		"X\x04\x00\x00\x00loop]q\x00h\x00au."
	u := newUnpickler([]byte(pkl), 0, nil)
	u.persistentLoad = func(any) (any, error) { return &storage{dtype: Float32, numel: 1, data: make([]byte, 4)}, nil }
	obj, err := u.load()
	if err != nil {
		t.Fatal(err)
	}
	sd, err := buildStateDict(obj, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Entries) != 1 || len(sd.Metadata) != 1 || sd.Metadata[0].Name != "loop" {
		t.Fatalf("%+v", sd)
	}
	l := sd.Metadata[0].Value.(*List)
	if l.Items[0] != l {
		t.Error("cycle not preserved")
	}
}
