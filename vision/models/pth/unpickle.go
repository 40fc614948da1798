package pth

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// unpickler is a minimal pickle virtual machine (protocols 0–5) covering what torch.save
// emits; it mirrors the opcode semantics of CPython's Lib/pickle.py _Unpickler, except that
// globals are never imported: calls are dispatched by name in call().
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int // stack heights at each MARK (CPython's metastack)
	memo  map[uint64]any

	// persistentLoad resolves a BINPERSID/PERSID id (format specific).
	persistentLoad func(pid any) (any, error)
	// loadBytes loads a nested torch.save stream (torch.storage._load_from_bytes).
	loadBytes func(b []byte) (any, error)
	// work is the budget for operations whose cost is not paid for by input bytes
	// (copying or hashing an object that BINGET can push any number of times); it is shared
	// by every pickle of one file, nested ones included.
	work *int64
}

// newWork is the work budget for a file of n bytes: far above what any real checkpoint
// spends (about one unit per object), far below what a hostile pickle could make of
// repeated copies (quadratic in its size).
func newWork(n int) *int64 {
	w := 64*int64(n) + 1<<16
	return &w
}

// newUnpickler starts a machine at data[pos:]; work may be nil for a private budget.
func newUnpickler(data []byte, pos int, work *int64) *unpickler {
	if work == nil {
		work = newWork(len(data))
	}
	return &unpickler{data: data, pos: pos, memo: map[uint64]any{}, work: work}
}

// charge spends n units of the work budget.
func (u *unpickler) charge(n int) error {
	*u.work -= int64(n) + 1
	if *u.work < 0 {
		return u.errf("pickle does too much work for its size (repeated copies of shared objects)")
	}
	return nil
}

