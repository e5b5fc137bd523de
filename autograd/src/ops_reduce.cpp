// Reductions over all or given axes, with keepdim, and sum_to (the one place
// where broadcasting is undone). Axes are kept as a bit mask in the node.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.hpp"
#include "shape_ops.hpp"
#include "tape.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

namespace {

struct Reduction {
  uint32_t mask = 0;  // bit i set: axis i is reduced
  Shape kept;         // result shape with reduced axes kept as 1
  Shape result;       // result shape as returned
  int64_t count = 1;  // elements reduced into each result element
};

Reduction plan_reduction(const char* op, const Shape& shape, const std::vector<int64_t>& axes,
                         bool keepdim) {
  Reduction r;
  if (axes.empty()) {
    r.mask = (1u << shape.rank()) - 1;
  } else {
    for (int64_t a : axes) {
      const int axis = normalize_axis(a, shape.rank(), op);
      if (r.mask & (1u << axis)) fail("{}: axis {} is given twice", op, a);
      r.mask |= 1u << axis;
    }
  }
  for (int i = 0; i < shape.rank(); ++i) {
    const bool reduced = (r.mask >> i) & 1u;
    if (reduced) r.count *= shape[i];
    r.kept.push_back(reduced ? 1 : shape[i]);
    if (!reduced || keepdim) r.result.push_back(reduced ? 1 : shape[i]);
  }
  return r;
}

Reduction plan_from_attrs(const Attrs& a, const Shape& in) {
  Reduction r;
  r.mask = static_cast<uint32_t>(a.ints[0]);
  for (int i = 0; i < in.rank(); ++i) {
    const bool reduced = (r.mask >> i) & 1u;
    if (reduced) r.count *= in[i];
    r.kept.push_back(reduced ? 1 : in[i]);
  }
  return r;
}

// Reduces every maximal run of adjacent masked axes in one pass; returns a
// tensor of the kept shape.
template <typename Combine>
Tensor reduce(const Tensor& x, uint32_t mask, double init, Combine combine) {
  Tensor current = x;
  Shape shape = x.shape();
  int axis = shape.rank() - 1;
  while (axis >= 0) {
    if (!((mask >> axis) & 1u)) {
      --axis;
      continue;
    }
    int first = axis;
    while (first > 0 && ((mask >> (first - 1)) & 1u)) --first;
    int64_t outer = 1, extent = 1, inner = 1;
    for (int i = 0; i < first; ++i) outer *= shape[i];
    for (int i = first; i <= axis; ++i) extent *= shape[i];
    for (int i = axis + 1; i < shape.rank(); ++i) inner *= shape[i];
    for (int i = first; i <= axis; ++i) shape[i] = 1;
    Tensor next = Tensor::empty(shape, x.dtype());
    dispatch(x.dtype(), [&]<typename T>() {
      const T* src = current.data<T>();
      T* dst = next.data<T>();
      for (int64_t o = 0; o < outer; ++o) {
        T* out = dst + o * inner;
        for (int64_t i = 0; i < inner; ++i) out[i] = static_cast<T>(init);
        if (inner == 1) {
          T acc = static_cast<T>(init);
          const T* row = src + o * extent;
          for (int64_t k = 0; k < extent; ++k) acc = combine(acc, row[k]);
          out[0] = acc;
        } else {
          for (int64_t k = 0; k < extent; ++k) {
            const T* slice = src + (o * extent + k) * inner;
            for (int64_t i = 0; i < inner; ++i) out[i] = combine(out[i], slice[i]);
          }
        }
      }
    });
    current = next;
    axis = first - 1;
  }
  if (current.impl() == x.impl()) {
    // Nothing reduced (a 0-d input): still return a buffer of its own.
    current = Tensor::empty(shape, x.dtype());
    std::memcpy(current.raw_data(), x.raw_data(),
                static_cast<size_t>(x.numel()) * dtype_size(x.dtype()));
  }
  return current;
}

Tensor reduce_sum(const Tensor& x, uint32_t mask) {
  return reduce(x, mask, 0.0, [](auto a, auto b) { return a + b; });
}
Tensor reduce_max(const Tensor& x, uint32_t mask) {
  return reduce(x, mask, -std::numeric_limits<double>::infinity(),
                [](auto a, auto b) { return b > a ? b : a; });
}

// Returns a fresh, unrecorded tensor with x's data and a new shape.
Tensor view_as(const Tensor& x, const Shape& shape) {
  Tensor v = x.detach();
  v.impl()->shape = shape;
  return v;
}

Node* record(OpKind op, const Tensor& x, Tensor& out, const Reduction& r, bool keepdim) {
  Node* n = Tape::current().record(op, {&x}, out);
  if (n) {
    n->attrs.ints[0] = r.mask;
    n->attrs.flag = keepdim;
  }
  return n;
}

// The output gradient spread back over the input's shape.
Tensor expand_grad(const BackwardContext& c, const Reduction& r) {
  return broadcast_to(reshape_to(c.grad(), r.kept), c.input_shape(0));
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  require_defined("sum", x);
  const Reduction r = plan_reduction("sum", x.shape(), axes, keepdim);
  Tensor out = view_as(reduce_sum(x, r.mask), r.result);
  record(OpKind::sum, x, out, r, keepdim);
  return out;
}

Tensor sum_keepdim_mask(const Tensor& x, uint32_t mask) {
  Attrs attrs;
  attrs.ints[0] = mask;
  Reduction r = plan_from_attrs(attrs, x.shape());
  Tensor out = view_as(reduce_sum(x, r.mask), r.kept);
  record(OpKind::sum, x, out, r, true);
  return out;
}
void backward_sum(BackwardContext& c) {
  c.set_grad(0, expand_grad(c, plan_from_attrs(c.attrs(), c.input_shape(0))));
}

Tensor mean(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  require_defined("mean", x);
  const Reduction r = plan_reduction("mean", x.shape(), axes, keepdim);
  if (r.count == 0) fail("mean: reducing {} over an empty axis", x.shape());
  Tensor out = view_as(reduce_sum(x, r.mask), r.result);
  {
    NoGradGuard no_grad;
    out.mul_(1.0 / static_cast<double>(r.count));
  }
  record(OpKind::mean, x, out, r, keepdim);
  return out;
}
void backward_mean(BackwardContext& c) {
  const Reduction r = plan_from_attrs(c.attrs(), c.input_shape(0));
  c.set_grad(0, mul(expand_grad(c, r), 1.0 / static_cast<double>(r.count)));
}

Tensor max(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  require_defined("max", x);
  const Reduction r = plan_reduction("max", x.shape(), axes, keepdim);
  if (r.count == 0) fail("max: reducing {} over an empty axis", x.shape());
  Tensor out = view_as(reduce_max(x, r.mask), r.result);
  if (Node* n = record(OpKind::max, x, out, r, keepdim)) {
    save_input(n, 0, x.detach());
    save_input(n, 1, out.detach());
  }
  return out;
}
void backward_max(BackwardContext& c) {
  const Reduction r = plan_from_attrs(c.attrs(), c.input_shape(0));
  const Tensor x = c.saved(0);
  // Tied maxima share the gradient equally: weight = [x == max] / count of ties.
  const Tensor hits = equal(x, view_as(c.saved(1), r.kept));
  const Tensor weight = div(hits, view_as(reduce_sum(hits, r.mask), r.kept));
  c.set_grad(0, mul(expand_grad(c, r), weight));
}

Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  require_defined("logsumexp", x);
  const Reduction r = plan_reduction("logsumexp", x.shape(), axes, keepdim);
  Tensor shift = reduce_max(x, r.mask);
  dispatch(x.dtype(), [&]<typename T>() {
    // An all -inf slice has logsumexp -inf; shifting it by 0 avoids inf - inf.
    T* p = shift.data<T>();
    for (int64_t i = 0; i < shift.numel(); ++i) {
      if (!std::isfinite(p[i])) p[i] = T(0);
    }
  });
  Tensor shifted =
      map_binary("logsumexp", x, shift, [](auto u, auto m) { return std::exp(u - m); });
  Tensor total = reduce_sum(shifted, r.mask);
  Tensor out =
      view_as(map_binary("logsumexp", total, shift, [](auto s, auto m) { return std::log(s) + m; }),
              r.result);
  if (Node* n = record(OpKind::logsumexp, x, out, r, keepdim)) {
    save_input(n, 0, x);
    save_output(n, 1, out);
  }
  return out;
}
void backward_logsumexp(BackwardContext& c) {
  const Reduction r = plan_from_attrs(c.attrs(), c.input_shape(0));
  // d lse / dx = exp(x - lse): the softmax over the reduced axes.
  const Tensor lse = reshape_to(c.saved(1), r.kept);
  c.set_grad(0, mul(expand_grad(c, r), exp(sub(c.saved(0), lse))));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  require_defined("sum_to", x);
  if (x.shape() == shape) return x;
  const Shape& in = x.shape();
  const int lead = in.rank() - shape.rank();
  uint32_t mask = 0;
  bool ok = lead >= 0;
  for (int i = 0; ok && i < in.rank(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && in[i] != 1)) {
      mask |= 1u << i;
    } else if (shape[i - lead] != in[i]) {
      ok = false;
    }
  }
  if (!ok) fail("sum_to: shape {} cannot be reduced to shape {}", in, shape);
  return reshape_to(mask ? sum_keepdim_mask(x, mask) : x, shape);
}

}  // namespace tapegrad

