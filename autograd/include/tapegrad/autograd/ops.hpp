// The differentiable ops. Each records itself on the tape when grad mode is on
// and an input requires grad; its backward rule sits beside its forward in src/.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad {

// ---- Elementwise with NumPy broadcasting ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// a ** b. The gradient with respect to b uses log(a) and is taken as 0 where a <= 0.
Tensor pow(const Tensor& a, const Tensor& b);
// Elementwise max/min; where a == b the gradient is split equally between them.
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// mask != 0 ? a : b, broadcasting all three; no gradient flows to the mask.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);

// ---- Scalar forms ----
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor sub(double a, const Tensor& b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor div(double a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor pow(double base, const Tensor& exponent);
Tensor maximum(const Tensor& a, double b);
Tensor minimum(const Tensor& a, double b);

// ---- Unary ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
// Gradient sign(x), 0 at x == 0.
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
// Gradient 1 for low <= x <= high, 0 outside.
Tensor clamp(const Tensor& x, double low, double high);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// Gradient 0 at x == 0 (as PyTorch).
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// log(1 + exp(x)), computed without overflow.
Tensor softplus(const Tensor& x);
// grad * y * (1 - y) and grad * (1 - y^2): the derivative kernels of sigmoid and tanh
// given their output y.
Tensor sigmoid_backward(const Tensor& grad, const Tensor& y);
Tensor tanh_backward(const Tensor& grad, const Tensor& y);

// ---- Reductions ----
// `axes` empty means all axes; negative axes count from the end.
Tensor sum(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
// Maximum; when several elements tie for the maximum, the gradient is split equally
// among them (a valid subgradient, symmetric in the tied elements).
Tensor max(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
// Reduces a broadcast gradient back to `shape` (sum over broadcast axes).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- Linear algebra ----
// op(a) @ op(b) where op transposes the last two axes when its flag is set; the
// transposes are passed to OpenBLAS, never materialised. 2-D @ 2-D, 3-D @ 3-D
// (same batch), and 3-D @ 2-D (the matrix shared by every batch entry).
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
Tensor permute(const Tensor& x, std::vector<int64_t> dims);
Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1);
// Transpose of a 2-D tensor.
Tensor t(const Tensor& x);

// ---- Shape ----
// Shares storage with x. One dimension may be -1 (inferred).
Tensor reshape(const Tensor& x, std::vector<int64_t> shape);
Tensor flatten(const Tensor& x, int64_t start_axis = 0, int64_t end_axis = -1);
Tensor squeeze(const Tensor& x, int64_t axis);
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Elements [start, start + length) along axis (a copy).
Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length);
// Elements [start, end) along axis.
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end);
// Zeros of `shape` with grad placed at [start, start + grad.size(axis)) along axis.
Tensor narrow_backward(const Tensor& grad, const Shape& shape, int64_t axis, int64_t start);
// Entries at `indices` along axis (minibatch rows with axis 0).
Tensor index_select(const Tensor& x, int64_t axis, std::span<const int64_t> indices);
// Zeros of `shape` with grad's slices added at `indices` along axis (repeats add up).
Tensor index_select_backward(const Tensor& grad, const Shape& shape, int64_t axis,
                             std::span<const int64_t> indices);
Tensor concat(std::span<const Tensor> tensors, int64_t axis = 0);
Tensor concat(std::initializer_list<Tensor> tensors, int64_t axis = 0);
Tensor stack(std::span<const Tensor> tensors, int64_t axis = 0);
Tensor stack(std::initializer_list<Tensor> tensors, int64_t axis = 0);
Tensor cast(const Tensor& x, DType dtype);

// ---- Softmax family ----
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
// Mean cross-entropy of logits [N, C] against integer labels in [0, C). Fused: the
// backward is (softmax - one_hot) / N, computed directly.
Tensor cross_entropy(const Tensor& logits, std::span<const int64_t> labels);

// ---- Not differentiable: comparisons give 0/1 tensors of the inputs' dtype ----
Tensor greater(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);
// Index of the maximum along the last axis of a 2-D tensor, one per row (first on ties).
std::vector<int64_t> argmax_rows(const Tensor& x);
// The same into `out`, which must have one entry per row; allocates nothing.
void argmax_rows(const Tensor& x, std::span<int64_t> out);
// For a [rows, 1] tensor: 1 where a row's value exceeds `threshold` (NaN does not),
// else 0, into `out` (one entry per row); allocates nothing.
void threshold_rows(const Tensor& x, double threshold, std::span<int64_t> out);

// ---- Operators ----
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator+(double a, const Tensor& b) { return add(b, a); }
inline Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
inline Tensor operator-(double a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, b); }
inline Tensor operator/(double a, const Tensor& b) { return div(a, b); }

}  // namespace tapegrad
