// Losses and penalties, composed of autograd ops. Every loss is the mean over
// the batch (and, for the elementwise ones, over outputs) unless stated.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tapegrad/autograd.hpp"

namespace tapegrad::nn {

// Cross-entropy from logits [N, C] and integer labels (fused; see autograd).
Tensor cross_entropy_loss(const Tensor& logits, std::span<const int64_t> labels);
// Negative log-likelihood of log-probabilities [N, C] (e.g. after log_softmax).
Tensor nll_loss(const Tensor& log_probs, std::span<const int64_t> labels);
// mean((prediction - target)^2) over all elements.
Tensor mse_loss(const Tensor& prediction, const Tensor& target);
// Binary cross-entropy on probabilities: -mean(t log p + (1 - t) log(1 - p)); the
// logs are clamped at -100 as PyTorch does, so p = 0 or 1 gives a finite loss.
Tensor bce_loss(const Tensor& probabilities, const Tensor& target);
// The same from logits, computed stably: mean(softplus(x) - t x).
Tensor bce_with_logits_loss(const Tensor& logits, const Tensor& target);

// Penalties to add to the (batch-mean) loss. They are not divided by the batch
// size: report 003 divided its penalty's gradient by the batch size and the
// penalty vanished.
//   l1: lambda * sum_i |w_i|    gradient lambda * sign(w)
//   l2: lambda * sum_i w_i^2    gradient 2 lambda w
Tensor l1_penalty(const std::vector<Tensor>& params, double lambda);
Tensor l2_penalty(const std::vector<Tensor>& params, double lambda);
// The weights of a model's Linear layers (names ending in "weight"): the usual
// target of a penalty, biases excluded.
std::vector<Tensor> weights_only(const std::vector<std::pair<std::string, Tensor>>& named);

enum class LossKind { cross_entropy, nll, mse, bce, bce_logits };
// Parses ce|cross_entropy, nll, mse, bce, bce_logits; throws listing them.
LossKind parse_loss(const std::string& name);
std::string loss_name(LossKind kind);

// The loss of a model output [N, K] against integer labels: class indices for
// cross_entropy and nll; for mse and bce a one-hot target of width K, or, when
// K == 1, the label itself (0 or 1) as the target.
Tensor compute_loss(LossKind kind, const Tensor& output, std::span<const int64_t> labels);
// Targets for the elementwise losses as above.
Tensor loss_targets(const Tensor& output, std::span<const int64_t> labels);

}  // namespace tapegrad::nn
