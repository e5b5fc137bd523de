#include "tapegrad/nn/module.hpp"

#include <charconv>

namespace tapegrad::nn {

// ---- Module ----
std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  collect("", out);
  return out;
}

void Module::collect(const std::string& prefix, std::vector<NamedTensor>& out) const {
  for (const auto& [name, p] : parameters_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(DType dtype) {
  for (Tensor& p : parameters()) {
    if (p.dtype() == dtype) continue;
    NoGradGuard no_grad;
    const Tensor converted = p.to(dtype);
    // Swap the data under the shared handle so that every holder sees it.
    TensorImpl* impl = p.impl();
    impl->storage = converted.impl()->storage;
    impl->dtype = dtype;
    impl->grad = Tensor();
  }
  for (auto& [name, child] : children_) child->to(dtype);
}

std::string Module::summary() const {
  std::string out;
  summarise("", 0, out);
  return out;
}

void Module::summarise(const std::string& prefix, int depth, std::string& out) const {
  out += fmt::format("{:{}}{}{}\n", "", 2 * depth,
                     prefix.empty() ? "" : "(" + prefix + "): ", describe());
  for (const auto& [name, child] : children_) child->summarise(name, depth + 1, out);
}

Tensor Module::register_parameter(std::string name, Tensor value) {
  value.requires_grad_(true);
  parameters_.emplace_back(std::move(name), value);
  return value;
}

void Module::register_module(std::string name, std::shared_ptr<Module> child) {
  if (!child) fail("register_module: module '{}' is null", name);
  children_.emplace_back(std::move(name), std::move(child));
}

// ---- Linear ----
Linear::Linear(int64_t in_features, int64_t out_features, bool bias, DType dtype)
    : in_(in_features), out_(out_features) {
  if (in_features <= 0 || out_features <= 0) {
    fail("Linear: sizes must be positive, got in={} out={}", in_features, out_features);
  }
  // Zeros until an initialiser from nn/init.hpp fills them.
  weight_ = register_parameter("weight", zeros({out_, in_}, dtype));
  if (bias) bias_ = register_parameter("bias", zeros({out_}, dtype));
}

Tensor Linear::forward(const Tensor& x) {
  if (x.dim() != 2 || x.shape()[1] != in_) {
    fail("Linear({}, {}): expects input [batch, {}], got {}", in_, out_, in_, x.shape());
  }
  Tensor y = matmul(x, weight_, false, true);
  return bias_.defined() ? add(y, bias_) : y;
}

std::string Linear::describe() const {
  return fmt::format("Linear({}, {}, bias={})", in_, out_, bias_.defined());
}

// ---- Activations ----
namespace {
constexpr std::pair<const char*, Activation> kActivationNames[] = {
    {"identity", Activation::identity},
    {"sigmoid", Activation::sigmoid},
    {"tanh", Activation::tanh},
    {"relu", Activation::relu},
    {"leaky_relu", Activation::leaky_relu},
    {"softmax", Activation::softmax},
    {"log_softmax", Activation::log_softmax}};
}  // namespace

Activation parse_activation(const std::string& name) {
  if (name == "none" || name == "linear") return Activation::identity;
  for (const auto& [text, kind] : kActivationNames) {
    if (name == text) return kind;
  }
  fail(
      "unknown activation '{}': expected one of identity, sigmoid, tanh, relu, leaky_relu, "
      "softmax, log_softmax",
      name);
}

std::string activation_name(Activation a) {
  for (const auto& [text, kind] : kActivationNames) {
    if (kind == a) return text;
  }
  return "?";
}

Tensor apply_activation(Activation a, const Tensor& x) {
  switch (a) {
    case Activation::identity:
      return x;
    case Activation::sigmoid:
      return sigmoid(x);
    case Activation::tanh:
      return tanh(x);
    case Activation::relu:
      return relu(x);
    case Activation::leaky_relu:
      return leaky_relu(x);
    case Activation::softmax:
      return softmax(x, -1);
    case Activation::log_softmax:
      return log_softmax(x, -1);
  }
  fail("apply_activation: invalid activation");
}

std::string ActivationLayer::describe() const {
  switch (kind_) {
    case Activation::identity:
      return "Identity";
    case Activation::sigmoid:
      return "Sigmoid";
    case Activation::tanh:
      return "Tanh";
    case Activation::relu:
      return "ReLU";
    case Activation::leaky_relu:
      return "LeakyReLU";
    case Activation::softmax:
      return "Softmax(dim=-1)";
    case Activation::log_softmax:
      return "LogSoftmax(dim=-1)";
  }
  return "?";
}

// ---- Sequential ----
Sequential& Sequential::add(std::shared_ptr<Module> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& layer : layers_) h = layer->forward(h);
  return h;
}

// ---- MLP ----
std::vector<int64_t> parse_layer_sizes(const std::string& spec) {
  std::vector<int64_t> sizes;
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t end = std::min(spec.find('-', pos), spec.size());
    int64_t value = 0;
    const char* first = spec.data() + pos;
    const char* last = spec.data() + end;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (first == last || ec != std::errc() || ptr != last || value <= 0) {
      fail("model spec '{}': '{}' is not a positive layer size (expected e.g. 784-128-10)", spec,
           std::string(first, last));
    }
    sizes.push_back(value);
    pos = end + 1;
  }
  if (sizes.size() < 2) {
    fail("model spec '{}': needs at least an input and an output size (e.g. 784-10)", spec);
  }
  return sizes;
}

std::shared_ptr<Sequential> make_mlp(const MlpSpec& spec) {
  if (spec.sizes.size() < 2) fail("make_mlp: needs at least two layer sizes");
  auto model = std::make_shared<Sequential>();
  for (size_t i = 0; i + 1 < spec.sizes.size(); ++i) {
    model->add(std::make_shared<Linear>(spec.sizes[i], spec.sizes[i + 1], spec.bias, spec.dtype));
    const bool last = i + 2 == spec.sizes.size();
    const Activation a = last ? spec.head : spec.hidden;
    if (a != Activation::identity) model->add(std::make_shared<ActivationLayer>(a));
  }
  return model;
}

}  // namespace tapegrad::nn
