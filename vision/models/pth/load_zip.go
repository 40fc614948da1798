package pth

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ---- zip format (torch.serialization._load) ----

// zipPickleMinLimit and zipPickleRatio bound the declared uncompressed size of data.pkl:
// max(zipPickleMinLimit, zipPickleRatio × the file's size). torch.save writes data.pkl
// stored, so a real one is never larger than its file, and the pickle of even a huge
// state_dict (names, shapes and strides; the tensors are separate records) is a few MB;
// the bound leaves room for a re-zipped, deflated data.pkl while refusing a small file that
// inflates to gigabytes (deflate reaches 1032:1).
const (
	zipPickleMinLimit = 64 << 20
	zipPickleRatio    = 16
)

// zipPickleLimit is the bound on data.pkl's uncompressed size in a file of fileSize bytes.
func zipPickleLimit(fileSize int) uint64 {
	return max(zipPickleMinLimit, zipPickleRatio*uint64(fileSize))
}

// readRecord reads one zip record after checking its declared uncompressed size against
// limit (what a plausible record of its kind can hold), so a decompression bomb is refused
// before it is inflated; a LimitReader holds the inflation to the declared size, whatever
// the deflate stream holds. fileSize caps the buffer's size hint so it is allocated once
// for real files and never over-allocated from an untrusted header.
func readRecord(f *zip.File, fileSize int, limit uint64, what string) ([]byte, error) {
	size := f.UncompressedSize64
	if size > limit {
		return nil, fmt.Errorf("zip entry %s declares %d bytes uncompressed, more than the %d allowed for %s in a %d-byte file (a decompression bomb?)",
			f.Name, size, limit, what, fileSize)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, min(size, uint64(fileSize))+1))
	if _, err := buf.ReadFrom(io.LimitReader(rc, int64(size)+1)); err != nil {
		if errors.Is(err, zip.ErrFormat) { // archive/zip's own check of the declared size
			return nil, fmt.Errorf("zip entry %s is corrupt or inflates to more than the %d bytes its header declares: %w", f.Name, size, err)
		}
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	if uint64(buf.Len()) > size {
		return nil, fmt.Errorf("zip entry %s inflates to more than the %d bytes its header declares", f.Name, size)
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
		b, err := readRecord(bo, len(data), uint64(len(data)), "the byteorder record")
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
	pb, err := readRecord(pkl, len(data), zipPickleLimit(len(data)), "data.pkl")
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
		// torch writes a storage's record stored and exactly numel × element size long;
		// a longer one (torch.load accepts it and ignores the excess) must be stored, so
		// it is in the file, never inflated from a few bytes.
		if rec.UncompressedSize64 < uint64(nbytes) {
			return nil, fmt.Errorf("storage record data/%s has %d bytes, expected %d", key, rec.UncompressedSize64, nbytes)
		}
		limit := uint64(nbytes)
		if rec.Method == zip.Store {
			limit = max(limit, uint64(len(data)))
		}
		b, err := readRecord(rec, len(data), limit, fmt.Sprintf("a deflated storage of %d bytes", nbytes))
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