namespace tapegrad {

namespace {
// The checks shared by the per-row readers below: x is a defined 2-D tensor with
// non-empty rows and `out` has one entry per row. The values are read outside the
// tape, which gradcheck's replay is told about.
void check_rows_into(const char* what, const Tensor& x, std::span<const int64_t> out) {
  require_defined(what, x);
  notify_untracked_read(what, x);
  if (x.dim() != 2) fail("{}: expects a 2-D tensor, got shape {}", what, x.shape());
  const int64_t rows = x.shape()[0];
  if (x.shape()[1] == 0) fail("{}: rows of shape {} are empty", what, x.shape());
  if (static_cast<int64_t>(out.size()) != rows) {
    fail("{}: the output has {} entries for the {} rows of shape {}", what, out.size(), rows,
         x.shape());
  }
}
}  // namespace

void argmax_rows(const Tensor& x, std::span<int64_t> out) {
  check_rows_into("argmax_rows", x, out);
  const int64_t rows = x.shape()[0], cols = x.shape()[1];
  dispatch(x.dtype(), [&]<typename T>() {
    const T* p = x.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      int64_t best = 0;
      for (int64_t k = 1; k < cols; ++k) best = p[r * cols + k] > p[r * cols + best] ? k : best;
      out[static_cast<size_t>(r)] = best;
    }
  });
}

void threshold_rows(const Tensor& x, double threshold, std::span<int64_t> out) {
  check_rows_into("threshold_rows", x, out);
  if (x.shape()[1] != 1) {
    fail("threshold_rows: expects one value per row, got shape {}", x.shape());
  }
  dispatch(x.dtype(), [&]<typename T>() {
    const T* p = x.data<T>();
    for (size_t r = 0; r < out.size(); ++r) out[r] = p[r] > threshold ? 1 : 0;
  });
}

std::vector<int64_t> argmax_rows(const Tensor& x) {
  // Sized 0 for a tensor that is not 2-D: the checks above then name the problem.
  std::vector<int64_t> result(x.defined() && x.dim() == 2 ? static_cast<size_t>(x.shape()[0]) : 0);
  argmax_rows(x, result);
  return result;
}

}  // namespace tapegrad
