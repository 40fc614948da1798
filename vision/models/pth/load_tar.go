package pth

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ---- tar format (torch.serialization._legacy_load.legacy_load) ----

func loadTar(data []byte, depth int, work *int64) (any, error) {
	tr := tar.NewReader(bytes.NewReader(data))
	members := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != 0 { // 0: pre-POSIX regular file
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, int64(len(data))))
		if err != nil {
			return nil, err
		}
		members[h.Name] = b
	}
	for _, name := range []string{"storages", "tensors", "pickle"} {
		if _, ok := members[name]; !ok {
			return nil, fmt.Errorf("%w: tar archive has no %q member", ErrNotCheckpoint, name)
		}
	}
	if si, ok := members["sys_info"]; ok {
		v, err := newUnpickler(si, 0, work).load()
		if err != nil {
			return nil, fmt.Errorf("sys_info: %w", err)
		}
		if err := checkSysInfo(v); err != nil {
			return nil, err
		}
	}
	objects := map[string]any{}

	// storages: count, then per storage (key, location, storage_type) + counted raw data,
	// then the list of views (target_key, root_key, offset, numel).
	sb := members["storages"]
	u := newUnpickler(sb, 0, work)
	nv, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("storages: %w", err)
	}
	n, ok := asInt(nv)
	if !ok || n < 0 || n > int64(len(sb)) {
		return nil, fmt.Errorf("storages: bad storage count %v", nv)
	}
	pos := u.pos
	for i := int64(0); i < n; i++ {
		u = newUnpickler(sb, pos, work)
		args, err := u.load()
		if err != nil {
			return nil, fmt.Errorf("storages: %w", err)
		}
		t, ok := args.(*Tuple)
		if !ok || len(t.Items) != 3 {
			return nil, fmt.Errorf("storages: record %d is a %s, not (key, location, type)", i, typeName(args))
		}
		key, ok := canonicalKey(t.Items[0])
		if !ok {
			return nil, fmt.Errorf("storages: bad key %s", typeName(t.Items[0]))
		}
		dt, err := storageDtype(t.Items[2])
		if err != nil {
			return nil, fmt.Errorf("storages: %w", err)
		}
		b, next, err := readCountedStorage(sb, u.pos, dt)
		if err != nil {
			return nil, fmt.Errorf("storages: %q: %w", key, err)
		}
		objects[key] = &storage{dtype: dt, numel: int64(len(b) / dt.ElemSize()), data: b}
		pos = next
	}
	u = newUnpickler(sb, pos, work)
	viewsV, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("storage views: %w", err)
	}
	views, ok := asItems(viewsV)
	if !ok {
		return nil, fmt.Errorf("storage views: a %s, not a list", typeName(viewsV))
	}
	for _, vv := range views {
		v, ok := asItems(vv)
		if !ok || len(v) != 4 {
			return nil, errors.New("storage views: malformed entry")
		}
		target, ok1 := canonicalKey(v[0])
		rootKey, ok2 := canonicalKey(v[1])
		off, ok3 := asInt(v[2])
		numel, ok4 := asInt(v[3])
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, errors.New("storage views: malformed entry")
		}
		root, ok := objects[rootKey].(*storage)
		if !ok || root.root != nil {
			return nil, fmt.Errorf("storage views: root %q is not a storage", rootKey)
		}
		if off < 0 || numel < 0 || off > root.numel || numel > root.numel-off {
			return nil, fmt.Errorf("storage views: [%d, +%d) is outside root %q of %d elements", off, numel, rootKey, root.numel)
		}
		objects[target] = &storage{dtype: root.dtype, numel: numel, root: root, byteOff: off * int64(root.dtype.ElemSize())}
	}

	// tensors: count, then per tensor (key, storage_key, tensor_type) + int32 ndim, 4 bytes
	// of padding, ndim int64 sizes, ndim int64 strides, int64 storage offset.
	tb := members["tensors"]
	u = newUnpickler(tb, 0, work)
	nv, err = u.load()
	if err != nil {
		return nil, fmt.Errorf("tensors: %w", err)
	}
	n, ok = asInt(nv)
	if !ok || n < 0 || n > int64(len(tb)) {
		return nil, fmt.Errorf("tensors: bad tensor count %v", nv)
	}
	pos = u.pos
	for i := int64(0); i < n; i++ {
		u = newUnpickler(tb, pos, work)
		args, err := u.load()
		if err != nil {
			return nil, fmt.Errorf("tensors: %w", err)
		}
		t, ok := args.(*Tuple)
		if !ok || len(t.Items) != 3 {
			return nil, fmt.Errorf("tensors: record %d is a %s, not (key, storage_key, type)", i, typeName(args))
		}
		key, ok1 := canonicalKey(t.Items[0])
		sk, ok2 := canonicalKey(t.Items[1])
		if !ok1 || !ok2 {
			return nil, errors.New("tensors: malformed record")
		}
		st, ok := objects[sk].(*storage)
		if !ok {
			return nil, fmt.Errorf("tensors: tensor %q refers to unknown storage %q", key, sk)
		}
		p := u.pos
		if len(tb)-p < 8 {
			return nil, errors.New("tensors: truncated metadata")
		}
		ndim := int64(int32(binary.LittleEndian.Uint32(tb[p:])))
		p += 8 // int32 ndim + 4 bytes (the legacy encoding treated ndim as 8 bytes)
		if ndim < 0 || ndim > int64(len(tb)-p)/16 || int64(len(tb)-p)-16*ndim < 8 {
			return nil, fmt.Errorf("tensors: tensor %q has bad or truncated metadata (ndim %d)", key, ndim)
		}
		size := make([]int64, ndim)
		stride := make([]int64, ndim)
		for d := range size {
			size[d] = int64(binary.LittleEndian.Uint64(tb[p+8*d:]))
			stride[d] = int64(binary.LittleEndian.Uint64(tb[p+8*int(ndim)+8*d:]))
		}
		p += 16 * int(ndim)
		off := int64(binary.LittleEndian.Uint64(tb[p:]))
		p += 8
		objects[key] = &tensorRef{st: st, dtype: st.dtype, offset: off, size: size, stride: stride}
		pos = p
	}

	// pickle: the object, whose persistent ids are tensor/storage keys (or module tuples).
	u = newUnpickler(members["pickle"], 0, work)
	u.loadBytes = nestedLoader(depth, work)
	u.persistentLoad = func(pid any) (any, error) {
		if t, ok := pid.(*Tuple); ok {
			if len(t.Items) == 0 {
				return nil, errors.New("empty persistent id")
			}
			return t.Items[0], nil
		}
		key, ok := canonicalKey(pid)
		if !ok {
			return nil, fmt.Errorf("persistent id is a %s", typeName(pid))
		}
		v, ok := objects[key]
		if !ok {
			return nil, fmt.Errorf("persistent id %q names no tensor or storage", key)
		}
		return v, nil
	}
	v, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	}
	return v, nil
}
