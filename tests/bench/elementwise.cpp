// Elementwise throughput in bytes/s (bytes read + written) for tapegrad ops, beside a
// plain memory-bandwidth reference (memcpy, and a hand-written a+b loop) over the same
// sizes, so op / reference says how close the op kernels get to the memory system.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tapegrad/autograd.hpp"

namespace {

using tapegrad::Tensor;

void ElementwiseSizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {int64_t{1} << 10, int64_t{1} << 16, int64_t{1} << 20, int64_t{1} << 24}) {
    b->Arg(n);
  }
}

Tensor random_f32(int64_t n) {
  tapegrad::Generator gen(42);
  return tapegrad::uniform({n}, -1.0, 1.0, gen);
}

// System allocator calls per iteration since `before`: 0 when the storage pool reuses
// the output buffer, 1 for buffers above the pool's large-block limit (32 MiB).
benchmark::Counter sys_allocs_per_iter(uint64_t before) {
  return benchmark::Counter(static_cast<double>(tapegrad::memory_stats().system_allocs - before),
                            benchmark::Counter::kAvgIterations);
}

// tapegrad::add, not recorded: reads 2 floats and writes 1 per element. The output's
// allocation is included (pooled up to 32 MiB, from the system above).
void BM_Add(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = random_f32(n), b = random_f32(n);
  tapegrad::NoGradGuard no_grad;
  const uint64_t allocs = tapegrad::memory_stats().system_allocs;
  for (auto _ : state) {
    Tensor c = tapegrad::add(a, b);
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(state.iterations() * n * 3 * int64_t{sizeof(float)});
  state.counters["sys_allocs/iter"] = sys_allocs_per_iter(allocs);
}
BENCHMARK(BM_Add)->Apply(ElementwiseSizes);

// tapegrad::sigmoid, not recorded: reads 1 float and writes 1 per element, plus an exp.
void BM_Sigmoid(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor x = random_f32(n);
  tapegrad::NoGradGuard no_grad;
  const uint64_t allocs = tapegrad::memory_stats().system_allocs;
  for (auto _ : state) {
    Tensor y = tapegrad::sigmoid(x);
    benchmark::DoNotOptimize(y);
  }
  state.SetBytesProcessed(state.iterations() * n * 2 * int64_t{sizeof(float)});
  state.counters["sys_allocs/iter"] = sys_allocs_per_iter(allocs);
}
BENCHMARK(BM_Sigmoid)->Apply(ElementwiseSizes);

// Reference: std::memcpy of n floats into a preallocated buffer (1 read + 1 write).
void BM_RefMemcpy(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<float> a(n, 1.0f), c(n, 0.0f);
  for (auto _ : state) {
    std::memcpy(c.data(), a.data(), n * sizeof(float));
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 2 * int64_t{sizeof(float)});
}
BENCHMARK(BM_RefMemcpy)->Apply(ElementwiseSizes);

// Reference: hand-written c[i] = a[i] + b[i] into a preallocated buffer (2 reads + 1
// write): what a perfect add kernel with no dispatch or allocation would do.
void BM_RefAddLoop(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<float> a(n, 1.0f), b(n, 2.0f), c(n, 0.0f);
  for (auto _ : state) {
    const float* pa = a.data();
    const float* pb = b.data();
    float* pc = c.data();
    for (size_t i = 0; i < n; ++i) pc[i] = pa[i] + pb[i];
    benchmark::DoNotOptimize(pc);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 3 * int64_t{sizeof(float)});
}
BENCHMARK(BM_RefAddLoop)->Apply(ElementwiseSizes);

}  // namespace