// errPickle builds an error that says where in the pickle stream it happened.
func (u *unpickler) errf(format string, args ...any) error {
	return fmt.Errorf("pickle (byte %d): %s", u.pos, fmt.Sprintf(format, args...))
}

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, u.errf("truncated pickle: need %d bytes, %d left", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

// readLen reads a length of size bytes (1, 4 or 8, little-endian, unsigned) and checks it
// against what is left, so a hostile length never drives an allocation.
func (u *unpickler) readLen(size int) (int, error) {
	b, err := u.read(size)
	if err != nil {
		return 0, err
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(b[0])
	case 2:
		n = uint64(binary.LittleEndian.Uint16(b))
	case 4:
		n = uint64(binary.LittleEndian.Uint32(b))
	case 8:
		n = binary.LittleEndian.Uint64(b)
	}
	if n > uint64(len(u.data)-u.pos) {
		return 0, u.errf("truncated pickle: length %d exceeds the %d bytes left", n, len(u.data)-u.pos)
	}
	return int(n), nil
}

func (u *unpickler) readLine() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", u.errf("truncated pickle: unterminated line")
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) base() int {
	if len(u.marks) == 0 {
		return 0
	}
	return u.marks[len(u.marks)-1]
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) <= u.base() {
		return nil, u.errf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) <= u.base() {
		return nil, u.errf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popN pops the top n values, returned bottom first (in the order they were pushed).
func (u *unpickler) popN(n int) ([]any, error) {
	if len(u.stack)-u.base() < n {
		return nil, u.errf("stack underflow")
	}
	v := slices.Clone(u.stack[len(u.stack)-n:])
	u.stack = u.stack[:len(u.stack)-n]
	return v, nil
}

// readMemoIndex reads the 1-byte (BINPUT, BINGET) or 4-byte little-endian (LONG_BINPUT,
// LONG_BINGET) memo index that follows op.
func (u *unpickler) readMemoIndex(long bool) (uint64, error) {
	size := 1
	if long {
		size = 4
	}
	b, err := u.read(size)
	if err != nil {
		return 0, err
	}
	if long {
		return uint64(binary.LittleEndian.Uint32(b)), nil
	}
	return uint64(b[0]), nil
}

// readGlobal reads the "module\nname\n" of GLOBAL and INST.
func (u *unpickler) readGlobal() (Global, error) {
	mod, err := u.readLine()
	if err != nil {
		return Global{}, err
	}
	name, err := u.readLine()
	if err != nil {
		return Global{}, err
	}
	return makeGlobal(mod, name), nil
}

// popMark pops everything above the last MARK (and the mark itself).
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errf("MARK missing")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	if err := u.charge(len(u.stack) - m); err != nil {
		return nil, err
	}
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoize(idx uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) memoGet(idx uint64) error {
	v, ok := u.memo[idx]
	if !ok {
		return u.errf("memo key %d not found", idx)
	}
	u.push(v)
	return nil
}

// load runs the machine until STOP and returns the pickled object; u.pos is then just
// after the STOP opcode, where torch's legacy formats continue with the next record.
func (u *unpickler) load() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, u.errf("truncated pickle: no STOP opcode")
		}
		op := u.data[u.pos]
		u.pos++
		switch op {
		case opStop:
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		case opProto:
			b, err := u.read(1)
			if err != nil {
				return nil, err
			}
			if b[0] > 5 {
				return nil, u.errf("unsupported pickle protocol %d", b[0])
			}
		case opFrame: // framing is only a read-ahead hint
			if _, err := u.read(8); err != nil {
				return nil, err
			}
		case opMark:
			u.marks = append(u.marks, len(u.stack))
		case opPop:
			if len(u.stack) > u.base() {
				u.stack = u.stack[:len(u.stack)-1]
			} else if _, err := u.popMark(); err != nil { // CPython: POP at a mark pops the mark
				return nil, err
			}
		case opPopMark:
			if _, err := u.popMark(); err != nil {
				return nil, err
			}
		case opDup:
			v, err := u.top()
			if err != nil {
				return nil, err
			}
			u.push(v)
		case opNone:
			u.push(nil)
		case opNewtrue:
			u.push(true)
		case opNewfalse:
			u.push(false)
		case opBinint1:
			b, err := u.read(1)
			if err != nil {
				return nil, err
			}
			u.push(int64(b[0]))
		case opBinint2:
			b, err := u.read(2)
			if err != nil {
				return nil, err
			}
			u.push(int64(binary.LittleEndian.Uint16(b)))
		case opBinint:
			b, err := u.read(4)
			if err != nil {
				return nil, err
			}
			u.push(int64(int32(binary.LittleEndian.Uint32(b))))
		case opLong1, opLong4:
			size := 1
			if op == opLong4 {
				size = 4
			}
			n, err := u.readLen(size)
			if err != nil {
				return nil, err
			}
			b, err := u.read(n)
			if err != nil {
				return nil, err
			}
			u.push(decodeLong(b))
		case opInt, opLong: // text
			line, err := u.readLine()
			if err != nil {
				return nil, err
			}
			v, err := u.parseTextInt(op, line)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case opBinfloat:
			b, err := u.read(8)
			if err != nil {
				return nil, err
			}
			u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		case opFloat:
			line, err := u.readLine()
			if err != nil {
				return nil, err
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
			if err != nil {
				return nil, u.errf("bad FLOAT %q", line)
			}
			u.push(f)
		case opBinunicode, opShortBinunicode, opBinunicode8, opBinstring, opShortBinstring:
			size := lenSize(op)
			n, err := u.readLen(size)
			if err != nil {
				return nil, err
			}
			b, err := u.read(n)
			if err != nil {
				return nil, err
			}
			// Python 2 str (BINSTRING) is decoded with torch.load's encoding='utf-8'.
			u.push(string(b))
		case opBinbytes, opShortBinbytes, opBinbytes8, opBytearray8:
			size := lenSize(op)
			n, err := u.readLen(size)
			if err != nil {
				return nil, err
			}
			b, err := u.read(n)
			if err != nil {
				return nil, err
			}
			u.push(append([]byte(nil), b...))
		case opEmptyTuple:
			u.push(&Tuple{})
		case opEmptyList:
			u.push(&List{})
		case opEmptyDict:
			u.push(newDict())
		case opEmptySet:
			u.push(&List{})
		case opTuple:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(&Tuple{Items: items})
		case opTuple1, opTuple2, opTuple3:
			n := int(op-opTuple1) + 1
			if len(u.stack)-u.base() < n {
				return nil, u.errf("stack underflow")
			}
			items := append([]any(nil), u.stack[len(u.stack)-n:]...)
			u.stack = u.stack[:len(u.stack)-n]
			u.push(&Tuple{Items: items})
		case opList:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(&List{Items: items})
		case opFrozenset:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(&List{Items: items})
		case opDict:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			d := newDict()
			if err := u.setItems(d, items); err != nil {
				return nil, err
			}
			u.push(d)
		case opAppend:
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			if err := u.appendTo([]any{v}); err != nil {
				return nil, err
			}
		case opAppends, opAdditems:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			if err := u.appendTo(items); err != nil {
				return nil, err
			}
		case opSetitem:
			kv, err := u.popN(2)
			if err != nil {
				return nil, err
			}
			if err := u.setItemsOnTop(kv); err != nil {
				return nil, err
			}
		case opSetitems:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			if err := u.setItemsOnTop(items); err != nil {
				return nil, err
			}
		case opBinput, opLongBinput:
			idx, err := u.readMemoIndex(op == opLongBinput)
			if err != nil {
				return nil, err
			}
			if err := u.memoize(idx); err != nil {
				return nil, err
			}
		case opPut, opGet: // text
			line, err := u.readLine()
			if err != nil {
				return nil, err
			}
			idx, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
			if err != nil {
				return nil, u.errf("bad memo index %q", line)
			}
			if op == opPut {
				err = u.memoize(idx)
			} else {
				err = u.memoGet(idx)
			}
			if err != nil {
				return nil, err
			}
		case opMemoize:
			if err := u.memoize(uint64(len(u.memo))); err != nil {
				return nil, err
			}
		case opBinget, opLongBinget:
			idx, err := u.readMemoIndex(op == opLongBinget)
			if err != nil {
				return nil, err
			}
			if err := u.memoGet(idx); err != nil {
				return nil, err
			}
		case opGlobal:
			g, err := u.readGlobal()
			if err != nil {
				return nil, err
			}
			u.push(g)
		case opStackGlobal:
			mn, err := u.popN(2)
			if err != nil {
				return nil, err
			}
			mod, ok1 := mn[0].(string)
			name, ok2 := mn[1].(string)
			if !ok1 || !ok2 {
				return nil, u.errf("STACK_GLOBAL needs two strings, got %s and %s", typeName(mn[0]), typeName(mn[1]))
			}
			u.push(makeGlobal(mod, name))
		case opReduce, opNewobj, opNewobjEx:
			// REDUCE: callable, args; NEWOBJ: class, args; NEWOBJ_EX: class, args, kwargs
			n := 2
			if op == opNewobjEx {
				n = 3
			}
			vs, err := u.popN(n)
			if err != nil {
				return nil, err
			}
			items, ok := vs[1].(*Tuple)
			if !ok {
				return nil, u.errf("%s arguments are a %s, not a tuple", opNames[op], typeName(vs[1]))
			}
			if op == opNewobjEx {
				if d, ok := vs[2].(*Dict); !ok || d.Len() > 0 {
					return nil, u.errf("NEWOBJ_EX with keyword arguments is not supported")
				}
			}
			v, err := u.callValue(vs[0], items.Items)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case opInst:
			g, err := u.readGlobal()
			if err != nil {
				return nil, err
			}
			args, err := u.popMark()
			if err != nil {
				return nil, err
			}
			v, err := u.call(g, args)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case opObj:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			if len(items) == 0 {
				return nil, u.errf("OBJ without a class")
			}
			v, err := u.callValue(items[0], items[1:])
			if err != nil {
				return nil, err
			}
			u.push(v)
		case opBuild:
			state, err := u.pop()
			if err != nil {
				return nil, err
			}
			inst, err := u.top()
			if err != nil {
				return nil, err
			}
			switch x := inst.(type) {
			case *Object:
				x.State = state
			case *Dict:
				x.attrs = state // e.g. the _metadata of Module.state_dict()
			case *tensorRef:
				// Tensor attributes (e.g. a Parameter's __dict__) carry no data.
			default:
				return nil, u.errf("BUILD on a %s", typeName(inst))
			}
		case opBinpersid:
			pid, err := u.pop()
			if err != nil {
				return nil, err
			}
			if err := u.persistent(pid); err != nil {
				return nil, err
			}
		case opPersid: // text
			line, err := u.readLine()
			if err != nil {
				return nil, err
			}
			if err := u.persistent(line); err != nil {
				return nil, err
			}
		case opString, opUnicode:
			return nil, u.errf("text-mode string opcode %s (pickle protocol 0) is not supported", opName(op))
		case opExt1, opExt2, opExt4:
			return nil, u.errf("pickle extension registry opcode %s is not supported", opName(op))
		case opNextBuffer, opReadonlyBuffer:
			return nil, u.errf("out-of-band pickle buffers (%s) are not supported", opName(op))
		default:
			return nil, u.errf("unknown pickle opcode 0x%02x", op)
		}
	}
}

