// Per-op fixed cost: tapegrad::add on one-element f32 tensors, so the kernel is
// negligible and the time is dispatch, allocation and (when recorded) tape bookkeeping.
#include <benchmark/benchmark.h>

#include "tapegrad/autograd.hpp"

namespace {

using tapegrad::Tensor;

// (a) Not recorded, grad mode off: the cheapest path an op can take.
void BM_AddDispatch_NoGrad(benchmark::State& state) {
  Tensor a = tapegrad::ones({1}), b = tapegrad::ones({1});
  tapegrad::NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor c = tapegrad::add(a, b);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_AddDispatch_NoGrad);

// (a') Not recorded, grad mode on but no input requires grad: adds the "should I record?" check.
void BM_AddDispatch_NoRequiresGrad(benchmark::State& state) {
  Tensor a = tapegrad::ones({1}), b = tapegrad::ones({1});
  for (auto _ : state) {
    Tensor c = tapegrad::add(a, b);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_AddDispatch_NoRequiresGrad);

// (b) Recorded: one input requires grad, so each add pushes a node on the tape
// (released again when c dies); the difference to (a) is the recording cost.
void BM_AddDispatch_Recorded(benchmark::State& state) {
  Tensor a = tapegrad::ones({1}), b = tapegrad::ones({1});
  a.requires_grad_();
  for (auto _ : state) {
    Tensor c = tapegrad::add(a, b);
    benchmark::DoNotOptimize(c);
  }
  state.counters["tape_nodes_after"] = static_cast<double>(tapegrad::tape_stats().nodes);
}
BENCHMARK(BM_AddDispatch_Recorded);

// (c) Forward + backward of one recorded add: add, sum, then backward() from the sum
// (3 forward-side ops plus the backward pass and gradient accumulation into a.grad).
void BM_AddForwardBackward(benchmark::State& state) {
  Tensor a = tapegrad::ones({1}), b = tapegrad::ones({1});
  a.requires_grad_();
  for (auto _ : state) {
    Tensor loss = tapegrad::sum(tapegrad::add(a, b));
    loss.backward();
    benchmark::DoNotOptimize(loss);
  }
  state.counters["tape_nodes_after"] = static_cast<double>(tapegrad::tape_stats().nodes);
}
BENCHMARK(BM_AddForwardBackward);

}  // namespace
