package pth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// ---- legacy magic-number stream (torch.serialization._legacy_load, non-tar branch) ----

func loadLegacy(data []byte, depth int, work *int64) (any, error) {
	u := newUnpickler(data, 0, work)
	magic, err := u.load()
	m, ok := magic.(*big.Int)
	if err != nil || !ok || m.Cmp(magicNumber) != 0 {
		return nil, fmt.Errorf("%w (a pickle without torch's magic number: plain pickle, not torch.save)", ErrNotCheckpoint)
	}
	next := func(what string) (any, error) {
		nu := newUnpickler(data, u.pos, work)
		v, err := nu.load()
		if err != nil {
			return nil, fmt.Errorf("legacy checkpoint %s: %w", what, err)
		}
		u = nu
		return v, nil
	}
	pv, err := next("protocol version")
	if err != nil {
		return nil, err
	}
	if n, ok := asInt(pv); !ok || n != protocolVersion {
		return nil, fmt.Errorf("legacy checkpoint: invalid protocol version %v", pv)
	}
	sysInfo, err := next("sys_info")
	if err != nil {
		return nil, err
	}
	if err := checkSysInfo(sysInfo); err != nil {
		return nil, err
	}

	objects := map[string]*storage{}
	main := newUnpickler(data, u.pos, work)
	main.loadBytes = nestedLoader(depth, work)
	main.persistentLoad = func(pid any) (any, error) {
		t, ok := pid.(*Tuple)
		if !ok || len(t.Items) == 0 {
			return nil, fmt.Errorf("unexpected persistent id %s", typeName(pid))
		}
		switch t.Items[0] {
		case "module":
			if len(t.Items) < 2 {
				return nil, errors.New("malformed module persistent id")
			}
			return t.Items[1], nil
		case "storage":
		default:
			return nil, fmt.Errorf("unknown persistent id type %v", t.Items[0])
		}
		if len(t.Items) != 6 {
			return nil, errors.New("malformed storage persistent id")
		}
		dt, err := storageDtype(t.Items[1])
		if err != nil {
			return nil, err
		}
		rootKey, ok1 := canonicalKey(t.Items[2])
		numel, ok2 := asInt(t.Items[4])
		if !ok1 || !ok2 {
			return nil, errors.New("malformed storage persistent id")
		}
		if _, err := storageBytes(numel, dt, len(data)); err != nil {
			return nil, err
		}
		root, ok := objects[rootKey]
		if !ok {
			root = &storage{dtype: dt, numel: numel}
			objects[rootKey] = root
		}
		if t.Items[5] == nil {
			return root, nil
		}
		view, ok := t.Items[5].(*Tuple)
		if !ok || len(view.Items) != 3 {
			return nil, errors.New("malformed storage view metadata")
		}
		viewKey, ok1 := canonicalKey(view.Items[0])
		off, ok2 := asInt(view.Items[1])
		size, ok3 := asInt(view.Items[2])
		if !ok1 || !ok2 || !ok3 {
			return nil, errors.New("malformed storage view metadata")
		}
		if v, ok := objects[viewKey]; ok {
			return v, nil
		}
		if root.root != nil {
			return nil, errors.New("storage view of a view")
		}
		es := int64(root.dtype.ElemSize())
		if off < 0 || size < 0 || off > root.numel || size > root.numel-off {
			return nil, fmt.Errorf("storage view [%d, +%d) is outside its root of %d elements", off, size, root.numel)
		}
		v := &storage{dtype: root.dtype, numel: size, root: root, byteOff: off * es}
		objects[viewKey] = v
		return v, nil
	}
	result, err := main.load()
	if err != nil {
		return nil, fmt.Errorf("legacy checkpoint: %w", err)
	}
	u = main
	keysV, err := next("storage keys")
	if err != nil {
		return nil, err
	}
	keys, ok := asItems(keysV)
	if !ok {
		return nil, fmt.Errorf("legacy checkpoint: storage key list is a %s", typeName(keysV))
	}
	pos := u.pos
	for _, kv := range keys {
		key, ok := canonicalKey(kv)
		if !ok {
			return nil, fmt.Errorf("legacy checkpoint: storage key is a %s", typeName(kv))
		}
		st, ok := objects[key]
		if !ok || st.root != nil {
			return nil, fmt.Errorf("legacy checkpoint: storage key %q was not referenced by the pickle", key)
		}
		b, after, err := readCountedStorage(data, pos, st.dtype)
		if err != nil {
			return nil, fmt.Errorf("legacy checkpoint: storage %q: %w", key, err)
		}
		if int64(len(b)) != st.numel*int64(st.dtype.ElemSize()) {
			return nil, fmt.Errorf("legacy checkpoint: storage %q has %d bytes, expected %d", key, len(b), st.numel*int64(st.dtype.ElemSize()))
		}
		st.data = b
		pos = after
	}
	return result, nil
}

// readCountedStorage reads an int64 element count followed by the raw little-endian
// elements (THPStorage_readFileRaw), returning the bytes and the position after them.
func readCountedStorage(data []byte, pos int, dt Dtype) ([]byte, int, error) {
	if pos < 0 || len(data)-pos < 8 {
		return nil, 0, errors.New("truncated storage size")
	}
	count := int64(binary.LittleEndian.Uint64(data[pos:]))
	pos += 8
	nbytes, err := storageBytes(count, dt, len(data)-pos)
	if err != nil {
		return nil, 0, fmt.Errorf("truncated storage data: %w", err)
	}
	end := pos + int(nbytes)
	return data[pos:end:end], end, nil
}

// checkSysInfo rejects big-endian legacy files, whose raw storages this reader would
// misread (torch.save recorded little_endian in sys_info).
func checkSysInfo(v any) error {
	d, ok := v.(*Dict)
	if !ok {
		return fmt.Errorf("legacy checkpoint: sys_info is a %s, not a dict", typeName(v))
	}
	if le, ok := d.Get("little_endian"); ok && le == false {
		return errors.New("legacy checkpoint was written on a big-endian machine; not supported")
	}
	return nil
}
