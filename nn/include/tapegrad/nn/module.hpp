// Modules: layers composed of autograd ops (none writes its own backward), with
// parameters named the way PyTorch names them ("0.weight", "0.bias"; weights
// stored [out, in]) so that weights move to and from PyTorch unchanged.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd.hpp"

namespace tapegrad::nn {

using NamedTensor = std::pair<std::string, Tensor>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Parameters of this module and its children, children's prefixed "<child>.".
  std::vector<NamedTensor> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;

  // Training mode (the default) or evaluation mode, for this module and its children.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Converts every parameter to `dtype` in place: tensor handles held elsewhere
  // (an optimiser's) see the new data. Accumulated gradients are dropped.
  void to(DType dtype);

  // One line naming the layer, e.g. "Linear(784, 128, bias=true)".
  virtual std::string describe() const = 0;
  // The module tree, one line per module.
  std::string summary() const;

 protected:
  // Registers a parameter (marked requires_grad) and returns a handle sharing it.
  Tensor register_parameter(std::string name, Tensor value);
  void register_module(std::string name, std::shared_ptr<Module> child);

 private:
  void collect(const std::string& prefix, std::vector<NamedTensor>& out) const;
  void summarise(const std::string& prefix, int depth, std::string& out) const;

  std::vector<NamedTensor> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// y = x W^T + b, W of shape [out, in].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  // Handles sharing the registered parameters.
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }  // undefined without bias
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  int64_t in_, out_;
  Tensor weight_;
  Tensor bias_;
};

enum class Activation { identity, sigmoid, tanh, relu, leaky_relu, softmax, log_softmax };
// Parses "identity|none|linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax",
// "log_softmax"; throws listing the valid names otherwise.
Activation parse_activation(const std::string& name);
std::string activation_name(Activation a);
Tensor apply_activation(Activation a, const Tensor& x);

// A parameter-free activation layer (Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, ...).
class ActivationLayer : public Module {
 public:
  explicit ActivationLayer(Activation kind) : kind_(kind) {}
  Tensor forward(const Tensor& x) override { return apply_activation(kind_, x); }
  std::string describe() const override;
  Activation kind() const { return kind_; }

 private:
  Activation kind_;
};

// Children run in order; they are named "0", "1", ... as in torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> layer);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Sequential"; }
  size_t size() const { return layers_.size(); }
  Module& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

// An MLP from a spec string "784-128-64-10": Linear layers with `hidden`
// after every Linear but the last, and `head` after the last (identity gives logits).
struct MlpSpec {
  std::vector<int64_t> sizes;
  Activation hidden = Activation::sigmoid;
  Activation head = Activation::identity;
  bool bias = true;
  DType dtype = DType::f32;
};
// Parses "784-128-10" (at least two positive sizes); errors name the text.
std::vector<int64_t> parse_layer_sizes(const std::string& spec);
std::shared_ptr<Sequential> make_mlp(const MlpSpec& spec);

}  // namespace tapegrad::nn
