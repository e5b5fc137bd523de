// What the benchmark reads about its own process: resident memory from
// /proc/self/status and the number of heap allocations made through operator new
// (counted by a replacement operator new linked into the tapegrad program only).
#pragma once

#include <cstdint>

namespace tapegrad::apps::bench {

// VmRSS and VmHWM (the peak) in bytes; 0 where /proc is unavailable.
int64_t resident_bytes();
int64_t peak_resident_bytes();
// Resets VmHWM to the current RSS (Linux: "5" to /proc/self/clear_refs), so that a
// later peak_resident_bytes() is the peak since this call; false if unsupported.
bool reset_peak_resident_bytes();

// Calls of operator new (every form) since the program started.
int64_t heap_allocation_count();
// What the benchmark counts as a step's allocations: heap_allocation_count() plus
// the tensor pool's calls to the system allocator.
int64_t allocation_count();

}  // namespace tapegrad::apps::bench
