// Gradient checking: compares the gradients of a function's backward pass
// (autograd's, or a hand-derived one you supply) with finite differences, and
// reports where and why they disagree.
//
//   Tensor w = random_input({3, 4}, gen).requires_grad_();   // checked: requires grad
//   Tensor x = random_input({5, 4}, gen);                    // a constant
//   CheckedFunction f = [](const std::vector<Tensor>& in) {
//     return std::vector<Tensor>{sum(tanh(matmul(in[1], in[0], false, true)))};
//   };
//   GradcheckReport r = gradcheck(f, {{"w", w}, {"x", x}});
//   fmt::print("{}", r.to_table());                          // r.passed, r.to_json()
//
// The function maps tensors to tensors. Inputs that require grad are checked;
// the others are constants. The numerical reference is always computed in f64:
// f64 leaf inputs are used as they are (perturbed in place and restored bitwise,
// so the function may also reach them through a closure, e.g. a module's
// parameters, as with PyTorch's gradcheck); f32 and non-leaf inputs are replaced
// by f64 copies, which the function must then take from its argument (and it
// must accept f64: convert constants with `.to(in[0].dtype())`).
//
// Metric: an entry passes when |a - n| <= atol + rtol * |n| (a analytic, n
// numerical; the defaults are PyTorch's gradcheck's, atol 1e-5 and rtol 1e-3).
// The report also gives the relative error |a - n| / max(|a|, |n|, 1e-300).
//
// Full mode compares the whole Jacobian: one backward pass per output entry
// gives the analytical rows; the numerical columns come from perturbing each
// input entry. The function is not called again for each perturbation: the ops
// of the call at the check point are recorded once and replayed, recomputing
// only the entries that the perturbed entry reaches (for a 784-128-10 MLP a
// perturbed weight changes one column of one matmul). When the recorded ops
// cannot stand for the function (it reads values with item(), compares them,
// runs ops with grad mode off or on detached aliases of values that depend on
// the inputs), the checker calls the function instead, and the report says why.
//
// Directional mode compares v^T J u for a random unit direction u per input and
// a random v per output: one backward pass per output and two evaluations per
// input. A failing input/output pair is then checked in full mode to locate the
// bad entries (`locate`).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad {

// The function under test: tensors to tensors.
using CheckedFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
// A hand-derived gradient to check instead of autograd's: given the inputs and one
// grad_output per output (each of that output's shape), returns the vector-Jacobian
// products sum_o grad_outputs[o]^T d outputs[o] / d inputs[i], one tensor per input
// (undefined allowed for inputs that are not checked). For second-order checks it
// must be written with differentiable ops.
using VjpFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs,
                                                      const std::vector<Tensor>& grad_outputs)>;

struct NamedInput {
  std::string name;
  Tensor value;  // checked when value.requires_grad()
};

enum class GradcheckMode { full, directional };
// Finite-difference formulas: central (f(x+h) - f(x-h)) / 2h, error O(h^2);
// central4, the 4-point stencil (-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)) / 12h, and
// richardson, (4 D(h/2) - D(h)) / 3 over central differences D, both O(h^4).
enum class Stencil { central, central4, richardson };

std::string_view gradcheck_mode_name(GradcheckMode mode);
std::string_view stencil_name(Stencil stencil);
// Parse "full"/"directional" and "central"/"central4"/"richardson"; errors list the choices.
GradcheckMode parse_gradcheck_mode(std::string_view text);
Stencil parse_stencil(std::string_view text);

struct GradcheckOptions {
  GradcheckMode mode = GradcheckMode::full;
  double atol = 1e-5;
  double rtol = 1e-3;
  // Step h. 0 (default): h = cbrt(eps) * max(1, |x|) for central differences and
  // eps^(1/5) * max(1, |x|) for the fourth-order stencils (eps = 2^-52), rounded to a
  // power of two so that x +- h is exact. > 0: h = step * max(1, |x|), or h = step
  // with relative_step = false.
  double step = 0;
  bool relative_step = true;
  Stencil stencil = Stencil::central;
  uint64_t seed = 0;  // random directions, grad_outputs and entry samples
  int worst = 10;     // entries kept in GradcheckReport::worst
  // A failing entry whose analytic value lies between the left and right one-sided
  // differences, which differ, sits on a kink: it passes and is marked.
  bool kinks = true;
  bool structural = true;     // the structural checks of the backward pass
  bool second_order = false;  // Hessian-vector products against differences of gradients
  // Full mode: check at most this many entries of each input, drawn at random (0: all).
  int64_t max_entries = 0;
  // Directional mode: on a failing pair, locate the bad entries with full mode.
  bool locate = true;
  // Compute the analytic side in the inputs' own dtype (f32 gradients against the
  // f64 reference; loosen the tolerances) instead of on the f64 copies.
  bool analytic_in_input_dtype = false;
  // A hand-derived gradient to check; empty: autograd's.
  VjpFunction analytic;
  // Names of the outputs in the report; default "output 0", ... ("output" for one).
  std::vector<std::string> output_names;
  // Replay the recorded ops for perturbations (see above); false: call the function.
  bool replay = true;
};

