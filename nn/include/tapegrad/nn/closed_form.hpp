// The five backpropagation reports' hand-derived gradients ("closed forms"),
// computed WITHOUT the tape: plain loops on the parameters' raw data, in double
// precision whatever the model's dtype. They are the references the autograd tape
// must agree with (see ../shared/reports/README.md). Each follows its report's
// derivation and notation, with the correct mathematics where the report slips:
//   000  adjoint (Hamiltonian) recursion lambda^k = W_k^T Lambda^{k+1} g'(W_k x_k),
//        softmax Jacobian g_i (delta_ij - g_j), categorical cross-entropy
//   001  PyTorch's LogSoftmax + NLLLoss with biases, chain rule node by node
//   002  sigmoid outputs, per-output binary cross-entropy, delta = y_hat - y,
//        the backprop algorithm of its Fig. 1 with a regulariser lambda * grad Omega
//   003  softmax + cross-entropy, gradients averaged over the batch, L1/L2 penalties
//   004  no biases, sigmoid everywhere, squared error, the s(y) = y (1 - y) recursion
// Every loss is the batch mean computed by nn::compute_loss, so the gradients equal
// autograd's of compute_loss(report_network(id).loss, model(x), labels)
//   + l1_penalty(weights_only(...), l1) + l2_penalty(weights_only(...), l2).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapegrad/nn/loss.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

// A report's network: make_mlp(spec) builds it (the sizes are the report's; any
// sizes with the same structure are accepted by closed_form_gradients), `loss` is
// the nn::compute_loss kind that matches the report's loss, and l1/l2 are the
// penalty strengths of the report's headline model (0 when it used none).
struct ReportNetwork {
  std::string id, title;
  MlpSpec spec;
  LossKind loss = LossKind::cross_entropy;
  double l1 = 0, l2 = 0;
};

// The report ids, "000" .. "004".
std::vector<std::string> report_ids();
// The network of report `id`; an unknown id throws tapegrad::Error listing the valid ids.
ReportNetwork report_network(const std::string& id);

// d(loss)/d(parameter) for every parameter of `model`, in model.named_parameters()
// order, same names, shapes and dtype. `model` must have the structure of
// make_mlp(report_network(id).spec): Linear layers (sizes free), each hidden one
// followed by one of the report's hidden activations, the last by the report's
// output activation (none where the softmax is inside the loss); otherwise a
// tapegrad::Error says which module does not match. x is [batch, inputs]; labels
// are class indices (or 0/1 targets for a single output, as nn::compute_loss).
// l1 and l2 add lambda * sum|w| and lambda * sum w^2 over the weights (not the
// biases), not divided by the batch size.
std::vector<NamedTensor> closed_form_gradients(const std::string& id, Module& model,
                                               const Tensor& x, std::span<const int64_t> labels,
                                               double l1 = 0, double l2 = 0);

}  // namespace tapegrad::nn
