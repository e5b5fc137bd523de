// Threads used by tapegrad's large matrix products. Elementwise kernels and small
// products run on the calling thread.
//
// tapegrad splits a large product into chunks that the calling thread and its
// workers claim one at a time; OpenBLAS itself runs single-threaded. A worker that
// the operating system has descheduled (another process on its core) therefore
// delays at most the chunk it holds, and the caller does the rest: two threads are
// not slower than one on a busy machine, where OpenBLAS's own fork-join threads
// wait for each other at every product.
#pragma once

namespace tapegrad {

// Sets the number of threads (the caller plus n - 1 workers); n must be positive.
// The default is 1. Not to be called while another thread runs tapegrad ops.
void set_num_threads(int n);
int get_num_threads();

}  // namespace tapegrad
