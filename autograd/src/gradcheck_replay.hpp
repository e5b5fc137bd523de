// Internal to the gradient checker: evaluating the checked function at perturbed
// inputs, either by calling it (DirectEvaluator) or by replaying the ops recorded
// at the check point and recomputing only what a perturbation reaches (Replay).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tape.hpp"
#include "tapegrad/autograd/gradcheck.hpp"

namespace tapegrad::gradcheck_detail {

// Output values of the function, flattened output after output, as double.
using Values = std::vector<double>;

// Raised when an evaluation cannot be compared with the check point (an output
// changed shape or count); the message says which and how.
class EvaluationMismatch : public Error {
 public:
  using Error::Error;
};

// Element access on f32 or f64 data, without checks (hot in the replay loops).
inline double get_value(const Tensor& t, int64_t index) {
  const TensorImpl* p = t.impl();
  const void* data = p->storage->data();
  return p->dtype == DType::f64 ? static_cast<const double*>(data)[index]
                                : static_cast<double>(static_cast<const float*>(data)[index]);
}
inline void set_value(const Tensor& t, int64_t index, double value) {
  const TensorImpl* p = t.impl();
  void* data = p->storage->data();
  if (p->dtype == DType::f64) {
    static_cast<double*>(data)[index] = value;
  } else {
    static_cast<float*>(data)[index] = static_cast<float>(value);
  }
}
// Appends every value of every tensor to `out` (cleared first).
void flatten_into(const std::vector<Tensor>& tensors, Values& out);

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  // f with entry `index` of input `input` set to `value`; the inputs are restored after.
  virtual void entry(size_t input, int64_t index, double value, Values& out) = 0;
  // f with whole inputs replaced (undefined: unchanged); restored after.
  virtual void dense(const std::vector<Tensor>& replacements, Values& out) = 0;
};

// Calls f with the inputs written in place (grad mode on, as at the check point).
class DirectEvaluator final : public Evaluator {
 public:
  DirectEvaluator(const CheckedFunction& f, const std::vector<Tensor>& args,
                  const std::vector<Tensor>& outputs);
  void entry(size_t input, int64_t index, double value, Values& out) override;
  void dense(const std::vector<Tensor>& replacements, Values& out) override;

 private:
  void evaluate(Values& out);
  const CheckedFunction& f_;
  std::vector<Tensor> args_;
  std::vector<Shape> shapes_;
};

// Records the ops of one call of f (as an OpObserver) and replays them.
class Replay final : public OpObserver, public Evaluator {
 public:
  // `args` are f's inputs; `checked[i]` says whether input i will be perturbed.
  Replay(const std::vector<Tensor>& args, const std::vector<bool>& checked);
  ~Replay() override;
  Replay(const Replay&) = delete;
  Replay& operator=(const Replay&) = delete;

  // Starts observing this thread's ops; finish() stops and links the outputs.
  void start();
  void finish(const std::vector<Tensor>& outputs);
  // Stops observing without outputs (f threw).
  void abort();

  // Whether the recorded ops stand for f; otherwise why not.
  bool usable() const { return usable_; }
  const std::string& unusable_reason() const { return reason_; }
  // Whether some output depends on input i through the recorded ops.
  bool reaches_output(size_t input) const;
  size_t num_ops() const { return ops_.size(); }

  void entry(size_t input, int64_t index, double value, Values& out) override;
  void dense(const std::vector<Tensor>& replacements, Values& out) override;

  void on_op(OpKind op, std::span<const Tensor* const> inputs, const Tensor& out,
             int32_t node) override;
  void on_untracked_read(const char* what, const Tensor& t) override;

 private:
  enum class State : uint8_t { clean, sparse, full };
  struct Patch {
    int64_t index;
    double old;
  };
  struct Value {
    Tensor base;  // as recorded; sparse patches are written into its storage
    Tensor cur;   // what ops read: base, or a recomputed tensor (State::full)
    State state = State::clean;
    bool varies = false;  // depends on a checked input
    std::vector<Patch> patch;
    std::vector<uint32_t> stamp;  // scratch marks for collecting output indices
  };
  struct Op {
    OpKind kind = OpKind::leaf;
    std::vector<int> in;  // value ids; -1 for an undefined input
    int mask = -1;        // where: the mask
    int out = -1;
    int32_t node = -1;
    Attrs attrs;
    RefPtr<Storage> aux;
    bool needed = false;
  };

  int value_of(const Tensor& t);  // known value or a new constant
  int add_value(const Tensor& t, bool varies);
  bool is_varying(const Tensor& t) const;
  void invalidate(std::string reason);

  void run(const std::vector<int>& ops);
  bool dirty(int id) const {
    return id >= 0 && values_[static_cast<size_t>(id)].state != State::clean;
  }
  void touch(int id, State state);
  void restore();
  void read_outputs(Values& out) const;

  void apply(const Op& op);
  void apply_full(const Op& op);
  void apply_alias(const Op& op);
  bool apply_pointwise(const Op& op);
  bool apply_matmul(const Op& op);
  bool apply_sum(const Op& op);
  Tensor compute(const Op& op, const std::vector<Tensor>& args, bool gathered) const;
  std::vector<int> operands(const Op& op) const;
  // Starts a round of collecting changed output indices.
  void start_collecting();
  // Marks `index` of value v for this collection round; returns true the first time.
  bool collect(Value& v, int64_t index);
  // Adds the collected increments acc_[o] to v's entries and clears them.
  void write_increments(Value& v);
  void write_fresh(Value& v, int64_t index, double value);

  std::vector<Value> values_;
  std::vector<Op> ops_;
  std::vector<int> leaf_;  // value id of each input
  std::vector<int> outputs_;
  std::vector<bool> checked_;
  std::vector<std::vector<int>> downstream_;  // per input: needed ops it reaches, in order
  std::vector<int> all_needed_;
  std::unordered_map<const TensorImpl*, int> ids_;
  std::unordered_set<const Storage*> varying_storage_;
  std::vector<int> touched_;
  std::vector<int64_t> collected_;
  std::vector<double> acc_;
  uint32_t generation_ = 0;
  OpObserver* previous_ = nullptr;
  bool observing_ = false;
  bool usable_ = true;
  std::string reason_;
};

}  // namespace tapegrad::gradcheck_detail
