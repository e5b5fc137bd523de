// Grad mode, gradient computation and tape statistics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad {

// Grad mode is per thread. Ops record only when it is on and an input requires grad.
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// Sets grad mode for a scope and restores the previous mode on exit.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled) : previous_(is_grad_enabled()) { set_grad_enabled(enabled); }
  ~GradModeGuard() { set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

// Evaluation scope: nothing is recorded.
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

struct GradOptions {
  bool retain_graph = false;  // implied by create_graph, as in PyTorch
  bool create_graph = false;
  // Inputs that the outputs do not depend on get zeros; with false they are an error.
  bool allow_unused = true;
};

// Gradients of sum_i <grad_outputs[i], outputs[i]> with respect to each input,
// without touching any .grad field. grad_outputs may be empty when every output
// is a scalar (ones are used). Only nodes on a path from the inputs to the
// outputs are visited.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {},
                         const GradOptions& options = {});

struct TapeStats {
  size_t nodes = 0;          // nodes currently on this thread's tape (live or awaiting rewind)
  size_t node_capacity = 0;  // nodes the arena can hold without growing
  size_t edge_capacity = 0;  // input edges the arena can hold without growing
  uint64_t recorded = 0;     // nodes ever recorded on this thread
  size_t nodes_visited = 0;  // nodes whose backward rule ran in the last backward pass
};
TapeStats tape_stats();

}  // namespace tapegrad