func (u *unpickler) persistent(pid any) error {
	if u.persistentLoad == nil {
		return u.errf("unexpected persistent id in this pickle")
	}
	v, err := u.persistentLoad(pid)
	if err != nil {
		return err
	}
	u.push(v)
	return nil
}

func (u *unpickler) parseTextInt(op byte, line string) (any, error) {
	s := strings.TrimSpace(line)
	if op == opInt {
		switch s {
		case "00":
			return false, nil
		case "01":
			return true, nil
		}
	}
	s = strings.TrimSuffix(s, "L")
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, u.errf("bad integer %q", line)
	}
	return b, nil
}

// decodeLong decodes LONG1/LONG4 payloads: little-endian two's complement.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(v<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	n := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

// makeGlobal applies torch's module renames (load_module_mapping in torch.serialization._load).
func makeGlobal(mod, name string) Global {
	if mod == "torch.tensor" {
		mod = "torch._tensor"
	}
	return Global{Module: mod, Name: name}
}

func (u *unpickler) appendTo(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	switch x := t.(type) {
	case *List:
		x.Items = append(x.Items, items...)
	case *Object:
		x.Items = append(x.Items, items...)
	default:
		return u.errf("APPEND to a %s", typeName(t))
	}
	return nil
}

func (u *unpickler) setItemsOnTop(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	switch x := t.(type) {
	case *Dict:
		return u.setItems(x, items)
	case *Object:
		x.Items = append(x.Items, items...)
		return nil
	}
	return u.errf("SETITEM on a %s", typeName(t))
}

