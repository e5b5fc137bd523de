// Initialisers. Each fills a tensor in place from the explicit seeded generator,
// so the same seed gives the same weights on every machine. fan_in and fan_out
// are a weight's in and out sizes (weights are [out, in]).
#pragma once

#include <string>

#include "tapegrad/autograd.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

enum class InitScheme {
  pytorch,         // torch.nn.Linear's default: W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  glorot_uniform,  // U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))
  glorot_normal,   // N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))
  glorot_sigmoid,  // glorot_uniform with gain 4: U(+-4 sqrt(6/(in+out))), report 004
  he_uniform,      // U(-a, a), a = sqrt(6 / fan_in)  (Kaiming, ReLU gain sqrt 2)
  he_normal,       // N(0, 2 / fan_in)
  lecun_uniform,   // U(-a, a), a = sqrt(3 / fan_in)
  lecun_normal,    // N(0, 1 / fan_in)
  zeros,
  constant,  // every entry = value
  uniform,   // U(low, high)
  normal,    // N(0, stddev^2)
};

struct InitSpec {
  InitScheme scheme = InitScheme::pytorch;
  double gain = 1.0;                // glorot_* only
  double value = 0.0;               // constant
  double low = -0.05, high = 0.05;  // uniform
  double stddev = 0.01;             // normal
};

// Parses a scheme name: pytorch, glorot (= glorot_uniform), glorot_uniform,
// glorot_normal, glorot_sigmoid, he (= he_uniform), he_uniform, he_normal, lecun
// (= lecun_uniform), lecun_uniform, lecun_normal, zeros, constant:V, uniform:A,B,
// normal:STD. Throws listing the valid names.
InitSpec parse_init(const std::string& text);

// Fills `weight` ([out, in]) in place.
void init_weight(Tensor& weight, const InitSpec& spec, Generator& gen);
// Initialises every Linear of a module: weights by `spec`; biases to zero, except
// the pytorch scheme (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and zeros/constant
// (which fill biases too).
void init_module(Module& module, const InitSpec& spec, Generator& gen);

}  // namespace tapegrad::nn
