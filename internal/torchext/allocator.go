package torchext

// #include "torchext.h"
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// CPUCacheEnv names the environment variable that sets the caching CPU allocator's limit:
// "off" (or 0) keeps c10's default allocator, a number is the cap in MiB. Unset: a quarter of
// the machine's memory.
const CPUCacheEnv = "DRGRADE_CPU_CACHE_MB"

// The caching allocator (allocator.cpp) is installed when the package loads, before any
// tensor is made, so every libtorch CPU buffer drgrade allocates can be reused.
func init() {
	limit, err := cpuCacheLimit(os.Getenv(CPUCacheEnv), physicalMemory())
	if err != nil {
		fmt.Fprintf(os.Stderr, "drgrade: %v; using the default CPU allocator\n", err)
		return
	}
	if limit > 0 {
		C.tx_cpu_cache_install(C.ulonglong(limit))
	}
}

// cpuCacheLimit parses the DRGRADE_CPU_CACHE_MB value v for a machine with mem bytes of memory.
func cpuCacheLimit(v string, mem uint64) (uint64, error) {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "":
		return mem / 4, nil
	case "off", "0":
		return 0, nil
	}
	mb, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a number of MiB or off", CPUCacheEnv, v)
	}
	return mb << 20, nil
}

// physicalMemory is the machine's RAM in bytes (0 if unknown, which disables caching).
func physicalMemory() uint64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// CPUCacheStats describes the caching CPU allocator.
type CPUCacheStats struct {
	Installed    bool   // libtorch's CPU allocator is drgrade's caching one
	CachedBytes  uint64 // freed blocks kept for reuse
	LimitBytes   uint64 // cap on CachedBytes
	Hits, Misses uint64 // cacheable requests served from the cache / from glibc
}

// CPUCache reports the caching CPU allocator's state.
func CPUCache() CPUCacheStats {
	var cached, limit, hits, misses C.ulonglong
	var installed C.bool
	C.tx_cpu_cache_stats(&cached, &limit, &hits, &misses, &installed)
	return CPUCacheStats{Installed: bool(installed), CachedBytes: uint64(cached), LimitBytes: uint64(limit),
		Hits: uint64(hits), Misses: uint64(misses)}
}

// ReleaseCPUCache gives every cached block back to the C heap (tensors in use are untouched).
func ReleaseCPUCache() { C.tx_cpu_cache_release() }
