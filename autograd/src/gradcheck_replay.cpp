// Evaluating the checked function at perturbed inputs. The replay keeps every
// value of the recorded call; a perturbation marks the entries it changes and
// each op downstream recomputes only those entries when it can:
//   pointwise ops (elementwise, scalar forms, broadcast_to, cast): the changed
//     output entries are gathered into 1-D tensors, the op is applied to them
//     and the results are scattered back;
//   matmul: a changed entry of one factor adds a row or column update;
//   sum and mean: a changed entry adds its change to one output entry;
//   reshape: a view, so it changes where its input does;
//   every other op is recomputed whole from its current inputs.
// Sparse changes are written into the recorded values in place, with the old
// values kept so that restore() puts back the check point bitwise.
#include "gradcheck_replay.hpp"

#include <algorithm>
#include <cstring>

#include "kernels.hpp"
#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad::gradcheck_detail {

void flatten_into(const std::vector<Tensor>& tensors, Values& out) {
  out.clear();
  for (const Tensor& t : tensors) {
    const int64_t n = t.numel();
    if (t.dtype() == DType::f64) {
      const double* p = t.data<double>();
      out.insert(out.end(), p, p + n);
    } else {
      const float* p = t.data<float>();
      for (int64_t i = 0; i < n; ++i) out.push_back(static_cast<double>(p[i]));
    }
  }
}

namespace {

// Writes `src` into `dst` (same shape), converting the dtype.
void copy_values(const Tensor& dst, const Tensor& src) {
  for (int64_t i = 0, n = dst.numel(); i < n; ++i) set_value(dst, i, get_value(src, i));
}

void check_outputs(const std::vector<Tensor>& outs, const std::vector<Shape>& shapes) {
  if (outs.size() != shapes.size()) {
    throw EvaluationMismatch(
        fmt::format("the function returned {} outputs instead of {}", outs.size(), shapes.size()));
  }
  for (size_t o = 0; o < outs.size(); ++o) {
    if (!outs[o].defined()) {
      throw EvaluationMismatch(fmt::format("output {} is an undefined tensor", o));
    }
    if (!(outs[o].shape() == shapes[o])) {
      throw EvaluationMismatch(
          fmt::format("output {} changed shape from {} to {}", o, shapes[o], outs[o].shape()));
    }
  }
}

// Keeps a copy of a tensor's data and writes it back on destruction.
class DataBackup {
 public:
  explicit DataBackup(const Tensor& t)
      : t_(t), bytes_(static_cast<size_t>(t.numel()) * dtype_size(t.dtype())) {
    saved_.resize(bytes_);
    std::memcpy(saved_.data(), t.raw_data(), bytes_);
  }
  ~DataBackup() { std::memcpy(t_.raw_data(), saved_.data(), bytes_); }
  DataBackup(const DataBackup&) = delete;
  DataBackup& operator=(const DataBackup&) = delete;

