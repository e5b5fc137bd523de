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

// Subnormal floats (below about 1.2e-38 in f32) are many times slower to compute
// with on x86; per-sample SGD on MNIST makes many (gradients of confident
// predictions, momentum of weights on always-blank pixels). With on = true the
// calling thread and tapegrad's workers treat them as zero (the FTZ and DAZ modes),
// as torch.set_flush_denormal(True) does. Off by default. Returns false, changing
// nothing, on processors without these modes.
bool set_flush_denormal(bool on);

}  // namespace tapegrad
