// The one list of every recorded op. Each entry has a forward function in
// ops.hpp and a backward rule beside it in src/ops_*.cpp; the op table is built
// from this list, so an op without a backward rule fails to link, and the test
// suite walks this list so an op without a gradient test fails the suite.
#pragma once

#include <span>
#include <string_view>

// clang-format off
#define TAPEGRAD_OPS(X)                                                                  \
  /* elementwise, with NumPy broadcasting */                                            \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(where)                     \
  /* elementwise with a scalar */                                                       \
  X(add_scalar) X(mul_scalar) X(pow_scalar)                                             \
  /* unary */                                                                           \
  X(neg) X(exp) X(log) X(sqrt) X(abs) X(square) X(reciprocal) X(clamp) X(sigmoid)       \
  X(tanh) X(relu) X(leaky_relu) X(softplus)                                             \
  /* derivative kernels used by backward rules, themselves differentiable */            \
  X(sigmoid_backward) X(tanh_backward)                                                  \
  /* reductions */                                                                      \
  X(sum) X(mean) X(max) X(logsumexp)                                                    \
  /* linear algebra */                                                                  \
  X(matmul) X(permute)                                                                  \
  /* shape */                                                                           \
  X(reshape) X(broadcast_to) X(narrow) X(narrow_backward) X(index_select)               \
  X(index_select_backward) X(concat) X(cast)                                            \
  /* softmax family */                                                                  \
  X(softmax) X(log_softmax) X(cross_entropy)
// clang-format on

namespace tapegrad {

enum class OpKind : unsigned char {
  leaf,  // a tensor created by the user; its backward accumulates into .grad
#define TAPEGRAD_ENUM_ENTRY(name) name,
  TAPEGRAD_OPS(TAPEGRAD_ENUM_ENTRY)
#undef TAPEGRAD_ENUM_ENTRY
};

std::string_view op_name(OpKind op);
// Every recorded op (leaf excluded), in list order.
std::span<const OpKind> all_ops();

}  // namespace tapegrad
