#include "tapegrad/nn/init.hpp"

#include <cmath>
#include <cstdlib>

namespace tapegrad::nn {

namespace {

void fill_uniform(Tensor& t, double low, double high, Generator& gen) {
  NoGradGuard no_grad;
  t.copy_(uniform(t.shape(), low, high, gen, t.dtype()));
}

void fill_normal(Tensor& t, double stddev, Generator& gen) {
  NoGradGuard no_grad;
  t.copy_(normal(t.shape(), 0.0, stddev, gen, t.dtype()));
}

double parse_number(const std::string& text, const std::string& whole) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
    fail("init '{}': '{}' is not a number", whole, text);
  }
  return v;
}

}  // namespace

InitSpec parse_init(const std::string& text) {
  InitSpec s;
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const std::string args = colon == std::string::npos ? "" : text.substr(colon + 1);
  auto no_args = [&] {
    if (!args.empty()) fail("init '{}': '{}' takes no arguments", text, name);
  };
  if (name == "pytorch") {
    no_args();
    s.scheme = InitScheme::pytorch;
  } else if (name == "glorot" || name == "glorot_uniform" || name == "xavier") {
    no_args();
    s.scheme = InitScheme::glorot_uniform;
  } else if (name == "glorot_normal" || name == "xavier_normal") {
    no_args();
    s.scheme = InitScheme::glorot_normal;
  } else if (name == "glorot_sigmoid") {
    no_args();
    s.scheme = InitScheme::glorot_sigmoid;
  } else if (name == "he" || name == "he_uniform" || name == "kaiming") {
    no_args();
    s.scheme = InitScheme::he_uniform;
  } else if (name == "he_normal" || name == "kaiming_normal") {
    no_args();
    s.scheme = InitScheme::he_normal;
  } else if (name == "lecun" || name == "lecun_uniform") {
    no_args();
    s.scheme = InitScheme::lecun_uniform;
  } else if (name == "lecun_normal") {
    no_args();
    s.scheme = InitScheme::lecun_normal;
  } else if (name == "zeros") {
    no_args();
    s.scheme = InitScheme::zeros;
  } else if (name == "constant") {
    s.scheme = InitScheme::constant;
    s.value = parse_number(args, text);
  } else if (name == "uniform") {
    s.scheme = InitScheme::uniform;
    const size_t comma = args.find(',');
    if (comma == std::string::npos) fail("init '{}': expected uniform:LOW,HIGH", text);
    s.low = parse_number(args.substr(0, comma), text);
    s.high = parse_number(args.substr(comma + 1), text);
    if (!(s.low <= s.high)) fail("init '{}': low must not exceed high", text);
  } else if (name == "normal") {
    s.scheme = InitScheme::normal;
    s.stddev = parse_number(args, text);
    if (s.stddev < 0) fail("init '{}': the standard deviation must be non-negative", text);
  } else {
    fail(
        "unknown init '{}': expected one of pytorch, glorot, glorot_normal, glorot_sigmoid, he, "
        "he_normal, lecun, lecun_normal, zeros, constant:V, uniform:A,B, normal:STD",
        text);
  }
  return s;
}

void init_weight(Tensor& weight, const InitSpec& spec, Generator& gen) {
  if (weight.dim() != 2)
    fail("init_weight: expects a 2-D weight [out, in], got {}", weight.shape());
  const auto fan_out = static_cast<double>(weight.shape()[0]);
  const auto fan_in = static_cast<double>(weight.shape()[1]);
  switch (spec.scheme) {
    case InitScheme::pytorch: {
      const double a = 1.0 / std::sqrt(fan_in);
      return fill_uniform(weight, -a, a, gen);
    }
    case InitScheme::glorot_uniform:
    case InitScheme::glorot_sigmoid: {
      const double gain = spec.scheme == InitScheme::glorot_sigmoid ? 4.0 : spec.gain;
      const double a = gain * std::sqrt(6.0 / (fan_in + fan_out));
      return fill_uniform(weight, -a, a, gen);
    }
    case InitScheme::glorot_normal:
      return fill_normal(weight, spec.gain * std::sqrt(2.0 / (fan_in + fan_out)), gen);
    case InitScheme::he_uniform: {
      const double a = std::sqrt(6.0 / fan_in);
      return fill_uniform(weight, -a, a, gen);
    }
    case InitScheme::he_normal:
      return fill_normal(weight, std::sqrt(2.0 / fan_in), gen);
    case InitScheme::lecun_uniform: {
      const double a = std::sqrt(3.0 / fan_in);
      return fill_uniform(weight, -a, a, gen);
    }
    case InitScheme::lecun_normal:
      return fill_normal(weight, std::sqrt(1.0 / fan_in), gen);
    case InitScheme::zeros:
      return fill_uniform(weight, 0.0, 0.0, gen);
    case InitScheme::constant:
      return fill_uniform(weight, spec.value, spec.value, gen);
    case InitScheme::uniform:
      return fill_uniform(weight, spec.low, spec.high, gen);
    case InitScheme::normal:
      return fill_normal(weight, spec.stddev, gen);
  }
}

void init_module(Module& module, const InitSpec& spec, Generator& gen) {
  for (auto& [name, p] : module.named_parameters()) {
    if (p.dim() == 2) {
      init_weight(p, spec, gen);
      continue;
    }
    // A bias: its layer's weight was initialised just before it, with fan_in known
    // only through that weight; find it by name.
    NoGradGuard no_grad;
    const std::string prefix = name.substr(0, name.size() - std::string("bias").size());
    if (spec.scheme == InitScheme::pytorch) {
      for (auto& [wname, w] : module.named_parameters()) {
        if (wname == prefix + "weight") {
          const double a = 1.0 / std::sqrt(static_cast<double>(w.shape()[1]));
          fill_uniform(p, -a, a, gen);
        }
      }
    } else if (spec.scheme == InitScheme::constant) {
      p.fill_(spec.value);
    } else {
      p.fill_(0.0);
    }
  }
}

}  // namespace tapegrad::nn
