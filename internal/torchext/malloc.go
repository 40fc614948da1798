package torchext

/*
#include <malloc.h>
static unsigned long long tx_malloc_in_use(void) {
	struct mallinfo2 mi = mallinfo2();
	return (unsigned long long)(mi.uordblks + mi.hblkhd);
}
static void tx_malloc_trim(void) { malloc_trim(0); }
*/
import "C"

// MallocInUse is the number of bytes the C heap has handed out and not yet taken back
// (glibc's mallinfo2: small-block bytes in use plus mmapped blocks). Unlike the resident set
// it does not count memory the allocator keeps for reuse, so tests use it to tell a leak of
// C memory (libtorch tensors, gotch's buffers) from allocator slack.
func MallocInUse() int64 { return int64(C.tx_malloc_in_use()) }

// MallocTrim hands the C heap's free memory back to the system, in every arena (glibc's
// malloc_trim(0)): debug.FreeOSMemory's counterpart for C, so that a resident-set reading
// counts memory in use rather than free memory a thread's arena happens to keep.
func MallocTrim() { C.tx_malloc_trim() }
