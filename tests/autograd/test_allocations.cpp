// A steady-state training step allocates nothing on the heap: tensors come from
// the pool, nodes from the tape's arena, and backward rules pass shapes inline.
// This file replaces the global operator new of the autograd test binary with a
// counting one.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tapegrad/autograd.hpp"

namespace {
std::atomic<long> heap_allocations{0};
}  // namespace

void* operator new(size_t size) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

using namespace tapegrad;

TEST_CASE("a training step of an MLP written with ops makes no heap allocation after warm-up") {
  Generator gen(0);
  const Tensor x = uniform({16, 20}, 0, 1, gen);
  const std::vector<int64_t> y{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
  Tensor w1 = uniform({12, 20}, -0.2, 0.2, gen).requires_grad_();
  Tensor b1 = zeros({12}).requires_grad_();
  Tensor w2 = uniform({4, 12}, -0.2, 0.2, gen).requires_grad_();
  Tensor b2 = zeros({4}).requires_grad_();
  Tensor* params[] = {&w1, &b1, &w2, &b2};
  auto step = [&] {
    const Tensor h = sigmoid(add(matmul(x, w1, false, true), b1));
    const Tensor loss = cross_entropy(add(matmul(h, w2, false, true), b2), y);
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor* p : params) {
      p->add_(p->grad(), -0.1);
      p->set_grad(Tensor());
    }
    return loss.item();
  };
  const double first = step();
  for (int i = 0; i < 5; ++i) step();
  const long before = heap_allocations.load();
  const uint64_t pool_before = memory_stats().system_allocs;
  double last = 0;
  for (int i = 0; i < 50; ++i) last = step();
  CHECK(heap_allocations.load() - before == 0);
  CHECK(memory_stats().system_allocs == pool_before);
  CHECK(last < first);
}
