// The per-op gradient test cases: for every op in TAPEGRAD_OPS, functions built
// on it and how to draw their inputs (away from kinks), over several shapes
// including broadcasting and size-1 dimensions. Shared by test_op_gradients.cpp
// (the test-only finite-difference helpers) and test_gradcheck.cpp (the library's
// gradient checker); both walk all_ops() so that an op without a case fails.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autograd/gradcheck_util.hpp"
#include "tapegrad/autograd.hpp"

namespace tapegrad::op_cases {

using fdcheck::Fn;
using fdcheck::Inputs;

// Values are uniform in [low, high]; constraints keep them away from points where
// the op is not differentiable (kinks), so that finite differences are meaningful.
struct Draw {
  Shape shape;
  RandomInputOptions options;  // avoids nothing unless a helper below says so
};

Draw any(Shape s, double low = -2.0, double high = 2.0);
Draw positive(Shape s, double low = 0.3, double high = 2.5);
Draw avoiding(Shape s, std::vector<double> points, double margin = 0.05, double low = -2.0,
              double high = 2.0);
// Away from 0 by at least `margin` (relu, abs, leaky_relu kinks; 1/x poles).
Draw nonzero(Shape s, double margin = 0.05);
Draw distinct(Shape s);
Draw dyadic(Shape s);
// Draws one input (f64) with tapegrad::random_input.
Tensor sample(const Draw& d, Generator& gen);

struct Case {
  std::string label;
  Fn fn;
  std::vector<Draw> inputs;
  // Optional joint constraint: every value of kink(inputs) must be at least
  // kKinkMargin away from 0 (e.g. a - b for maximum, away from ties).
  Fn kink;
};
inline constexpr double kKinkMargin = 0.05;

using Table = std::map<std::string, std::vector<Case>, std::less<>>;

// Op name -> cases.
Table build_table();
// A stable seed per case (FNV-1a of its name), so adding cases does not reshuffle others.
uint64_t seed_for(const std::string& op, const std::string& label);
// Draws the inputs of a case (in f64), retrying until the joint constraint holds.
Inputs draw_inputs(const Case& c, Generator& gen);
std::string case_name(const std::string& op, const Case& c);

}  // namespace tapegrad::op_cases
