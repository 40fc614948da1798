// Package pth reads and writes PyTorch checkpoint files (.pth/.pt) in pure Go, without
// libtorch, so state_dicts can be inspected, converted and tested quickly.
//
// Load understands the three on-disk formats torch.load accepts for state_dicts:
//   - the zip format of PyTorch ≥ 1.6 (archive/data.pkl + archive/data/<key> records);
//   - the legacy pickle stream of PyTorch 0.4–1.5 (_use_new_zipfile_serialization=False):
//     magic number, protocol version, sys_info, the main pickle, the storage key list and
//     the raw storages, each prefixed by its int64 element count;
//   - the oldest tar format of PyTorch ≤ 0.3 (members sys_info, pickle, tensors, storages),
//     e.g. torchvision's resnet50-19c8e357.pth.
//
// It runs a small pickle virtual machine that knows only the globals torch.save emits for
// tensors and dicts (mirrors the find_class/persistent_load logic of torch/serialization.py);
// nothing is ever executed. Any other class is kept as an inert *Object: inside the chosen
// state_dict, or as the whole checkpoint, it is an error that names the class. Every input
// is treated as hostile: malformed files return errors, never panics (see FuzzLoad).
//
// Save writes the zip format as torch.save(OrderedDict) does in PyTorch 2.1, byte for byte
// up to torch's random .data/serialization_id record, which it leaves out (see
// TestParitySaveGolden); it writes atomically.
//
// Ownership: a StateDict and its Entries are plain Go values owned by the caller; Entry.Data
// is a private copy (never aliasing another entry's storage), so callers may modify it.
// Nothing in the package keeps global state; all functions are safe for concurrent use on
// distinct values.
package pth
