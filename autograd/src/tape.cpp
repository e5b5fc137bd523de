// The tape and the backward engine: recording, node lifetime, and the single
// reverse loop that runs each node's backward rule.
#include "tape.hpp"

#include <algorithm>
#include <limits>

#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

namespace {
thread_local bool grad_enabled = true;
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

Tape::~Tape() {
  // Tensors still alive after the thread ends must not call back into this tape.
  destroying_ = true;
  nodes_.clear();
}

int32_t Tape::leaf_node_for(TensorImpl* impl) {
  const auto index = impl->node;
  if (impl->tape == this && index >= 0 && static_cast<size_t>(index) < nodes_.size()) {
    const Node& n = nodes_[static_cast<size_t>(index)];
    if (n.serial == impl->node_serial && !n.dead) return index;
  }
  Node& n = nodes_.emplace_back();
  n.op = OpKind::leaf;
  n.serial = next_serial_++;
  n.edge_begin = static_cast<uint32_t>(edges_.size());
  impl->retain();
  n.leaf = Tensor(RefPtr<TensorImpl>::adopt(impl));
  impl->node = static_cast<int32_t>(nodes_.size() - 1);
  impl->node_serial = n.serial;
  impl->tape = this;
  return impl->node;
}

OpObserver*& op_observer() {
  thread_local OpObserver* observer = nullptr;
  return observer;
}

Node* Tape::record_node(OpKind op, std::span<const Tensor* const> inputs, Tensor& out) {
  if (!grad_enabled) return nullptr;
  bool any = false;
  for (const Tensor* t : inputs) any = any || (t->defined() && t->requires_grad());
  if (!any) return nullptr;
  // A graph kept alive across iterations (say a loss tensor held until the next
  // one replaces it) strands the dead nodes of the iteration before below it, and
  // the tape would grow by a graph per iteration. Compacting once the dead
  // outnumber the live keeps it at the size of the live graphs, in amortised O(1).
  // Here, before a node is added, no Node pointer handed out is still in use.
  constexpr size_t kMinDeadToCompact = 64;
  if (dead_nodes_ >= kMinDeadToCompact && 2 * dead_nodes_ > nodes_.size() && backward_depth_ == 0 &&
      alias_owners_ == 0 && op_observer() == nullptr) {
    compact();
  }

  // Leaf nodes first, so that this op's edges stay contiguous.
  std::array<int32_t, 3> small_sources{};
  std::vector<int32_t> many_sources;
  int32_t* sources = small_sources.data();
  if (inputs.size() > small_sources.size()) {
    many_sources.resize(inputs.size());
    sources = many_sources.data();
  }
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = *inputs[k];
    sources[k] = Edge::kNone;
    if (!t.defined() || !t.requires_grad()) continue;
    TensorImpl* impl = t.impl();
    sources[k] = impl->owns_node ? impl->node : leaf_node_for(impl);
  }
  const auto edge_begin = static_cast<uint32_t>(edges_.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    Edge& e = edges_.emplace_back();
    e.node = sources[k];
    if (inputs[k]->defined()) {
      e.shape = inputs[k]->shape();
      e.dtype = inputs[k]->dtype();
    }
    if (e.node >= 0) ref(e.node);
  }
  Node& n = nodes_.emplace_back();
  n.op = op;
  n.serial = next_serial_++;
  n.edge_begin = edge_begin;
  n.n_edges = static_cast<uint32_t>(inputs.size());
  n.refs = 1;  // held by the output tensor
  ++recorded_;

  TensorImpl* o = out.impl();
  n.output = o;
  o->requires_grad = true;
  o->owns_node = true;
  o->node = static_cast<int32_t>(nodes_.size() - 1);
  o->node_serial = n.serial;
  o->tape = this;
  return &n;
}