 private:
  Tensor t_;
  size_t bytes_;
  std::vector<unsigned char> saved_;
};

bool is_pointwise(OpKind k) {
  switch (k) {
    case OpKind::add:
    case OpKind::sub:
    case OpKind::mul:
    case OpKind::div:
    case OpKind::pow:
    case OpKind::maximum:
    case OpKind::minimum:
    case OpKind::where:
    case OpKind::add_scalar:
    case OpKind::mul_scalar:
    case OpKind::pow_scalar:
    case OpKind::neg:
    case OpKind::exp:
    case OpKind::log:
    case OpKind::sqrt:
    case OpKind::abs:
    case OpKind::square:
    case OpKind::reciprocal:
    case OpKind::clamp:
    case OpKind::sigmoid:
    case OpKind::tanh:
    case OpKind::relu:
    case OpKind::leaky_relu:
    case OpKind::softplus:
    case OpKind::sigmoid_backward:
    case OpKind::tanh_backward:
    case OpKind::broadcast_to:
    case OpKind::cast:
      return true;
    default:
      return false;
  }
}

std::vector<int64_t> axes_of(const Attrs& a, int rank) {
  std::vector<int64_t> axes;
  const auto mask = static_cast<uint32_t>(a.ints[0]);
  for (int i = 0; i < rank; ++i) {
    if ((mask >> i) & 1u) axes.push_back(i);
  }
  return axes;
}

std::span<const int64_t> indices_of(const RefPtr<Storage>& s) {
  if (!s) return {};
  return {static_cast<const int64_t*>(s->data()), s->nbytes() / sizeof(int64_t)};
}

// Calls each(output index) for every entry of the output (shape `so`) that reads
// entry `index` of an operand of shape `si` broadcast to `so`.
template <typename Each>
void broadcast_image(int64_t index, const Shape& si, const Shape& so, Each each) {
  if (si == so) {
    each(index);
    return;
  }
  const int offset = so.rank() - si.rank();
  const auto in_strides = si.strides();
  const auto out_strides = so.strides();
  int64_t base = 0;
  std::array<int, Shape::kMaxDims> free_axes{};
  int n_free = 0;
  for (int d = 0; d < so.rank(); ++d) {
    const int di = d - offset;
    const int64_t extent_in = di >= 0 ? si[di] : 1;
    if (extent_in == 1 && so[d] != 1) {
      free_axes[static_cast<size_t>(n_free++)] = d;
    } else if (di >= 0) {  // a leading axis the input lacks has coordinate 0
      const int64_t coord = (index / in_strides[static_cast<size_t>(di)]) % extent_in;
      base += coord * out_strides[static_cast<size_t>(d)];
    }
  }
  std::array<int64_t, Shape::kMaxDims> counter{};
  for (;;) {
    int64_t o = base;
    for (int f = 0; f < n_free; ++f) {
      o += counter[static_cast<size_t>(f)] *
           out_strides[static_cast<size_t>(free_axes[static_cast<size_t>(f)])];
    }
    each(o);
    int f = n_free - 1;
    for (; f >= 0; --f) {
      const auto fu = static_cast<size_t>(f);
      if (++counter[fu] < so[free_axes[fu]]) break;
      counter[fu] = 0;
    }
    if (f < 0) return;
  }
}

// The entry of an operand of shape `si` that output entry `o` (shape `so`) reads.
int64_t broadcast_source(int64_t o, const Shape& si, const Shape& so) {
  if (si == so) return o;
  if (si.numel() == 1) return 0;
  const auto bs = kernels::broadcast_strides(si, so);
  const auto out_strides = so.strides();
  int64_t index = 0;
  for (int d = 0; d < so.rank(); ++d) {
    const auto du = static_cast<size_t>(d);
    index += (o / out_strides[du]) % so[d] * bs[du];
  }
  return index;
}

}  // namespace

// ---- DirectEvaluator ----

DirectEvaluator::DirectEvaluator(const CheckedFunction& f, const std::vector<Tensor>& args,
                                 const std::vector<Tensor>& outputs)
    : f_(f), args_(args) {
  for (const Tensor& o : outputs) shapes_.push_back(o.shape());
}

void DirectEvaluator::evaluate(Values& out) {
  // Grad mode stays on, as at the check point: a function may itself call grad().
  GradModeGuard grad_on(true);
  const std::vector<Tensor> outs = f_(args_);
  check_outputs(outs, shapes_);
  flatten_into(outs, out);
}

void DirectEvaluator::entry(size_t input, int64_t index, double value, Values& out) {
  const Tensor& x = args_[input];
  const double old = get_value(x, index);
  set_value(x, index, value);
  try {
    evaluate(out);
  } catch (...) {
    set_value(x, index, old);
    throw;
  }
  set_value(x, index, old);
}

void DirectEvaluator::dense(const std::vector<Tensor>& replacements, Values& out) {
  // Written in place, so that a function reaching its inputs through a closure sees them.
  std::vector<std::unique_ptr<DataBackup>> backups;
  for (size_t i = 0; i < replacements.size(); ++i) {
    if (!replacements[i].defined()) continue;
    backups.push_back(std::make_unique<DataBackup>(args_[i]));
    copy_values(args_[i], replacements[i]);
  }
  evaluate(out);
}

// ---- Replay: recording ----

