#include "tapegrad/autograd/threads.hpp"

#include <cblas.h>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad {

void set_num_threads(int n) {
  if (n <= 0) fail("set_num_threads: the thread count must be positive, got {}", n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return openblas_get_num_threads(); }

}  // namespace tapegrad
