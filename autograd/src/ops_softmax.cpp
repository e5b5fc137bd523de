// softmax, log_softmax and the fused cross-entropy, all numerically stable
// (shifted by the maximum along the axis).
#include <cmath>
#include <cstring>

#include "kernels.hpp"
#include "tape.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

namespace {

// Writes softmax (or log-softmax) of x along `axis` into out.
void softmax_kernel(const Tensor& x, Tensor& out, int axis, bool log_space) {
  const auto v = kernels::axis_view(x.shape(), axis);
  dispatch(x.dtype(), [&]<typename T>() {
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const T* in = src + o * v.extent * v.inner + i;
        T* res = dst + o * v.extent * v.inner + i;
        const int64_t step = v.inner;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t k = 0; k < v.extent; ++k) m = in[k * step] > m ? in[k * step] : m;
        if (!std::isfinite(m)) m = T(0);
        T total = 0;
        for (int64_t k = 0; k < v.extent; ++k) total += std::exp(in[k * step] - m);
        if (log_space) {
          const T lse = m + std::log(total);
          for (int64_t k = 0; k < v.extent; ++k) res[k * step] = in[k * step] - lse;
        } else {
          const T scale = T(1) / total;
          for (int64_t k = 0; k < v.extent; ++k) res[k * step] = std::exp(in[k * step] - m) * scale;
        }
      }
    }
  });
}

}  // namespace

namespace {
// Shared forward of softmax and log_softmax.
Tensor softmax_forward(const Tensor& x, int64_t axis, bool log_space) {
  const OpKind op = log_space ? OpKind::log_softmax : OpKind::softmax;
  const char* name = log_space ? "log_softmax" : "softmax";
  require_defined(name, x);
  if (x.dim() == 0) fail("{}: expects a tensor with at least one axis, got a 0-d tensor", name);
  const int a = normalize_axis(axis, x.dim(), name);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  softmax_kernel(x, out, a, log_space);
  if (Node* n = Tape::current().record(op, {&x}, out)) {
    save_output(n, 0, out);
    n->attrs.ints[0] = a;
  }
  return out;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) { return softmax_forward(x, axis, false); }
void backward_softmax(BackwardContext& c) {
  // dx = y * (g - sum(g * y, axis))
  const Tensor y = c.saved(0);
  const int64_t a = c.attrs().ints[0];
  c.set_grad(0, mul(y, sub(c.grad(), sum(mul(c.grad(), y), {a}, true))));
}

Tensor log_softmax(const Tensor& x, int64_t axis) { return softmax_forward(x, axis, true); }
void backward_log_softmax(BackwardContext& c) {
  // dx = g - exp(y) * sum(g, axis)
  const Tensor y = c.saved(0);
  const int64_t a = c.attrs().ints[0];
  c.set_grad(0, sub(c.grad(), mul(exp(y), sum(c.grad(), {a}, true))));
}

Tensor cross_entropy(const Tensor& logits, std::span<const int64_t> labels) {
  require_defined("cross_entropy", logits);
  if (logits.dim() != 2) {
    fail("cross_entropy: logits must be 2-D [batch, classes], got shape {}", logits.shape());
  }
  const int64_t n = logits.shape()[0], classes = logits.shape()[1];
  if (static_cast<int64_t>(labels.size()) != n) {
    fail("cross_entropy: {} labels for {} rows of logits (shape {})", labels.size(), n,
         logits.shape());
  }
  if (n == 0) fail("cross_entropy: empty batch (logits shape {})", logits.shape());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      fail("cross_entropy: label {} at position {} is out of range [0, {})", labels[i], i, classes);
    }
  }
  Tensor out = Tensor::empty(Shape{}, logits.dtype());
  dispatch(logits.dtype(), [&]<typename T>() {
    const T* x = logits.data<T>();
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T* row = x + i * classes;
      T m = row[0];
      for (int64_t k = 1; k < classes; ++k) m = row[k] > m ? row[k] : m;
      double s = 0;
      for (int64_t k = 0; k < classes; ++k) s += std::exp(static_cast<double>(row[k] - m));
      total += static_cast<double>(m) + std::log(s) -
               static_cast<double>(row[labels[static_cast<size_t>(i)]]);
    }
    out.data<T>()[0] = static_cast<T>(total / static_cast<double>(n));
  });
  if (Node* node = Tape::current().record(OpKind::cross_entropy, {&logits}, out)) {
    // The probabilities are only needed by the backward rule.
    Tensor probs = Tensor::empty(logits.shape(), logits.dtype());
    softmax_kernel(logits, probs, 1, false);
    save_input(node, 0, logits);
    save_input(node, 1, probs);
    RefPtr<Storage> s = Storage::allocate(labels.size() * sizeof(int64_t));
    std::memcpy(s->data(), labels.data(), labels.size() * sizeof(int64_t));
    node->aux = std::move(s);
  }
  return out;
}
void backward_cross_entropy(BackwardContext& c) {
  const auto* labels = static_cast<const int64_t*>(c.aux()->data());
  const Tensor logits = c.saved(0);
  const int64_t n = logits.shape()[0], classes = logits.shape()[1];
  if (c.create_graph()) {
    // Recorded: (softmax(logits) - one_hot) * g / n, differentiable in logits and g.
    Tensor one_hot = zeros(logits.shape(), logits.dtype());
    dispatch(logits.dtype(), [&]<typename T>() {
      for (int64_t i = 0; i < n; ++i) one_hot.data<T>()[i * classes + labels[i]] = T(1);
    });
    c.set_grad(0,
               mul(sub(softmax(logits, 1), one_hot), mul(c.grad(), 1.0 / static_cast<double>(n))));
    return;
  }
  // Direct: (p - one_hot) * g / n from the probabilities saved by the forward pass.
  const Tensor probs = c.saved(1);
  Tensor dx = Tensor::empty(logits.shape(), logits.dtype());
  dispatch(logits.dtype(), [&]<typename T>() {
    const T scale = static_cast<T>(c.grad().item() / static_cast<double>(n));
    const T* p = probs.data<T>();
    T* d = dx.data<T>();
    for (int64_t i = 0; i < n * classes; ++i) d[i] = p[i] * scale;
    for (int64_t i = 0; i < n; ++i) d[i * classes + labels[i]] -= scale;
  });
  c.set_grad(0, dx);
}

}  // namespace tapegrad
