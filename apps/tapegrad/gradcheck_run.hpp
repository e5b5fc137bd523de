// The core of `tapegrad gradcheck`, callable in-process (tests drive it directly):
// checks every parameter of an MLP with the library's gradient checker, and
// optionally compares with a report's hand-derived backprop and sweeps the step.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tapegrad/autograd/gradcheck.hpp"

namespace tapegrad::apps {

struct GradcheckCommand {
  std::string model = "784-128-10";
  std::string act = "sigmoid";
  std::string loss = "ce";
  int64_t batch = 8;
  std::string mode = "full";
  std::string dtype = "f64";
  uint64_t seed = 0;
  std::string json_path;        // write the results as JSON here
  std::string data = "random";  // random, or a --data spec of `tapegrad train`
  std::string data_dir;
  std::string closed_form;  // report id 000..004: also check its hand derivation
  bool sweep_step = false;
  int64_t sweep_entries = 20;  // entries per parameter in each sweep point
  double atol = 1e-5, rtol = 1e-3;
  std::string stencil = "central";
  int worst = 10;
  int64_t max_entries = 0;
  bool second_order = false;
  std::string init = "pytorch";
  bool bias = true;
  double l1 = 0, l2 = 0;
  // Which of model/act/loss/bias/l1/l2 were given (they override a report's network).
  bool model_given = false, act_given = false, loss_given = false, bias_given = false,
       l1_given = false, l2_given = false;
  // Not on the command line: changes autograd's gradients (one per parameter, f64)
  // before they are checked; tests plant a wrong backward rule with it.
  std::function<void(std::vector<Tensor>& gradients)> alter_gradients;
};

// Runs the check and prints to `out`; returns 0 when everything passes, 1 otherwise.
// Argument problems found here (e.g. the model does not fit the data) throw UsageError.
int run_gradcheck(const GradcheckCommand& c, std::ostream& out);

}  // namespace tapegrad::apps