struct GradcheckEntry {
  // "gradient" (one Jacobian entry), "direction" (v^T J u), "hvp" (one entry of a
  // Hessian-vector product) or "jvp" (one entry of J v through the recorded backward).
  std::string kind;
  std::string input;                  // checked input (empty for jvp)
  std::vector<int64_t> index;         // multi-index into the input (empty for a direction)
  std::string output;                 // output (empty for hvp)
  std::vector<int64_t> output_index;  // multi-index into the output, when it has several entries
  double input_value = 0;             // x at the entry (gradient kind)
  double analytic = 0, numeric = 0, abs_error = 0, rel_error = 0;
  double step = 0;
  bool kink = false;
  bool passed = true;
};

// Per checked input (first order) or per input/output (second order).
struct GradcheckSummary {
  std::string name;
  Shape shape;
  DType dtype = DType::f64;  // the input's own dtype
  int64_t checked = 0, failing = 0, kinks = 0;
  double max_rel_error = 0, mean_rel_error = 0, max_abs_error = 0;
  // Its worst entry (failing first, then kinks, then by error over tolerance);
  // kind is empty when nothing was checked.
  GradcheckEntry worst;
  bool passed() const { return failing == 0; }
};

struct StructuralCheck {
  std::string name;
  bool passed = true;
  std::string detail;
};

struct GradcheckReport {
  bool passed = true;
  GradcheckMode mode = GradcheckMode::full;
  Stencil stencil = Stencil::central;
  double atol = 0, rtol = 0;
  std::string step_rule;
  double min_step = 0, max_step = 0;  // over the entries checked
  uint64_t seed = 0;
  std::vector<GradcheckEntry> worst;  // failing first, then kinks, then by error / tolerance
  std::vector<GradcheckSummary> inputs;
  std::vector<GradcheckSummary> second_order;
  std::vector<StructuralCheck> structural;
  std::vector<std::string> problems;  // what failed or could not be checked
  std::vector<std::string> notes;     // informational (e.g. why the function was called directly)
  std::string evaluation;             // "replay" or "direct"
  int64_t evaluations = 0;            // function values computed for finite differences
  int64_t backward_passes = 0;
  double seconds = 0;

  // For people: summary table, worst entries, structural checks, problems.
  std::string to_table() const;
  // For scripts: every field above (non-finite numbers as null).
  std::string to_json() const;
};

// Checks f at `inputs`. Throws tapegrad::Error for misuse: no inputs, an undefined
// input, no input requiring grad, the same tensor twice, bad options, a function
// that throws at the check point or returns no (or undefined) outputs. Problems
// met while checking (NaN at the check point, outputs changing shape when an input
// moves, the function throwing at a perturbed point) fail the report instead.
GradcheckReport gradcheck(const CheckedFunction& f, const std::vector<NamedInput>& inputs,
                          const GradcheckOptions& options = {});
// Inputs named "input 0", "input 1", ...
GradcheckReport gradcheck(const CheckedFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// Seeded random inputs for gradient checks, drawn away from kinks.
struct RandomInputOptions {
  double low = -2.0, high = 2.0;
  // Values stay at least `margin` away from these points (0: relu, abs, 1/x).
  std::vector<double> avoid = {0.0};
  double margin = 0.05;
  bool distinct = false;  // pairwise at least 0.4 * (high - low) / n apart: no ties for max
  bool dyadic = false;    // multiples of 1/64: exact in f32, and x +- 2^-k too
  DType dtype = DType::f64;
};
// Uniform on [low, high] under the constraints; the same generator state gives the
// same tensor everywhere. Throws when the constraints leave no room.
Tensor random_input(const Shape& shape, Generator& gen, const RandomInputOptions& options = {});

}  // namespace tapegrad
