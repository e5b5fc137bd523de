// Internal: the worker pool behind set_num_threads.
#pragma once

#include <cstdint>

namespace tapegrad::detail {

// Runs run(context, i) for every i in [0, chunks), on the calling thread and the
// pool's workers, and returns when all have finished. Chunks are claimed one at a
// time; the calling thread claims them too, so it never waits for a worker that
// has not started. Runs everything inline with one thread or one chunk.
void parallel_chunks(int chunks, void (*run)(const void* context, int chunk), const void* context);

// Calls fn(i) for i in [0, chunks) as above; fn is any callable.
template <typename Fn>
void parallel_for_chunks(int chunks, const Fn& fn) {
  parallel_chunks(
      chunks, [](const void* f, int i) { (*static_cast<const Fn*>(f))(i); }, &fn);
}

// The thread count of set_num_threads (1 by default). Makes sure OpenBLAS runs
// single-threaded: the pool, not OpenBLAS, uses the other cores.
int pool_threads();

}  // namespace tapegrad::detail