void Tape::unref(int32_t index) {
  if (destroying_) return;
  pending_unref_.push_back(index);
  if (draining_) return;
  // Releasing a node releases tensors that may release further nodes: a deep
  // chain is unwound here in a loop, never by recursion.
  draining_ = true;
  while (!pending_unref_.empty()) {
    const int32_t i = pending_unref_.back();
    pending_unref_.pop_back();
    Node& n = nodes_[static_cast<size_t>(i)];
    if (--n.refs > 0) continue;
    n.dead = true;
    ++dead_nodes_;
    for (uint32_t k = 0; k < n.n_edges; ++k) {
      const int32_t source = edges_[n.edge_begin + k].node;
      if (source >= 0) pending_unref_.push_back(source);
    }
    for (SavedTensor& s : n.saved) s.tensor = Tensor();
    n.aux.reset();
    n.grad = Tensor();
    n.leaf = Tensor();
  }
  draining_ = false;
  if (backward_depth_ == 0) truncate_dead_tail();
}

void Tape::release_owner(int32_t index, const TensorImpl* impl) {
  if (destroying_) return;
  Node& n = nodes_[static_cast<size_t>(index)];
  if (n.output == impl) {
    n.output = nullptr;
  } else {
    --alias_owners_;
  }
  unref(index);
}

void Tape::truncate_dead_tail() {
  while (!nodes_.empty() && nodes_.back().dead) {
    nodes_.pop_back();
    --dead_nodes_;
  }
  edges_.resize(nodes_.empty() ? 0 : nodes_.back().edge_begin + nodes_.back().n_edges);
}

void Tape::compact() {
  renumbered_.assign(nodes_.size(), Edge::kNone);
  size_t live = 0;
  uint32_t live_edges = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    if (n.dead) continue;
    const auto index = static_cast<int32_t>(live);
    renumbered_[i] = index;
    // Edges point to earlier nodes, which are live (an edge holds a reference)
    // and already renumbered; they only ever move down.
    for (uint32_t k = 0; k < n.n_edges; ++k) {
      Edge& e = edges_[n.edge_begin + k];
      if (e.node >= 0) e.node = renumbered_[static_cast<size_t>(e.node)];
      if (live_edges + k != n.edge_begin + k) edges_[live_edges + k] = std::move(e);
    }
    n.edge_begin = live_edges;
    live_edges += n.n_edges;
    if (n.output) n.output->node = index;
    if (n.op == OpKind::leaf && n.leaf.defined()) n.leaf.impl()->node = index;
    if (live != i) nodes_[live] = std::move(n);
    ++live;
  }
  nodes_.resize(live);
  edges_.resize(live_edges);
  dead_nodes_ = 0;
}

void save_input(Node* node, int slot, const Tensor& t) {
  node->saved[static_cast<size_t>(slot)] = {t, t.version(), false};
}

void save_output(Node* node, int slot, const Tensor& out) {
  node->saved[static_cast<size_t>(slot)] = {out.detach(), out.version(), true};
}

BackwardContext::BackwardContext(int32_t index, const Node& node, std::span<const Edge> edges,
                                 std::span<Tensor> input_grads, bool create_graph)
    : index_(index),
      op_(node.op),
      saved_(node.saved),
      aux_(node.aux),
      attrs_(node.attrs),
      edges_(edges),
      input_grads_(input_grads),
      create_graph_(create_graph) {}

Tensor BackwardContext::saved(int slot) const {
  const SavedTensor& s = saved_[static_cast<size_t>(slot)];
  if (!s.tensor.defined()) fail("backward of '{}': saved tensor {} is missing", op_name(op_), slot);
  if (s.tensor.version() != s.version) {
    fail(
        "backward of '{}': saved tensor {} (shape {}) was modified in place after it was "
        "saved: it is now at version {}, it was saved at version {}",
        op_name(op_), slot, s.tensor.shape(), s.tensor.version(), s.version);
  }
  if (!s.is_output || !create_graph_) return s.tensor;
  // The backward pass is being recorded: the op's output must lead back to this node.
  Tape& tape = Tape::current();
  Tensor attached = s.tensor.detach();
  TensorImpl* impl = attached.impl();
  impl->requires_grad = true;
  impl->owns_node = true;
  impl->node = index_;
  impl->tape = &tape;
  tape.add_alias_owner(index_);
  return attached;
}

