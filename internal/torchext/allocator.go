package torchext

// #include "torchext.h"
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// CPUCacheEnv names the environment variable that InstallCPUCache reads for the caching CPU
// allocator's limit: "off" (or 0) keeps c10's default allocator, a number is the cap in MiB.
// Unset: a quarter of the machine's memory.
const CPUCacheEnv = "DRGRADE_CPU_CACHE_MB"

// cpuCache is InstallCPUCache's one-time work and its outcome.
var cpuCache struct {
	once sync.Once
	err  error
}

// InstallCPUCache makes libtorch's CPU allocator the caching one (allocator.cpp), which keeps
// freed buffers of 16 KiB and more for reuse, capped by CPUCacheEnv (unset: a quarter of the
// machine's memory; off or 0: c10's default allocator stays, and the call returns nil).
// Nothing installs it by itself: a program that wants it calls this once, at the start of
// main, before it makes a tensor or starts goroutines that do (cmd/drgrade, bench/ and
// examples/ do; tests that measure memory as drgrade runs call it from TestMain). Buffers made
// earlier are freed by c10's allocator, as they were made, and are never cached.
//
// It is idempotent: the first call decides, later calls return the first call's error and
// change nothing. The error, for a CPUCacheEnv value that is neither a number nor off, leaves
// c10's default allocator in place; cmd/drgrade prints it as a warning and goes on.
func InstallCPUCache() error {
	cpuCache.once.Do(func() {
		limit, err := cpuCacheLimit(os.Getenv(CPUCacheEnv), physicalMemory())
		if err != nil {
			cpuCache.err = err
			return
		}
		if limit > 0 {
			C.tx_cpu_cache_install(C.ulonglong(limit))
		}
	})
	return cpuCache.err
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
	Installed    bool   // libtorch's CPU allocator is drgrade's caching one (InstallCPUCache ran)
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