func (u *unpickler) setItems(d *Dict, items []any) error {
	if len(items)%2 != 0 {
		return u.errf("odd number of items for a dict")
	}
	for i := 0; i < len(items); i += 2 {
		if err := u.dictSet(d, items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// dictSet stores k: v, charging the key's hashing to the work budget.
func (u *unpickler) dictSet(d *Dict, k, v any) error {
	n, err := d.set(k, v)
	if err != nil {
		return u.errf("%v", err)
	}
	return u.charge(n)
}

// callValue applies a pickled callable (which must be a Global) to args.
func (u *unpickler) callValue(fn any, args []any) (any, error) {
	g, ok := fn.(Global)
	if !ok {
		return nil, u.errf("cannot call a %s", typeName(fn))
	}
	return u.call(g, args)
}

// errArgs reports a rebuild function called with the wrong arguments.
func (u *unpickler) errArgs(g Global, args []any) error {
	kinds := make([]string, len(args))
	for i, a := range args {
		kinds[i] = typeName(a)
	}
	return u.errf("bad arguments to %s: (%s)", g, strings.Join(kinds, ", "))
}

// call mirrors what the pickled callables torch.save emits do; anything else becomes an
// inert *Object so a checkpoint's non-tensor extras (argparse.Namespace, numpy scalars, ...)
// do not stop the tensors from loading.
func (u *unpickler) call(g Global, args []any) (any, error) {
	switch g.String() {
	case "collections.OrderedDict", "builtins.dict", "__builtin__.dict":
		d := newDict()
		if len(args) == 0 {
			return d, nil
		}
		if len(args) > 1 {
			return nil, u.errArgs(g, args)
		}
		pairs, ok := asItems(args[0])
		if !ok {
			if src, ok := args[0].(*Dict); ok {
				for i := range src.keys {
					if err := u.dictSet(d, src.keys[i], src.vals[i]); err != nil {
						return nil, err
					}
				}
				return d, nil
			}
			return nil, u.errArgs(g, args)
		}
		if err := u.charge(len(pairs)); err != nil {
			return nil, err
		}
		for _, p := range pairs {
			kv, ok := asItems(p)
			if !ok || len(kv) != 2 {
				return nil, u.errArgs(g, args)
			}
			if err := u.dictSet(d, kv[0], kv[1]); err != nil {
				return nil, err
			}
		}
		return d, nil
	case "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset", "builtins.list", "torch.Size":
		if len(args) == 0 {
			if g.Name == "Size" {
				return &Tuple{}, nil
			}
			return &List{}, nil
		}
		items, ok := asItems(args[0])
		if !ok || len(args) != 1 {
			return nil, u.errArgs(g, args)
		}
		if err := u.charge(len(items)); err != nil {
			return nil, err
		}
		if g.Name == "Size" {
			return &Tuple{Items: append([]any(nil), items...)}, nil
		}
		return &List{Items: append([]any(nil), items...)}, nil
	case "_codecs.encode":
		// Protocol-2 pickles of Python 3 bytes: _codecs.encode(str, 'latin1').
		if len(args) != 2 {
			return nil, u.errArgs(g, args)
		}
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
			return nil, u.errArgs(g, args)
		}
		if err := u.charge(len(s)); err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, u.errf("_codecs.encode: character %U is not latin-1", r)
			}
			out = append(out, byte(r))
		}
		return out, nil
	case "torch._utils._rebuild_tensor":
		if len(args) != 4 {
			return nil, u.errArgs(g, args)
		}
		return u.rebuildTensor(g, args, "")
	case "torch._utils._rebuild_tensor_v2":
		if len(args) != 6 && len(args) != 7 {
			return nil, u.errArgs(g, args)
		}
		if len(args) == 7 {
			if err := u.checkTensorMetadata(args[6]); err != nil {
				return nil, err
			}
		}
		return u.rebuildTensor(g, args, "")
	case "torch._utils._rebuild_tensor_v3":
		// (storage, offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
		if len(args) != 7 && len(args) != 8 {
			return nil, u.errArgs(g, args)
		}
		dg, ok := args[6].(Global)
		if !ok || dg.Module != "torch" {
			return nil, u.errArgs(g, args)
		}
		dt, ok := dtypeFromTorchName(dg.Name)
		if !ok {
			return nil, u.errf("unsupported tensor dtype torch.%s", dg.Name)
		}
		if len(args) == 8 {
			if err := u.checkTensorMetadata(args[7]); err != nil {
				return nil, err
			}
		}
		return u.rebuildTensor(g, args, dt)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
		"torch.nn.parameter.Parameter":
		if len(args) < 1 || len(args) > 4 {
			return nil, u.errArgs(g, args)
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, u.errArgs(g, args)
		}
		return t, nil
	case "torch._tensor._rebuild_from_type_v2", "torch._tensor._rebuild_from_type":
		// (func, new_type, args, state): the subclass type is dropped, the data kept.
		if len(args) != 4 {
			return nil, u.errArgs(g, args)
		}
		inner, ok := args[2].(*Tuple)
		if !ok {
			return nil, u.errArgs(g, args)
		}
		v, err := u.callValue(args[0], inner.Items)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(*tensorRef); !ok {
			return nil, u.errf("%s did not rebuild a tensor", g)
		}
		return v, nil
	case "torch.storage._load_from_bytes":
		if len(args) != 1 {
			return nil, u.errArgs(g, args)
		}
		b, ok := args[0].([]byte)
		if !ok || u.loadBytes == nil {
			return nil, u.errArgs(g, args)
		}
		if err := u.charge(len(b)); err != nil {
			return nil, err
		}
		v, err := u.loadBytes(b)
		if err != nil {
			return nil, fmt.Errorf("torch.storage._load_from_bytes: %w", err)
		}
		if _, ok := v.(*storage); !ok {
			return nil, u.errf("torch.storage._load_from_bytes gave a %s, not a storage", typeName(v))
		}
		return v, nil
	case "torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
		"torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_wrapper_subclass",
		"torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_device_tensor_from_numpy",
		"torch._utils._rebuild_xla_tensor", "torch._utils._rebuild_mlc_tensor",
		"torch._utils._rebuild_nested_tensor":
		return nil, u.errf("unsupported tensor kind %s (quantized, sparse, nested or device-only tensors cannot be read)", g)
	}
	if g.Module == "torch._utils" && strings.HasPrefix(g.Name, "_rebuild") {
		return nil, u.errf("unsupported tensor rebuild function %s", g)
	}
	if isStorageName(g.Name) {
		return nil, u.errf("unsupported direct construction of storage class %s", g)
	}
	return &Object{Class: g.String(), Args: args}, nil
}

