// Entry point of tapegrad_microbench: pins OpenBLAS to one thread so that every
// number is a single-core number (elementwise kernels always run on the calling thread).
#include <benchmark/benchmark.h>

#include <string>

#include "tapegrad/autograd/threads.hpp"

int main(int argc, char** argv) {
  tapegrad::set_num_threads(1);
  benchmark::AddCustomContext("tapegrad_threads", std::to_string(tapegrad::get_num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
