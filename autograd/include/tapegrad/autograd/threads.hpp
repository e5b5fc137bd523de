// Threads used by the GEMM kernels (OpenBLAS). Elementwise kernels run on the
// calling thread.
#pragma once

namespace tapegrad {

// Sets the number of threads OpenBLAS uses; n must be positive.
void set_num_threads(int n);
int get_num_threads();

}  // namespace tapegrad
