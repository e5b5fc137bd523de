// Internal: the tape, its nodes, and the interface between ops and the engine.
//
// Nodes are appended as ops run, so the tape is in topological order and backward
// is one reverse loop. Nodes live in a vector that is truncated, never freed: when
// the tensors of an iteration die, their nodes die and the tape rewinds, keeping
// its capacity, so steady-state training records without heap allocation.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/op_list.hpp"
#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad {

// Small attributes of an op (axes, scalars, shapes), stored inline in the node.
struct Attrs {
  std::array<double, 2> scalar{};
  std::array<int64_t, 4> ints{};
  Shape shape;
  bool flag = false;
};

struct SavedTensor {
  Tensor tensor;  // for an op's own output: the data only (no graph reference, no cycle)
  uint64_t version = 0;
  bool is_output = false;
};

// Where an input's gradient goes: the producing node, or none.
struct Edge {
  static constexpr int32_t kNone = -1;  // input does not require grad
  int32_t node = kNone;
  Shape shape;
  DType dtype = DType::f32;
};

struct Node {
  OpKind op = OpKind::leaf;
  bool released = false;  // saved tensors freed by a backward without retain_graph
  bool dead = false;      // no tensor or node refers to it any more
  bool needed = false;    // scratch flag for grad(): lies on a path to an input
  int32_t refs = 0;       // output tensor + consumer edges
  uint64_t serial = 0;    // unique per recorded node; validates a leaf's weak reference
  uint32_t edge_begin = 0;
  uint32_t n_edges = 0;
  std::array<SavedTensor, 3> saved;
  RefPtr<Storage> aux;  // integer payload (labels, indices)
  Attrs attrs;
  Tensor grad;  // gradient of the output, accumulated during backward
  Tensor leaf;  // for leaf nodes: the variable whose .grad receives the gradient
  // For op nodes: the output tensor's state, until that tensor dies (compaction
  // renumbers it).
  TensorImpl* output = nullptr;
};

class BackwardContext;
using BackwardFn = void (*)(BackwardContext&);

// Watches op calls on this thread while a gradient check records a function
// (gradcheck_replay.cpp). Installed only for the duration of that one call.
class OpObserver {
 public:
  virtual ~OpObserver() = default;
  // An op produced `out` from `inputs`; `node` is its tape index, or -1 when it
  // was not recorded (grad mode off, or no input requires grad).
  virtual void on_op(OpKind op, std::span<const Tensor* const> inputs, const Tensor& out,
                     int32_t node) = 0;
  // Values of `t` were read outside the recorded ops (`what`: item, a comparison, ...).
  virtual void on_untracked_read(const char* what, const Tensor& t) = 0;
};
// The observer of this thread, or nullptr.
OpObserver*& op_observer();
inline void notify_untracked_read(const char* what, const Tensor& t) {
  if (OpObserver* o = op_observer()) o->on_untracked_read(what, t);
}

class Tape {
 public:
  static Tape& current();

  // Appends a node for `op` when grad mode is on and an input requires grad, makes
  // `out` its output and returns it; returns nullptr when nothing is recorded. The
  // pointer is valid until the next node is recorded.
  Node* record(OpKind op, std::span<const Tensor* const> inputs, Tensor& out) {
    Node* n = record_node(op, inputs, out);
    if (OpObserver* o = op_observer()) {
      o->on_op(op, inputs, out, n ? static_cast<int32_t>(nodes_.size() - 1) : -1);
    }
    return n;
  }
  Node* record(OpKind op, std::initializer_list<const Tensor*> inputs, Tensor& out) {
    return record(op, std::span<const Tensor* const>(inputs.begin(), inputs.size()), out);
  }

  // Drops one reference on a node; dead nodes release what they hold, iteratively.
  void unref(int32_t index);
  // A tensor owning node `index` is dying: its output, or an alias of the output
  // made by a recorded backward.
  void release_owner(int32_t index, const TensorImpl* impl);
  // A recorded backward made another tensor owning a node's output.
  void add_alias_owner(int32_t index) {
    ref(index);
    ++alias_owners_;
  }
  void ref(int32_t index) { ++nodes_[static_cast<size_t>(index)].refs; }

  // The engine (tape.cpp).
  std::vector<Tensor> run_backward(std::span<const Tensor> outputs,
                                   std::span<const Tensor> grad_outputs,
                                   std::span<const Tensor> inputs, bool accumulate,
                                   const GradOptions& options);

  TapeStats stats() const;
  // A node by index (for the gradient checker's trace; valid while the node lives).
  const Node& node(int32_t index) const { return nodes_[static_cast<size_t>(index)]; }
  ~Tape();

 private:
  Node* record_node(OpKind op, std::span<const Tensor* const> inputs, Tensor& out);
  int32_t leaf_node_for(TensorImpl* impl);
  void truncate_dead_tail();
  // Moves the live nodes down over the dead ones (keeping their order) and
  // renumbers every reference to them.
  void compact();
  void accumulate(int32_t index, Tensor g, bool create_graph);

  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::vector<int32_t> pending_unref_;
  std::vector<int32_t> renumbered_;   // compact()'s old-to-new index map
  size_t dead_nodes_ = 0;             // dead nodes below a live one, awaiting compaction
  int alias_owners_ = 0;              // live aliases from recorded backwards (no compaction)
  std::vector<Edge> edge_scratch_;    // copies of a node's edges while its rule runs
  std::vector<Tensor> grad_scratch_;  // input gradients produced by a rule
  bool draining_ = false;
  bool destroying_ = false;
  int backward_depth_ = 0;
  uint64_t next_serial_ = 1;
  uint64_t recorded_ = 0;
  size_t last_visited_ = 0;
};

// Saves a tensor that the backward rule will need (its version is remembered).
void save_input(Node* node, int slot, const Tensor& t);
// Saves the op's own output (kept as data only; re-attached to the graph when the
// backward pass is itself recorded).
void save_output(Node* node, int slot, const Tensor& out);

// What a backward rule sees: the output gradient, saved tensors, attributes, and
// where to put the input gradients. The engine sums each input gradient back to
// its input's shape (undoing broadcasting) and accumulates it.
class BackwardContext {
 public:
  BackwardContext(int32_t index, const Node& node, std::span<const Edge> edges,
                  std::span<Tensor> input_grads, bool create_graph);

  const Tensor& grad() const { return grad_; }
  void set_grad_output(Tensor g) { grad_ = std::move(g); }
  // A saved tensor, checked against in-place modification since it was saved.
  Tensor saved(int slot) const;
  const Attrs& attrs() const { return attrs_; }
  const Storage* aux() const { return aux_.get(); }
  int num_inputs() const { return static_cast<int>(edges_.size()); }
  bool needs_grad(int input) const { return edges_[static_cast<size_t>(input)].node >= 0; }
  const Shape& input_shape(int input) const { return edges_[static_cast<size_t>(input)].shape; }
  DType input_dtype(int input) const { return edges_[static_cast<size_t>(input)].dtype; }
  bool create_graph() const { return create_graph_; }
  OpKind op() const { return op_; }

  // Sets the gradient for an input; ignored when that input needs none.
  void set_grad(int input, Tensor g);

 private:
  int32_t index_;
  OpKind op_;
  Tensor grad_;
  std::array<SavedTensor, 3> saved_;
  RefPtr<Storage> aux_;
  Attrs attrs_;
  std::span<const Edge> edges_;
  std::span<Tensor> input_grads_;
  bool create_graph_;
};

BackwardFn backward_rule(OpKind op);

}  // namespace tapegrad