Replay::Replay(const std::vector<Tensor>& args, const std::vector<bool>& checked)
    : checked_(checked) {
  for (size_t i = 0; i < args.size(); ++i) {
    const auto it = ids_.find(args[i].impl());
    leaf_.push_back(it != ids_.end() ? it->second : add_value(args[i], checked[i]));
  }
}

Replay::~Replay() {
  if (observing_) op_observer() = previous_;
}

void Replay::start() {
  previous_ = op_observer();
  op_observer() = this;
  observing_ = true;
}

void Replay::abort() {
  if (observing_) op_observer() = previous_;
  observing_ = false;
}

int Replay::add_value(const Tensor& t, bool varies) {
  Value v;
  v.base = t;
  v.cur = t;
  v.varies = varies;
  values_.push_back(std::move(v));
  const int id = static_cast<int>(values_.size() - 1);
  ids_[t.impl()] = id;
  if (varies) varying_storage_.insert(t.impl()->storage.get());
  return id;
}

int Replay::value_of(const Tensor& t) {
  const auto it = ids_.find(t.impl());
  return it != ids_.end() ? it->second : add_value(t, false);
}

bool Replay::is_varying(const Tensor& t) const {
  if (!t.defined()) return false;
  const auto it = ids_.find(t.impl());
  if (it != ids_.end()) return values_[static_cast<size_t>(it->second)].varies;
  return varying_storage_.count(t.impl()->storage.get()) > 0;
}

void Replay::invalidate(std::string reason) {
  if (!usable_) return;
  usable_ = false;
  reason_ = std::move(reason);
}

void Replay::on_untracked_read(const char* what, const Tensor& t) {
  if (is_varying(t)) {
    invalidate(fmt::format(
        "the function reads values that depend on the inputs ({} of a {} tensor), so its "
        "control flow or masks may depend on them",
        what, t.shape()));
  }
}

void Replay::on_op(OpKind op, std::span<const Tensor* const> inputs, const Tensor& out,
                   int32_t node) {
  bool varies = false, alias = false;
  for (const Tensor* t : inputs) {
    if (!t->defined() || !is_varying(*t)) continue;
    varies = true;
    alias = alias || ids_.count(t->impl()) == 0;
  }
  if (node < 0) {
    if (varies) {
      invalidate(fmt::format(
          "'{}' ran on a value that depends on the inputs without being recorded (grad mode "
          "off inside the function, or a detached alias)",
          op_name(op)));
    }
    return;
  }
  if (alias) {
    invalidate(
        fmt::format("'{}' used a detached alias (detach()) of a value that depends on the inputs",
                    op_name(op)));
  }
  Op o;
  o.kind = op;
  o.node = node;
  for (const Tensor* t : inputs) o.in.push_back(t->defined() ? value_of(*t) : -1);
  if (ids_.count(out.impl())) {
    invalidate(fmt::format("'{}' returned one of its inputs", op_name(op)));
    return;
  }
  o.out = add_value(out, varies);
  ops_.push_back(std::move(o));
}

void Replay::finish(const std::vector<Tensor>& outputs) {
  abort();
  for (const Tensor& t : outputs) {
    if (!ids_.count(t.impl()) && is_varying(t)) {
      invalidate("an output is a detached alias (detach()) of a value that depends on the inputs");
    }
    outputs_.push_back(value_of(t));
  }
  const Tape& tape = Tape::current();
  for (Op& op : ops_) {
    const Node& n = tape.node(op.node);
    op.attrs = n.attrs;
    op.aux = n.aux;
    if (op.kind == OpKind::where) {
      const Tensor& mask = n.saved[0].tensor;
      if (is_varying(mask)) invalidate("the mask of 'where' depends on the inputs");
      op.mask = value_of(mask);
    }
  }
  // Ops that an output needs, and per input the needed ops it reaches.
  std::vector<bool> needed(values_.size(), false);
  for (int id : outputs_) needed[static_cast<size_t>(id)] = true;
  for (size_t k = ops_.size(); k-- > 0;) {
    Op& op = ops_[k];
    op.needed = needed[static_cast<size_t>(op.out)];
    if (!op.needed) continue;
    for (int id : operands(op)) {
      if (id >= 0) needed[static_cast<size_t>(id)] = true;
    }
  }
  downstream_.assign(leaf_.size(), {});
  for (size_t i = 0; i < leaf_.size(); ++i) {
    std::vector<bool> reached(values_.size(), false);
    reached[static_cast<size_t>(leaf_[i])] = true;
    for (size_t k = 0; k < ops_.size(); ++k) {
      const Op& op = ops_[k];
      bool hit = false;
      for (int id : operands(op)) hit = hit || (id >= 0 && reached[static_cast<size_t>(id)]);
      if (!hit) continue;
      reached[static_cast<size_t>(op.out)] = true;
      if (op.needed) downstream_[i].push_back(static_cast<int>(k));
    }
  }
  for (size_t k = 0; k < ops_.size(); ++k) {
    if (ops_[k].needed) all_needed_.push_back(static_cast<int>(k));
  }
}

