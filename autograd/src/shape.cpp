#include "tapegrad/autograd/shape.hpp"

#include "tapegrad/autograd/dtype.hpp"
#include "tapegrad/autograd/error.hpp"

namespace tapegrad {

Shape::Shape(std::initializer_list<int64_t> dims)
    : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  if (dims.size() > kMaxDims) {
    fail("shape: {} dimensions given, at most {} are supported", dims.size(), kMaxDims);
  }
  for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
  if (rank_ == kMaxDims) fail("shape: at most {} dimensions are supported", kMaxDims);
  if (d < 0) fail("shape: dimension {} is negative ({})", rank_, d);
  dims_[static_cast<size_t>(rank_++)] = d;
}

void Shape::insert(int pos, int64_t d) {
  push_back(d);
  for (int i = rank_ - 1; i > pos; --i)
    dims_[static_cast<size_t>(i)] = dims_[static_cast<size_t>(i - 1)];
  dims_[static_cast<size_t>(pos)] = d;
}

void Shape::erase(int pos) {
  for (int i = pos; i + 1 < rank_; ++i)
    dims_[static_cast<size_t>(i)] = dims_[static_cast<size_t>(i + 1)];
  --rank_;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : *this) n *= d;
  return n;
}

std::array<int64_t, Shape::kMaxDims> Shape::strides() const {
  std::array<int64_t, kMaxDims> s{};
  int64_t step = 1;
  for (int i = rank_ - 1; i >= 0; --i) {
    s[static_cast<size_t>(i)] = step;
    step *= dims_[static_cast<size_t>(i)];
  }
  return s;
}

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(begin(), end(), ", ")); }

int normalize_axis(int64_t axis, int rank, const char* op) {
  const int64_t r = rank;
  if (axis < -r || axis >= r) {  // a 0-d tensor has no axis to name
    fail("{}: axis {} is out of range for a tensor of rank {}", op, axis, rank);
  }
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    const int ia = i - (rank - a.rank());
    const int ib = i - (rank - b.rank());
    const int64_t da = ia >= 0 ? a[ia] : 1;
    const int64_t db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      fail("{}: shapes {} and {} cannot be broadcast (dimension {} of the result: {} vs {})", op, a,
           b, i, da, db);
    }
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

DType parse_dtype(std::string_view text) {
  if (text == "f32" || text == "float32" || text == "float") return DType::f32;
  if (text == "f64" || text == "float64" || text == "double") return DType::f64;
  fail("unknown dtype '{}': expected f32 or f64", text);
}

}  // namespace tapegrad
