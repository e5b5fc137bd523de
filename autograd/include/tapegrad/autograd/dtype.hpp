// Element types. A tensor's dtype is chosen at run time so that a float32 model
// can be converted to float64 for gradient checks.
#pragma once

#include <cstddef>
#include <string_view>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad {

enum class DType { f32, f64 };

inline std::string_view dtype_name(DType d) { return d == DType::f32 ? "f32" : "f64"; }
inline size_t dtype_size(DType d) { return d == DType::f32 ? 4 : 8; }
// Parses "f32"/"float32" or "f64"/"float64"; throws naming the text otherwise.
DType parse_dtype(std::string_view text);

// Calls f.template operator()<T>() with T = float or double.
template <typename F>
decltype(auto) dispatch(DType d, F&& f) {
  if (d == DType::f32) return f.template operator()<float>();
  return f.template operator()<double>();
}

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::DType> : fmt::formatter<std::string_view> {
  auto format(tapegrad::DType d, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(tapegrad::dtype_name(d), ctx);
  }
};