bool Replay::reaches_output(size_t input) const {
  const int id = leaf_[input];
  if (std::find(outputs_.begin(), outputs_.end(), id) != outputs_.end()) return true;
  return !downstream_[input].empty();
}

std::vector<int> Replay::operands(const Op& op) const {
  std::vector<int> ids = op.in;
  if (op.mask >= 0) ids.push_back(op.mask);
  return ids;
}

// ---- Replay: evaluation ----

void Replay::touch(int id, State state) {
  values_[static_cast<size_t>(id)].state = state;
  touched_.push_back(id);
}

void Replay::restore() {
  for (auto it = touched_.rbegin(); it != touched_.rend(); ++it) {
    Value& v = values_[static_cast<size_t>(*it)];
    for (auto p = v.patch.rbegin(); p != v.patch.rend(); ++p) set_value(v.base, p->index, p->old);
    v.patch.clear();
    v.cur = v.base;
    v.state = State::clean;
  }
  touched_.clear();
}

void Replay::read_outputs(Values& out) const {
  out.clear();
  std::vector<Tensor> tensors;
  tensors.reserve(outputs_.size());
  for (int id : outputs_) tensors.push_back(values_[static_cast<size_t>(id)].cur);
  flatten_into(tensors, out);
}

void Replay::run(const std::vector<int>& ops) {
  NoGradGuard no_grad;
  for (int k : ops) {
    const Op& op = ops_[static_cast<size_t>(k)];
    bool any = false;
    for (int id : operands(op)) any = any || dirty(id);
    if (any) apply(op);
  }
}