// checkTensorMetadata rejects tensors whose conj/neg bits are set (torch._utils.
// set_tensor_metadata): their stored values are not the tensor's values.
func (u *unpickler) checkTensorMetadata(m any) error {
	switch x := m.(type) {
	case nil:
		return nil
	case *Dict:
		for i := 0; i < x.Len(); i++ {
			if b, ok := x.Value(i).(bool); ok && b {
				return u.errf("tensors with the %v bit set are not supported", x.Key(i))
			}
		}
		return nil
	}
	return u.errf("tensor metadata is a %s, not a dict", typeName(m))
}

// rebuildTensor mirrors torch._utils._rebuild_tensor: a view (offset, size, stride) of a
// storage, with the storage's dtype unless dt (from _rebuild_tensor_v3) overrides it.
func (u *unpickler) rebuildTensor(g Global, args []any, dt Dtype) (any, error) {
	st, ok := args[0].(*storage)
	if !ok {
		return nil, u.errf("%s: storage argument is a %s", g, typeName(args[0]))
	}
	off, ok1 := asInt(args[1])
	size, ok2 := asInts(args[2])
	stride, ok3 := asInts(args[3])
	if !ok1 || !ok2 || !ok3 {
		return nil, u.errArgs(g, args)
	}
	if dt == "" {
		dt = st.dtype
	}
	return &tensorRef{st: st, dtype: dt, offset: off, size: size, stride: stride}, nil
}

// lenSize is the width of the length prefix of the string/bytes opcodes.
func lenSize(op byte) int {
	switch op {
	case opShortBinunicode, opShortBinstring, opShortBinbytes:
		return 1
	case opBinunicode8, opBinbytes8, opBytearray8:
		return 8
	}
	return 4
}
