package pth

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"strings"
)

// Format is the on-disk layout a checkpoint was read from.
type Format int

// The checkpoint layouts torch.load accepts.
const (
	FormatZip    Format = iota + 1 // PyTorch ≥ 1.6 default
	FormatLegacy                   // magic-number pickle stream, PyTorch 0.4–1.5
	FormatTar                      // tar archive, PyTorch ≤ 0.3
)

// String names the format.
func (f Format) String() string {
	switch f {
	case FormatZip:
		return "zip"
	case FormatLegacy:
		return "legacy"
	case FormatTar:
		return "tar"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// StateDict is a loaded state_dict: its tensors in file order plus whatever else the
// checkpoint held.
type StateDict struct {
	Format  Format
	Entries []*Entry
	// Metadata holds the non-tensor values: entries of the state_dict that are not
	// tensors and, for a nested checkpoint, the other top-level items (e.g. "epoch").
	// Values use the types listed in values.go (int64, float64, string, *Dict, ...).
	Metadata []Meta
	// NestedKey is the top-level key the state_dict was found under ("state_dict",
	// "model_state_dict" or "model"), or "" when the file is the state_dict itself.
	NestedKey string
	// StrippedPrefix is "module." when every tensor name carried DataParallel's prefix and
	// it was removed, else "".
	StrippedPrefix string
}

// Meta is one non-tensor item of a checkpoint.
type Meta struct {
	Name  string
	Value any
}

// Get returns the entry with the given name, or nil.
func (sd *StateDict) Get(name string) *Entry {
	for _, e := range sd.Entries {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Sentinel errors, for errors.Is.
var (
	ErrEmpty         = errors.New("file is empty")
	ErrNotCheckpoint = errors.New("not a PyTorch checkpoint")
	ErrTorchScript   = errors.New("this is a TorchScript archive, not a state_dict; load it with torch.jit.load")
	ErrTruncatedZip  = errors.New("zip archive is truncated or corrupt (its central directory is unreadable)")
)

// magicNumber is torch.serialization.MAGIC_NUMBER; protocolVersion is PROTOCOL_VERSION.
var magicNumber, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

const protocolVersion = 1001

// maxNesting bounds torch.storage._load_from_bytes recursion.
const maxNesting = 2

// Load reads a PyTorch checkpoint file (any of the three formats) and returns its state_dict.
// Every error starts with path.
func Load(path string) (*StateDict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // "open p: ..." → "p: cannot read: ...", like the other errors
			return nil, fmt.Errorf("%s: cannot read: %w", path, pe.Err)
		}
		return nil, err
	}
	sd, err := loadBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sd, nil
}

// LoadReader reads a checkpoint from r (read fully into memory first).
func LoadReader(r io.Reader) (*StateDict, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return loadBytes(data)
}

func loadBytes(data []byte) (*StateDict, error) {
	obj, format, err := unpickleFile(data, 0, newWork(len(data)))
	if err != nil {
		return nil, err
	}
	sd, err := buildStateDict(obj, len(data))
	if err != nil {
		return nil, err
	}
	sd.Format = format
	return sd, nil
}

// unpickleFile mirrors torch.load's format dispatch: zip first (by its local-header
// magic), then the tar loader, then the magic-number pickle stream.
func unpickleFile(data []byte, depth int, work *int64) (any, Format, error) {
	if depth > maxNesting {
		return nil, 0, errors.New("torch.storage._load_from_bytes nested too deeply")
	}
	if len(data) == 0 {
		return nil, 0, ErrEmpty
	}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		v, err := loadZip(data, depth, work)
		return v, FormatZip, err
	}
	if _, err := tar.NewReader(bytes.NewReader(data)).Next(); err == nil {
		v, err := loadTar(data, depth, work)
		if err != nil {
			return nil, 0, fmt.Errorf("tar checkpoint: %w", err)
		}
		return v, FormatTar, nil
	}
	if data[0] != 0x80 {
		return nil, 0, fmt.Errorf("%w (neither a zip archive, a tar archive nor a pickle stream)", ErrNotCheckpoint)
	}
	v, err := loadLegacy(data, depth, work)
	if err != nil {
		return nil, 0, err
	}
	return v, FormatLegacy, nil
}

// nestedLoader returns the torch.storage._load_from_bytes hook for an unpickler; nested
// loads draw on the same work budget as the file that holds them.
func nestedLoader(depth int, work *int64) func([]byte) (any, error) {
	return func(b []byte) (any, error) {
		v, _, err := unpickleFile(b, depth+1, work)
		return v, err
	}
}

// storageDtype maps a pickled storage class (torch.FloatStorage, torch.UntypedStorage, ...)
// to its dtype, as torch.serialization.StorageType does.
func storageDtype(v any) (Dtype, error) {
	g, ok := v.(Global)
	if !ok {
		return "", fmt.Errorf("storage type is a %s, not a class", typeName(v))
	}
	if !isStorageName(g.Name) {
		return "", fmt.Errorf("%s is not a storage class", g)
	}
	dt, ok := dtypeFromStorageClass(g.Name)
	if !ok {
		return "", fmt.Errorf("unsupported storage class %s", g)
	}
	return dt, nil
}

// storageBytes returns numel*elemsize after checking it fits in limit bytes.
func storageBytes(numel int64, dt Dtype, limit int) (int64, error) {
	es := int64(dt.ElemSize())
	if numel < 0 || numel > int64(limit)/es {
		return 0, fmt.Errorf("storage of %d %s elements does not fit in a %d-byte file", numel, dt, limit)
	}
	return numel * es, nil
}

// ---- zip format (torch.serialization._load) ----

// maxRecord bounds a decompressed zip record; torch writes records stored, so real files
// never come near it, but a deflated record could otherwise expand without limit.
const maxRecord = 1 << 34

// readRecord reads one zip record; fileSize caps the size hint taken from the (untrusted)
// directory so the buffer is allocated once for real files and never over-allocated.
func readRecord(f *zip.File, fileSize int) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, min(f.UncompressedSize64, uint64(fileSize))+1))
	if _, err := buf.ReadFrom(io.LimitReader(rc, maxRecord+1)); err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	if buf.Len() > maxRecord {
		return nil, fmt.Errorf("record %s is too large", f.Name)
	}
	return buf.Bytes(), nil
}