void Replay::entry(size_t input, int64_t index, double value, Values& out) {
  const int id = leaf_[input];
  Value& leaf = values_[static_cast<size_t>(id)];
  leaf.patch.push_back({index, get_value(leaf.base, index)});
  set_value(leaf.base, index, value);
  touch(id, State::sparse);
  try {
    run(downstream_[input]);
    read_outputs(out);
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

void Replay::dense(const std::vector<Tensor>& replacements, Values& out) {
  for (size_t i = 0; i < replacements.size(); ++i) {
    if (!replacements[i].defined()) continue;
    const int id = leaf_[i];
    Value& leaf = values_[static_cast<size_t>(id)];
    if (leaf.state != State::clean) continue;  // the same tensor passed twice
    Tensor x = Tensor::empty(leaf.base.shape(), leaf.base.dtype());
    copy_values(x, replacements[i]);
    leaf.cur = x;
    touch(id, State::full);
  }
  try {
    run(all_needed_);
    read_outputs(out);
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

void Replay::apply(const Op& op) {
  if (op.kind == OpKind::reshape) return apply_alias(op);
  if (op.kind == OpKind::matmul && apply_matmul(op)) return;
  if ((op.kind == OpKind::sum || op.kind == OpKind::mean) && apply_sum(op)) return;
  if (is_pointwise(op.kind) && apply_pointwise(op)) return;
  apply_full(op);
}

void Replay::apply_full(const Op& op) {
  std::vector<Tensor> args;
  for (int id : operands(op))
    args.push_back(id >= 0 ? values_[static_cast<size_t>(id)].cur : Tensor());
  Value& out = values_[static_cast<size_t>(op.out)];
  Tensor r = compute(op, args, false);
  if (!(r.shape() == out.base.shape()) || r.dtype() != out.base.dtype()) {
    fail("gradcheck replay: '{}' gave {} {} instead of {} {}", op_name(op.kind), r.shape(),
         r.dtype(), out.base.shape(), out.base.dtype());
  }
  out.cur = r;
  touch(op.out, State::full);
}

void Replay::apply_alias(const Op& op) {
  const Value& in = values_[static_cast<size_t>(op.in[0])];
  if (in.state != State::sparse) return apply_full(op);
  // The output shares the input's storage, so it already holds the patched values.
  values_[static_cast<size_t>(op.out)].patch = in.patch;
  touch(op.out, State::sparse);
}

void Replay::start_collecting() {
  if (++generation_ == 0) {
    for (Value& v : values_) std::fill(v.stamp.begin(), v.stamp.end(), 0u);
    generation_ = 1;
  }
  collected_.clear();
}

void Replay::write_increments(Value& v) {
  for (int64_t o : collected_) {
    double& acc = acc_[static_cast<size_t>(o)];
    write_fresh(v, o, get_value(v.base, o) + acc);
    acc = 0;
  }
}

bool Replay::collect(Value& v, int64_t index) {
  if (v.stamp.empty()) v.stamp.assign(static_cast<size_t>(v.base.numel()), 0);
  uint32_t& s = v.stamp[static_cast<size_t>(index)];
  if (s == generation_) return false;
  s = generation_;
  collected_.push_back(index);
  return true;
}

void Replay::write_fresh(Value& v, int64_t index, double value) {
  v.patch.push_back({index, get_value(v.base, index)});
  set_value(v.base, index, value);
}

bool Replay::apply_pointwise(const Op& op) {
  const std::vector<int> ids = operands(op);
  Value& out = values_[static_cast<size_t>(op.out)];
  const Shape& so = out.base.shape();
  const int64_t n = so.numel();
  for (int id : ids) {
    if (id >= 0 && values_[static_cast<size_t>(id)].state == State::full) return false;
  }
  start_collecting();
  for (int id : ids) {
    if (!dirty(id)) continue;
    const Value& in = values_[static_cast<size_t>(id)];
    for (const Patch& p : in.patch) {
      broadcast_image(p.index, in.base.shape(), so, [&](int64_t o) { collect(out, o); });
      if (2 * static_cast<int64_t>(collected_.size()) > n) return false;
    }
  }
  const auto m = static_cast<int64_t>(collected_.size());
  std::vector<Tensor> gathered;
  for (int id : ids) {
    const Value& in = values_[static_cast<size_t>(id)];
    Tensor g = Tensor::empty(Shape{m}, in.cur.dtype());
    const Shape& si = in.cur.shape();
    const bool same = si == so;
    for (int64_t t = 0; t < m; ++t) {
      const int64_t o = collected_[static_cast<size_t>(t)];
      set_value(g, t, get_value(in.cur, same ? o : broadcast_source(o, si, so)));
    }
    gathered.push_back(std::move(g));
  }
  const Tensor r = compute(op, gathered, true);
  for (int64_t t = 0; t < m; ++t)
    write_fresh(out, collected_[static_cast<size_t>(t)], get_value(r, t));
  touch(op.out, State::sparse);
  return true;
}

bool Replay::apply_matmul(const Op& op) {
  Value& a = values_[static_cast<size_t>(op.in[0])];
  Value& b = values_[static_cast<size_t>(op.in[1])];
  if (a.state == State::full || b.state == State::full) return false;
  if (a.state != State::clean && b.state != State::clean) return false;
  const bool ta = op.attrs.ints[0] != 0, tb = op.attrs.ints[1] != 0;
  const Shape& sa = a.base.shape();
  const Shape& sb = b.base.shape();
  const int ra = sa.rank(), rb = sb.rank();
  const int64_t m = ta ? sa[ra - 1] : sa[ra - 2];
  const int64_t k = ta ? sa[ra - 2] : sa[ra - 1];
  const int64_t n = tb ? sb[rb - 2] : sb[rb - 1];
  const int64_t batch = ra == 3 ? sa[0] : (rb == 3 ? sb[0] : 1);
  const bool a_dirty = a.state == State::sparse;
  const Value& d = a_dirty ? a : b;
  // A dense change is cheaper through the GEMM.
  const auto changes = static_cast<int64_t>(d.patch.size());
  if (changes * (a_dirty ? n : m) * 4 > batch * m * n * k) return false;

  Value& out = values_[static_cast<size_t>(op.out)];
  const int64_t total = out.base.numel();
  if (static_cast<int64_t>(acc_.size()) < total) acc_.resize(static_cast<size_t>(total), 0.0);
  start_collecting();
  auto add = [&](int64_t o, double v) {
    collect(out, o);
    acc_[static_cast<size_t>(o)] += v;
  };
  // Logical A[bi, i, p] and B[bi, p, j] from the stored layouts.
  auto a_at = [&](int64_t bi, int64_t i, int64_t p) {
    const int64_t off = ra == 3 ? bi * m * k : 0;
    return get_value(a.base, off + (ta ? p * m + i : i * k + p));
  };
  auto b_at = [&](int64_t bi, int64_t p, int64_t j) {
    const int64_t off = rb == 3 ? bi * k * n : 0;
    return get_value(b.base, off + (tb ? j * k + p : p * n + j));
  };
  const Shape& sd = d.base.shape();
  const int rd = sd.rank();
  const int64_t rows = sd[rd - 2], cols = sd[rd - 1];
  for (const Patch& p : d.patch) {
    const double delta = get_value(d.base, p.index) - p.old;
    if (delta == 0) continue;
    const int64_t within = p.index % (rows * cols);
    const int64_t r = within / cols, c = within % cols;
    const int64_t b_first = rd == 3 ? p.index / (rows * cols) : 0;
    const int64_t b_last = rd == 3 ? b_first + 1 : batch;
    for (int64_t bi = b_first; bi < b_last; ++bi) {
      if (a_dirty) {
        const int64_t i = ta ? c : r, q = ta ? r : c;
        for (int64_t j = 0; j < n; ++j) add((bi * m + i) * n + j, delta * b_at(bi, q, j));
      } else {
        const int64_t q = tb ? c : r, j = tb ? r : c;
        for (int64_t i = 0; i < m; ++i) add((bi * m + i) * n + j, delta * a_at(bi, i, q));
      }
    }
  }
  write_increments(out);
  touch(op.out, State::sparse);
  return true;
}

bool Replay::apply_sum(const Op& op) {
  const Value& in = values_[static_cast<size_t>(op.in[0])];
  if (in.state != State::sparse) return false;
  const Shape& si = in.base.shape();
  if (4 * static_cast<int64_t>(in.patch.size()) > si.numel()) return false;
  Value& out = values_[static_cast<size_t>(op.out)];
  const int64_t total = out.base.numel();
  if (static_cast<int64_t>(acc_.size()) < total) acc_.resize(static_cast<size_t>(total), 0.0);
  // The output index of an input entry: its coordinates along the kept axes.
  const auto mask = static_cast<uint32_t>(op.attrs.ints[0]);
  const auto strides = si.strides();
  int64_t count = 1;
  for (int d = 0; d < si.rank(); ++d) count *= (mask >> d) & 1u ? si[d] : 1;
  const double scale = op.kind == OpKind::mean ? 1.0 / static_cast<double>(count) : 1.0;
  start_collecting();
  for (const Patch& p : in.patch) {
    int64_t o = 0;
    for (int d = 0; d < si.rank(); ++d) {
      if ((mask >> d) & 1u) continue;
      o = o * si[d] + (p.index / strides[static_cast<size_t>(d)]) % si[d];
    }
    collect(out, o);
    acc_[static_cast<size_t>(o)] += (get_value(in.base, p.index) - p.old) * scale;
  }
  write_increments(out);
  touch(op.out, State::sparse);
  return true;
}

// Runs the recorded op on `args` (its operands, the where-mask last). With
// `gathered`, the operands are 1-D gathers of a pointwise op's entries.
Tensor Replay::compute(const Op& op, const std::vector<Tensor>& x, bool gathered) const {
  const Attrs& a = op.attrs;
  const Tensor& out = values_[static_cast<size_t>(op.out)].base;
  switch (op.kind) {
    case OpKind::add:
      return add(x[0], x[1]);
    case OpKind::sub:
      return sub(x[0], x[1]);
    case OpKind::mul:
      return mul(x[0], x[1]);
    case OpKind::div:
      return div(x[0], x[1]);
    case OpKind::pow:
      return pow(x[0], x[1]);
    case OpKind::maximum:
      return maximum(x[0], x[1]);
    case OpKind::minimum:
      return minimum(x[0], x[1]);
    case OpKind::where:
      return where(x[2], x[0], x[1]);
    case OpKind::add_scalar:
      return add(x[0], a.scalar[0]);
    case OpKind::mul_scalar:
      return mul(x[0], a.scalar[0]);
    case OpKind::pow_scalar:
      return pow(x[0], a.scalar[0]);
    case OpKind::neg:
      return neg(x[0]);
    case OpKind::exp:
      return exp(x[0]);
    case OpKind::log:
      return log(x[0]);
    case OpKind::sqrt:
      return sqrt(x[0]);
    case OpKind::abs:
      return abs(x[0]);
    case OpKind::square:
      return square(x[0]);
    case OpKind::reciprocal:
      return reciprocal(x[0]);
    case OpKind::clamp:
      return clamp(x[0], a.scalar[0], a.scalar[1]);
    case OpKind::sigmoid:
      return sigmoid(x[0]);
    case OpKind::tanh:
      return tanh(x[0]);
    case OpKind::relu:
      return relu(x[0]);
    case OpKind::leaky_relu:
      return leaky_relu(x[0], a.scalar[0]);
    case OpKind::softplus:
      return softplus(x[0]);
    case OpKind::sigmoid_backward:
      return sigmoid_backward(x[0], x[1]);
    case OpKind::tanh_backward:
      return tanh_backward(x[0], x[1]);
    case OpKind::broadcast_to:
      return gathered ? cast(x[0], out.dtype()) : broadcast_to(x[0], out.shape());
    case OpKind::cast:
      return cast(x[0], out.dtype());
    case OpKind::sum:
      return sum(x[0], axes_of(a, x[0].dim()), a.flag);
    case OpKind::mean:
      return mean(x[0], axes_of(a, x[0].dim()), a.flag);
    case OpKind::max:
      return max(x[0], axes_of(a, x[0].dim()), a.flag);
    case OpKind::logsumexp:
      return logsumexp(x[0], axes_of(a, x[0].dim()), a.flag);
    case OpKind::matmul:
      return matmul(x[0], x[1], a.ints[0] != 0, a.ints[1] != 0);
    case OpKind::permute:
      return permute(x[0], a.shape.to_vector());
    case OpKind::reshape:
      return reshape(x[0], out.shape().to_vector());
    case OpKind::narrow:
      return narrow(x[0], a.ints[0], a.ints[1], a.ints[2]);
    case OpKind::narrow_backward:
      return narrow_backward(x[0], out.shape(), a.ints[0], a.ints[1]);
    case OpKind::index_select:
      return index_select(x[0], a.ints[0], indices_of(op.aux));
    case OpKind::index_select_backward:
      return index_select_backward(x[0], out.shape(), a.ints[0], indices_of(op.aux));
    case OpKind::concat:
      return concat(std::span<const Tensor>(x), a.ints[0]);
    case OpKind::softmax:
      return softmax(x[0], a.ints[0]);
    case OpKind::log_softmax:
      return log_softmax(x[0], a.ints[0]);
    case OpKind::cross_entropy:
      return cross_entropy(x[0], indices_of(op.aux));
    case OpKind::leaf:
      break;
  }
  fail("gradcheck replay: op '{}' cannot be replayed", op_name(op.kind));
}

}  // namespace tapegrad::gradcheck_detail
