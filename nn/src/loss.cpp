#include "tapegrad/nn/loss.hpp"

namespace tapegrad::nn {

namespace {
void check_same_shape(const char* loss, const Tensor& a, const Tensor& b) {
  if (!(a.shape() == b.shape())) {
    fail("{}: prediction shape {} and target shape {} differ", loss, a.shape(), b.shape());
  }
}

void check_labels(const char* loss, const Tensor& output, std::span<const int64_t> labels) {
  if (output.dim() != 2) fail("{}: expects output [batch, classes], got {}", loss, output.shape());
  if (static_cast<int64_t>(labels.size()) != output.shape()[0]) {
    fail("{}: {} labels for a batch of {}", loss, labels.size(), output.shape()[0]);
  }
}
}  // namespace

Tensor cross_entropy_loss(const Tensor& logits, std::span<const int64_t> labels) {
  return cross_entropy(logits, labels);
}

Tensor nll_loss(const Tensor& log_probs, std::span<const int64_t> labels) {
  check_labels("nll_loss", log_probs, labels);
  const int64_t n = log_probs.shape()[0];
  // -mean_i log_probs[i, y_i], picked with a one-hot mask (no gradient to the mask).
  const Tensor mask = loss_targets(log_probs, labels);
  return mul(sum(mul(log_probs, mask)), -1.0 / static_cast<double>(n));
}

Tensor mse_loss(const Tensor& prediction, const Tensor& target) {
  check_same_shape("mse_loss", prediction, target);
  return mean(square(sub(prediction, target)));
}

Tensor bce_loss(const Tensor& probabilities, const Tensor& target) {
  check_same_shape("bce_loss", probabilities, target);
  // Clamping before the log keeps the gradient finite where p is exactly 0 or 1
  // (saturated sigmoids in f32); the -100 floor matches PyTorch's loss values.
  const double tiny = probabilities.dtype() == DType::f32 ? 1.1754944e-38 : 2.2250738585072014e-308;
  auto safe_log = [tiny](const Tensor& x) {
    const Tensor floor = scalar_tensor(-100.0, x.dtype());
    const Tensor positive = greater(x, scalar_tensor(0.0, x.dtype()));
    return maximum(where(positive, log(clamp(x, tiny, 1.0)), floor), floor);
  };
  const Tensor log_p = safe_log(probabilities);
  const Tensor log_1mp = safe_log(sub(1.0, probabilities));
  return neg(mean(add(mul(target, log_p), mul(sub(1.0, target), log_1mp))));
}

Tensor bce_with_logits_loss(const Tensor& logits, const Tensor& target) {
  check_same_shape("bce_with_logits_loss", logits, target);
  return mean(sub(softplus(logits), mul(target, logits)));
}

Tensor l1_penalty(const std::vector<Tensor>& params, double lambda) {
  if (params.empty()) fail("l1_penalty: no parameters given");
  Tensor total;
  for (const Tensor& p : params) {
    const Tensor term = sum(abs(p));
    total = total.defined() ? add(total, term) : term;
  }
  return mul(total, lambda);
}

Tensor l2_penalty(const std::vector<Tensor>& params, double lambda) {
  if (params.empty()) fail("l2_penalty: no parameters given");
  Tensor total;
  for (const Tensor& p : params) {
    const Tensor term = sum(square(p));
    total = total.defined() ? add(total, term) : term;
  }
  return mul(total, lambda);
}

std::vector<Tensor> weights_only(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> out;
  for (const auto& [name, p] : named) {
    if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0) out.push_back(p);
  }
  return out;
}

LossKind parse_loss(const std::string& name) {
  if (name == "ce" || name == "cross_entropy") return LossKind::cross_entropy;
  if (name == "nll") return LossKind::nll;
  if (name == "mse") return LossKind::mse;
  if (name == "bce") return LossKind::bce;
  if (name == "bce_logits") return LossKind::bce_logits;
  fail("unknown loss '{}': expected one of ce, nll, mse, bce, bce_logits", name);
}

std::string loss_name(LossKind kind) {
  switch (kind) {
    case LossKind::cross_entropy:
      return "ce";
    case LossKind::nll:
      return "nll";
    case LossKind::mse:
      return "mse";
    case LossKind::bce:
      return "bce";
    case LossKind::bce_logits:
      return "bce_logits";
  }
  return "?";
}

Tensor loss_targets(const Tensor& output, std::span<const int64_t> labels) {
  check_labels("loss", output, labels);
  const int64_t n = output.shape()[0], k = output.shape()[1];
  Tensor target = zeros(output.shape(), output.dtype());
  dispatch(output.dtype(), [&]<typename T>() {
    T* t = target.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t y = labels[static_cast<size_t>(i)];
      const int64_t limit = k == 1 ? 2 : k;
      if (y < 0 || y >= limit) {
        fail("loss: label {} at position {} is out of range [0, {})", y, i, limit);
      }
      if (k == 1) {
        t[i] = static_cast<T>(y);
      } else {
        t[i * k + y] = T(1);
      }
    }
  });
  return target;
}

Tensor compute_loss(LossKind kind, const Tensor& output, std::span<const int64_t> labels) {
  switch (kind) {
    case LossKind::cross_entropy:
      return cross_entropy_loss(output, labels);
    case LossKind::nll:
      return nll_loss(output, labels);
    case LossKind::mse:
      return mse_loss(output, loss_targets(output, labels));
    case LossKind::bce:
      return bce_loss(output, loss_targets(output, labels));
    case LossKind::bce_logits:
      return bce_with_logits_loss(output, loss_targets(output, labels));
  }
  fail("compute_loss: invalid loss kind");
}

}  // namespace tapegrad::nn