void BackwardContext::set_grad(int input, Tensor g) {
  if (needs_grad(input)) input_grads_[static_cast<size_t>(input)] = std::move(g);
}

void Tape::accumulate(int32_t index, Tensor g, bool create_graph) {
  Node& n = nodes_[static_cast<size_t>(index)];
  if (!n.grad.defined()) {
    n.grad = std::move(g);
  } else if (!create_graph && n.grad.use_count() == 1 && n.grad.impl()->storage->use_count() == 1) {
    n.grad.add_(g);  // sole owner: accumulate in place
  } else {
    // add() may record a node and so move nodes_: neither `n` nor a reference into
    // it may be used across the call.
    const Tensor current = n.grad;
    Tensor total = add(current, g);
    nodes_[static_cast<size_t>(index)].grad = std::move(total);
  }
}

namespace {
void accumulate_into_leaf(TensorImpl* leaf, Tensor g, bool create_graph) {
  if (!(g.shape() == leaf->shape)) {
    fail("backward: gradient of shape {} does not match its variable's shape {}", g.shape(),
         leaf->shape);
  }
  if (!leaf->grad.defined()) {
    const bool exclusive = g.use_count() == 1 && g.impl()->storage->use_count() == 1;
    leaf->grad = (create_graph || exclusive) ? std::move(g) : g.detach().clone();
  } else if (create_graph) {
    leaf->grad = add(leaf->grad, g);
  } else {
    leaf->grad.add_(g);
  }
}
}  // namespace

