// matmul f32 throughput as a @ b^T (transpose_b = true, the Linear-layer layout), on one
// OpenBLAS thread. GFLOP/s counts 2*M*N*K flops per call; items/s is rows of a per second.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "tapegrad/autograd.hpp"

namespace {

using tapegrad::Tensor;

// a: [M, K], b: [N, K]; result [M, N]. Not recorded: only the forward GEMM is timed.
void BM_MatmulTB(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  tapegrad::Generator gen(7);
  Tensor a = tapegrad::uniform({m, k}, -1.0, 1.0, gen);
  Tensor b = tapegrad::uniform({n, k}, -1.0, 1.0, gen);
  tapegrad::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor c = tapegrad::matmul(a, b, false, true);
    benchmark::DoNotOptimize(c);
  }
  const double flops =
      2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations() * m);
}
BENCHMARK(BM_MatmulTB)
    ->ArgNames({"M", "N", "K"})
    ->Args({64, 128, 784})     // MLP first layer, batch 64
    ->Args({1, 128, 784})      // same layer, batch 1 (GEMV-shaped)
    ->Args({256, 1024, 1024})  // a large square-ish GEMM
    ->Unit(benchmark::kMicrosecond);

}  // namespace
