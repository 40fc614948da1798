package pth

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
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