func loadZip(data []byte, depth int, work *int64) (any, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTruncatedZip, err)
	}
	if len(zr.File) == 0 {
		return nil, errors.New("zip archive contains no files")
	}
	// Like caffe2's PyTorchStreamReader, the archive name is the first record's directory.
	first := zr.File[0].Name
	slash := strings.IndexByte(first, '/')
	if slash < 0 {
		return nil, fmt.Errorf("%w: zip record %q is not in a subdirectory (not a torch.save archive)", ErrNotCheckpoint, first)
	}
	prefix := first[:slash+1]
	records := map[string]*zip.File{}
	for _, f := range zr.File {
		if name, ok := strings.CutPrefix(f.Name, prefix); ok {
			if _, dup := records[name]; !dup {
				records[name] = f
			}
			if name == "constants.pkl" || strings.HasPrefix(name, "code/") {
				return nil, ErrTorchScript
			}
		}
	}
	pkl, ok := records["data.pkl"]
	if !ok {
		return nil, fmt.Errorf("%w: zip archive has no %sdata.pkl", ErrNotCheckpoint, prefix)
	}
	bigEndian := false
	if bo, ok := records["byteorder"]; ok {
		b, err := readRecord(bo, len(data))
		if err != nil {
			return nil, err
		}
		switch string(b) {
		case "little":
		case "big":
			bigEndian = true
		default:
			return nil, fmt.Errorf("unknown byteorder record %q", b)
		}
	}
	pb, err := readRecord(pkl, len(data))
	if err != nil {
		return nil, err
	}
	loaded := map[string]*storage{}
	u := newUnpickler(pb, 0, work)
	u.loadBytes = nestedLoader(depth, work)
	u.persistentLoad = func(pid any) (any, error) {
		t, ok := pid.(*Tuple)
		if !ok || len(t.Items) != 5 || t.Items[0] != "storage" {
			return nil, fmt.Errorf("unexpected persistent id %s in data.pkl (expected ('storage', type, key, location, numel))", typeName(pid))
		}
		dt, err := storageDtype(t.Items[1])
		if err != nil {
			return nil, err
		}
		key, ok1 := t.Items[2].(string)
		_, ok2 := t.Items[3].(string)
		numel, ok3 := asInt(t.Items[4])
		if !ok1 || !ok2 || !ok3 {
			return nil, errors.New("malformed storage persistent id")
		}
		if st, ok := loaded[key]; ok {
			return st, nil
		}
		rec, ok := records["data/"+key]
		if !ok {
			return nil, fmt.Errorf("storage record %sdata/%s is missing", prefix, key)
		}
		nbytes, err := storageBytes(numel, dt, len(data))
		if err != nil {
			return nil, err
		}
		b, err := readRecord(rec, len(data))
		if err != nil {
			return nil, err
		}
		if int64(len(b)) < nbytes {
			return nil, fmt.Errorf("storage record data/%s has %d bytes, expected %d", key, len(b), nbytes)
		}
		b = b[:nbytes]
		if bigEndian {
			byteswap(b, dt)
		}
		st := &storage{dtype: dt, numel: numel, data: b}
		loaded[key] = st
		return st, nil
	}
	return u.load()
}

// byteswap converts big-endian storage bytes in place (torch's storage.byteswap(dtype)).
func byteswap(b []byte, dt Dtype) {
	w := dt.ElemSize()
	if dt == Complex64 || dt == Complex128 {
		w /= 2
	}
	if w <= 1 {
		return
	}
	for i := 0; i+w <= len(b); i += w {
		for l, r := i, i+w-1; l < r; l, r = l+1, r-1 {
			b[l], b[r] = b[r], b[l]
		}
	}
}

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