std::vector<Tensor> Tape::run_backward(std::span<const Tensor> outputs,
                                       std::span<const Tensor> grad_outputs,
                                       std::span<const Tensor> inputs, bool accumulate_leaves,
                                       const GradOptions& options) {
  const char* who = accumulate_leaves ? "backward" : "grad";
  if (outputs.empty()) fail("{}: no outputs given", who);
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size()) {
    fail("{}: {} outputs but {} grad_outputs", who, outputs.size(), grad_outputs.size());
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& o = outputs[k];
    if (!o.defined()) fail("{}: output {} is an undefined tensor", who, k);
    if (!o.requires_grad()) {
      fail(
          "{}: output {} (shape {}) does not require grad: no input of it requires grad, or it "
          "was computed under NoGradGuard",
          who, k, o.shape());
    }
    if (grad_outputs.empty()) {
      if (o.numel() != 1) {
        fail("{}: output {} has shape {}; a grad_output is required for a non-scalar output", who,
             k, o.shape());
      }
    } else {
      const Tensor& g = grad_outputs[k];
      if (!g.defined() || !(g.shape() == o.shape()) || g.dtype() != o.dtype()) {
        fail("{}: grad_output {} must have the output's shape {} and dtype {}, got {} {}", who, k,
             o.shape(), o.dtype(), g.defined() ? g.shape().str() : "undefined",
             g.defined() ? dtype_name(g.dtype()) : "");
      }
    }
  }

  // Where each requested input sits on the tape (-1: not in this graph).
  std::vector<int32_t> input_nodes(inputs.size(), -1);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) {
      fail("grad: input {} does not require grad (call requires_grad_() on it first)", k);
    }
    TensorImpl* impl = x.impl();
    if (impl->owns_node) {
      input_nodes[k] = impl->node;
    } else if (impl->tape == this && impl->node >= 0 &&
               static_cast<size_t>(impl->node) < nodes_.size() &&
               nodes_[static_cast<size_t>(impl->node)].serial == impl->node_serial &&
               !nodes_[static_cast<size_t>(impl->node)].dead) {
      input_nodes[k] = impl->node;
    }
  }

  struct DepthGuard {
    Tape& tape;
    explicit DepthGuard(Tape& t) : tape(t) { ++tape.backward_depth_; }
    ~DepthGuard() {
      if (--tape.backward_depth_ == 0) tape.truncate_dead_tail();
    }
  } depth_guard(*this);
  GradModeGuard mode(options.create_graph);

  // A pass that throws part way must not leave gradients on nodes that it had not
  // reached yet: a later pass through them would add them in.
  // Gradients can only be pending on nodes in [lowest, hi]: the seeded roots and
  // the nodes a rule has sent a gradient to. The loop and this cleanup visit only
  // that range, so a pass costs the size of its graph, not of the whole tape.
  int32_t hi = -1;
  int32_t lowest = std::numeric_limits<int32_t>::max();
  struct PendingGradGuard {
    Tape& tape;
    const int32_t& lowest;
    const int32_t& hi;
    ~PendingGradGuard() {
      for (int32_t i = std::max(lowest, 0); i <= hi && static_cast<size_t>(i) < tape.nodes_.size();
           ++i) {
        tape.nodes_[static_cast<size_t>(i)].grad = Tensor();
      }
    }
  } pending_grads{*this, lowest, hi};

  std::vector<Tensor> results(inputs.size());
  auto add_result = [&](size_t k, const Tensor& g) {
    results[k] = results[k].defined() ? add(results[k], g) : g;
  };

  // Seed the roots. An output that is itself a leaf variable is handled directly.
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& o = outputs[k];
    Tensor seed = grad_outputs.empty() ? ones_like(o) : grad_outputs[k];
    if (o.impl()->owns_node) {
      hi = std::max(hi, o.impl()->node);
      lowest = std::min(lowest, o.impl()->node);
      accumulate(o.impl()->node, std::move(seed), options.create_graph);
    } else if (accumulate_leaves) {
      accumulate_into_leaf(o.impl(), std::move(seed), options.create_graph);
    } else {
      for (size_t j = 0; j < inputs.size(); ++j) {
        if (inputs[j].impl() == o.impl()) add_result(j, seed);
      }
    }
  }

  // Without inputs every node counts; with inputs only those on a path to one.
  int32_t lo = 0;
  if (!accumulate_leaves) {
    lo = hi + 1;
    for (int32_t idx : input_nodes) {
      if (idx >= 0) lo = std::min(lo, idx);
    }
    for (int32_t i = lo; i <= hi; ++i) nodes_[static_cast<size_t>(i)].needed = false;
    for (int32_t idx : input_nodes) {
      if (idx >= 0) nodes_[static_cast<size_t>(idx)].needed = true;
    }
    for (int32_t i = lo; i <= hi; ++i) {
      Node& n = nodes_[static_cast<size_t>(i)];
      for (uint32_t k = 0; k < n.n_edges && !n.needed; ++k) {
        const int32_t source = edges_[n.edge_begin + k].node;
        n.needed = source >= lo && nodes_[static_cast<size_t>(source)].needed;
      }
    }
  }

  size_t visited = 0;
  for (int32_t i = hi; i >= 0 && i >= lowest; --i) {
    if (i < lo) {
      // Below the lowest input nothing is needed; drop gradients that arrived there.
      nodes_[static_cast<size_t>(i)].grad = Tensor();
      continue;
    }
    Tensor g;
    {
      Node& pending = nodes_[static_cast<size_t>(i)];
      if (!pending.grad.defined()) continue;
      g = std::move(pending.grad);
      pending.grad = Tensor();
      if (!accumulate_leaves && !pending.needed) continue;
    }
    if (!accumulate_leaves) {
      for (size_t k = 0; k < inputs.size(); ++k) {
        if (input_nodes[k] == i) add_result(k, g);  // may record, moving nodes_
      }
    }
    Node& node = nodes_[static_cast<size_t>(i)];
    if (node.op == OpKind::leaf) {
      if (accumulate_leaves)
        accumulate_into_leaf(node.leaf.impl(), std::move(g), options.create_graph);
      continue;
    }
    if (node.released) {
      fail(
          "{}: the graph behind op '{}' was freed by an earlier backward; pass "
          "retain_graph=true to the first backward to run backward through it again",
          who, op_name(node.op));
    }

    edge_scratch_.assign(edges_.begin() + node.edge_begin,
                         edges_.begin() + node.edge_begin + node.n_edges);
    if (!accumulate_leaves) {
      for (Edge& e : edge_scratch_) {
        // Below lo the needed flags are stale (left by an earlier pass): nothing there is.
        if (e.node >= 0 && (e.node < lo || !nodes_[static_cast<size_t>(e.node)].needed)) {
          e.node = Edge::kNone;
        }
      }
    }
    const bool any_needed = std::any_of(edge_scratch_.begin(), edge_scratch_.end(),
                                        [](const Edge& e) { return e.node >= 0; });
    if (!any_needed) continue;
    grad_scratch_.clear();
    grad_scratch_.resize(edge_scratch_.size());
    const OpKind op = node.op;
    {
      BackwardContext ctx(i, node, edge_scratch_, grad_scratch_, options.create_graph);
      // `node` may move from here on: a recorded backward appends to the tape.
      ctx.set_grad_output(std::move(g));
      backward_rule(op)(ctx);
    }
    ++visited;
    for (size_t k = 0; k < edge_scratch_.size(); ++k) {
      Tensor& gk = grad_scratch_[k];
      const Edge& e = edge_scratch_[k];
      if (e.node < 0 || !gk.defined()) continue;
      if (!(gk.shape() == e.shape)) gk = sum_to(gk, e.shape);
      if (gk.dtype() != e.dtype) {
        fail("backward of '{}': gradient for input {} has dtype {} but the input has {}",
             op_name(op), k, gk.dtype(), e.dtype);
      }
      lowest = std::min(lowest, e.node);
      accumulate(e.node, std::move(gk), options.create_graph);
    }
    grad_scratch_.clear();
    // As in PyTorch, a recorded backward keeps the graph: the recorded nodes point into it.
    if (!options.retain_graph && !options.create_graph) {
      Node& done = nodes_[static_cast<size_t>(i)];
      for (SavedTensor& s : done.saved) s.tensor = Tensor();
      done.aux.reset();
      done.released = true;
    }
  }
  last_visited_ = visited;

  for (size_t k = 0; k < inputs.size(); ++k) {
    if (results[k].defined()) continue;
    if (!options.allow_unused) {
      fail("grad: input {} (shape {}) is not used by the outputs (set allow_unused to get zeros)",
           k, inputs[k].shape());
    }
    results[k] = zeros_like(inputs[k]);
  }
  return results;
}

TapeStats Tape::stats() const {
  TapeStats s;
  s.nodes = nodes_.size();
  s.node_capacity = nodes_.capacity();
  s.edge_capacity = edges_.capacity();
  s.recorded = recorded_;
  s.nodes_visited = last_visited_;
  return s;
}

TapeStats tape_stats() { return Tape::current().stats(); }

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, const GradOptions& options) {
  if (inputs.empty()) fail("grad: no inputs given");
  return Tape::current().run_backward(outputs, grad_outputs, inputs, false, options);
}

void Tensor::backward(const BackwardOptions& options) const {
  check_defined("backward");
  GradOptions o;
  o.retain_graph = options.retain_graph;
  o.create_graph = options.create_graph;
  Tape::current().run_backward(std::span<const Tensor>(this, 1), {}, {}, true, o);
}

void Tensor::backward(const Tensor& grad_output, const BackwardOptions& options) const {
  check_defined("backward");
  GradOptions o;
  o.retain_graph = options.retain_graph;
  o.create_graph = options.create_graph;
  Tape::current().run_backward(std::span<const Tensor>(this, 1),
                               std::span<const Tensor>(&grad_output, 1), {}, true, o);
}

}  // namespace tapegrad
