package torchext

// #include "torchext.h"
import "C"

// SetNumThreads sets libtorch's intra-op thread count (torch.set_num_threads).
func SetNumThreads(n int) { C.tx_set_num_threads(C.int(n)) }

// NumThreads is libtorch's intra-op thread count (torch.get_num_threads).
func NumThreads() int { return int(C.tx_get_num_threads()) }

// ManualSeed seeds libtorch's default CPU generator (and CUDA's, when present), like
// torch.manual_seed, so weight initialisation and dropout are reproducible.
func ManualSeed(seed uint64) { C.tx_manual_seed(C.ulonglong(seed)) }

// CXX11ABI is the _GLIBCXX_USE_CXX11_ABI value drgrade's C++ was compiled with (0 or 1).
func CXX11ABI() int { return int(C.tx_cxx11_abi()) }
