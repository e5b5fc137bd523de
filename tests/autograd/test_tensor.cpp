// Tests of tensors: creation, seeded random tensors, dtype conversion, shared
// storage, printing, and the error messages of tensor and op argument checks.
#include <doctest/doctest.h>

#include "test_helpers.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "tapegrad/autograd.hpp"

using namespace tapegrad;

namespace {

constexpr DType f32 = DType::f32;
constexpr DType f64 = DType::f64;

void check_values(const Tensor& t, const std::vector<double>& expected, double tolerance = 1e-12) {
  REQUIRE(t.defined());
  const std::vector<double> got = t.to_vector();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(tolerance));
  }
}

using test_helpers::contains;
using test_helpers::error_message;

}  // namespace

// ---- Creation ----

TEST_CASE("tensor: zeros, ones, full and the _like forms") {
  Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dim() == 2);
  CHECK(z.size(0) == 2);
  CHECK(z.size(-1) == 3);
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == f32);
  CHECK_FALSE(z.requires_grad());
  CHECK(z.is_leaf());
  check_values(z, std::vector<double>(6, 0.0));

  Tensor o = ones({4}, f64);
  CHECK(o.dtype() == f64);
  check_values(o, {1, 1, 1, 1});

  Tensor f = full({2, 2}, 2.5, f64);
  check_values(f, {2.5, 2.5, 2.5, 2.5});
  Tensor fl = full_like(f, -1.0);
  CHECK(fl.shape() == f.shape());
  CHECK(fl.dtype() == f64);
  check_values(fl, {-1, -1, -1, -1});
  check_values(zeros_like(f), {0, 0, 0, 0});
  check_values(ones_like(z), std::vector<double>(6, 1.0));
  CHECK(ones_like(z).dtype() == f32);

  // Empty tensors are allowed.
  CHECK(zeros({0, 3}).numel() == 0);
}

TEST_CASE("tensor: arange") {
  check_values(arange(5), {0, 1, 2, 3, 4});
  CHECK(arange(5).dtype() == f32);
  check_values(arange(1.0, 2.0, 0.25, f64), {1.0, 1.25, 1.5, 1.75});
  check_values(arange(2.0, 5.0), {2, 3, 4});
  SUBCASE("negative step counts down, stopping above end") {
    Tensor t = arange(5.0, 0.0, -1.5, f64);
    CHECK(t.shape() == Shape{4});
    check_values(t, {5.0, 3.5, 2.0, 0.5});
    check_values(arange(3.0, -1.0, -1.0), {3, 2, 1, 0});
  }
  SUBCASE("a step pointing away from end gives no elements") {
    CHECK(arange(0.0, 5.0, -1.0).numel() == 0);
    CHECK(arange(5.0, 0.0, 1.0).numel() == 0);
  }
  CHECK_THROWS_WITH_AS(arange(0.0, 1.0, 0.0), doctest::Contains("step"), Error);
}

TEST_CASE("tensor: eye, from_data, scalar_tensor, empty") {
  Tensor i3 = eye(3, f64);
  CHECK(i3.shape() == Shape{3, 3});
  check_values(i3, {1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(eye(0).numel() == 0);

  Tensor a = from_data({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  CHECK(a.dtype() == f32);
  CHECK(a.at({0, 0}) == 1.0);
  CHECK(a.at({0, 2}) == 3.0);
  CHECK(a.at({1, 0}) == 4.0);
  CHECK(a.at({1, 2}) == 6.0);

  const std::vector<float> floats = {0.5f, -1.25f};
  Tensor b = from_data(std::span<const float>(floats), {2}, f64);
  CHECK(b.dtype() == f64);
  check_values(b, {0.5, -1.25});
  const std::vector<double> doubles = {0.1, 0.2, 0.3};
  Tensor c = from_data(std::span<const double>(doubles), {3, 1}, f64);
  CHECK(c.shape() == Shape{3, 1});
  check_values(c, {0.1, 0.2, 0.3});
  // A copy: changing the source afterwards does not matter.
  CHECK(c.data<double>() != doubles.data());

  Tensor s = scalar_tensor(3.5);
  CHECK(s.dim() == 0);
  CHECK(s.shape().empty());
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.5);
  CHECK(s.at({}) == 3.5);
  CHECK(scalar_tensor(-2.0, f64).dtype() == f64);

  Tensor e = Tensor::empty({5, 2}, f64);
  CHECK(e.shape() == Shape{5, 2});
  CHECK(e.dtype() == f64);
  CHECK_FALSE(Tensor().defined());
}

// ---- Random ----

TEST_CASE("random: Generator(42) reproduces the xoshiro256** reference stream") {
  // Values computed independently from the reference definitions of splitmix64 and
  // xoshiro256** (prng.di.unimi.it) with a Python script, not from this library.
  Generator gen(42);
  CHECK(gen.next_u64() == 0x15780b2e0c2ec716ULL);
  CHECK(gen.next_u64() == 0x6104d9866d113a7eULL);
  CHECK(gen.next_u64() == 0xae17533239e499a1ULL);
  CHECK(gen.next_u64() == 0xecb8ad4703b360a1ULL);

  // uniform01 = (next >> 11) * 2^-53, exactly.
  Generator u(42);
  CHECK(u.uniform01() == 0x1.5780b2e0c2ec0p-4);
  CHECK(u.uniform01() == 0x1.84136619b444ep-2);
  CHECK(u.uniform01() == 0x1.5c2ea66473c93p-1);

  // uniform() draws from the generator in row-major order.
  Generator t(42);
  Tensor x = uniform({3}, 0.0, 1.0, t, f64);
  CHECK(x.at({0}) == 0x1.5780b2e0c2ec0p-4);
  CHECK(x.at({1}) == 0x1.84136619b444ep-2);
  CHECK(x.at({2}) == 0x1.5c2ea66473c93p-1);

  // Box-Muller from the first two uniforms of Generator(7).
  Generator n(7);
  CHECK(n.normal() == doctest::Approx(-0.15157274547711355).epsilon(1e-12));

  // seed_state restarts the stream.
  gen.seed_state(42);
  CHECK(gen.next_u64() == 0x15780b2e0c2ec716ULL);
}

TEST_CASE("random: seeded tensors are deterministic") {
  Generator a(123), b(123), c(124);
  const std::vector<double> ua = uniform({50}, -2.0, 3.0, a).to_vector();
  const std::vector<double> ub = uniform({50}, -2.0, 3.0, b).to_vector();
  const std::vector<double> uc = uniform({50}, -2.0, 3.0, c).to_vector();
  CHECK(ua == ub);
  CHECK(ua != uc);
  // The generator advanced: the next tensor differs from the first.
  const std::vector<double> na = normal({50}, 0.0, 1.0, a, f64).to_vector();
  const std::vector<double> nb = normal({50}, 0.0, 1.0, b, f64).to_vector();
  CHECK(na == nb);
  CHECK(na != normal({50}, 0.0, 1.0, c, f64).to_vector());
  CHECK(uniform({50}, -2.0, 3.0, a).to_vector() != ua);

  Generator d(5);
  std::vector<int> counts(7, 0);
  bool in_range = true;
  for (int i = 0; i < 7000; ++i) {
    const uint64_t v = d.below(7);
    in_range = in_range && v < 7;
    if (v < 7) ++counts[v];
  }
  CHECK(in_range);
  for (int c7 : counts) CHECK((c7 > 800 && c7 < 1200));
}

TEST_CASE("random: uniform stays within bounds and normal has the right moments") {
  Generator gen(2024);
  constexpr int64_t n = 100000;
  {
    const std::vector<double> v = uniform({n}, -3.0, 5.0, gen, f64).to_vector();
    double lo = v[0], hi = v[0], total = 0;
    for (double e : v) {
      lo = std::min(lo, e);
      hi = std::max(hi, e);
      total += e;
    }
    CHECK(lo >= -3.0);
    CHECK(hi < 5.0);
    CHECK(lo < -2.99);  // the whole range is covered
    CHECK(hi > 4.99);
    CHECK(total / n == doctest::Approx(1.0).epsilon(0.02));
  }
  {
    const std::vector<double> v = uniform({n}, 0.25, 0.5, gen, f32).to_vector();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    CHECK(*lo >= 0.25);
    CHECK(*hi <= 0.5);
  }
  {
    const std::vector<double> v = normal({n}, 1.5, 2.0, gen, f64).to_vector();
    double total = 0, squares = 0;
    for (double e : v) total += e;
    const double mean = total / n;
    for (double e : v) squares += (e - mean) * (e - mean);
    const double stddev = std::sqrt(squares / (n - 1));
    // Standard errors are 0.006 for the mean and 0.0045 for the deviation.
    CHECK(std::abs(mean - 1.5) < 0.03);
    CHECK(std::abs(stddev - 2.0) < 0.03);
  }
  CHECK_THROWS_WITH_AS(uniform({2}, 1.0, 0.0, gen), doctest::Contains("low"), Error);
  CHECK_THROWS_WITH_AS(normal({2}, 0.0, -1.0, gen), doctest::Contains("stddev"), Error);
}

// ---- dtypes ----

TEST_CASE("dtype: conversion with to() and gradients through a cast") {
  CHECK(parse_dtype("f32") == f32);
  CHECK(parse_dtype("float32") == f32);
  CHECK(parse_dtype("f64") == f64);
  CHECK(parse_dtype("float64") == f64);
  CHECK(dtype_name(f64) == "f64");
  CHECK(dtype_size(f32) == 4);
  CHECK(dtype_size(f64) == 8);

  // f32 -> f64 -> f32 is exact.
  Tensor a = from_data({0.1, -2.75, 1e-20, 3e30}, {2, 2}, f32);
  Tensor a64 = a.to(f64);
  CHECK(a64.dtype() == f64);
  CHECK(a64.shape() == a.shape());
  CHECK(a64.to_vector() == a.to_vector());
  CHECK(a64.at({0, 0}) == static_cast<double>(0.1f));
  CHECK(a64.to(f32).to_vector() == a.to_vector());
  CHECK(a64.raw_data() != a.raw_data());

  // f64 -> f32 rounds to the nearest float.
  Tensor b = from_data({0.1, 1.0 / 3.0}, {2}, f64);
  Tensor b32 = b.to(f32);
  CHECK(b32.dtype() == f32);
  CHECK(b32.at({0}) == static_cast<double>(0.1f));
  CHECK(b32.at({1}) == static_cast<double>(1.0f / 3.0f));
  check_values(b32.to(f64), {0.1, 1.0 / 3.0}, 1e-7);

  // to() with the same dtype is a copy, not a view.
  Tensor same = b.to(f64);
  CHECK(same.raw_data() != b.raw_data());
  check_values(same, {0.1, 1.0 / 3.0});

  // Gradients flow back through casts in both directions, in the input's dtype.
  Tensor x = from_data({0.5, -1.5}, {2}, f32);
  x.requires_grad_();
  Tensor y = sum(square(x.to(f64)));
  CHECK(y.dtype() == f64);
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == f32);
  check_values(x.grad(), {1.0, -3.0});

  Tensor w = from_data({2.0, 4.0}, {2}, f64);
  w.requires_grad_();
  sum(mul(w.to(f32), 3.0)).backward();
  CHECK(w.grad().dtype() == f64);
  check_values(w.grad(), {3.0, 3.0});
}

// ---- Shared storage ----

TEST_CASE("tensor: reshape shares storage and its version counter") {
  Tensor x = arange(6);
  Tensor r = reshape(x, {2, 3});
  CHECK(r.shape() == Shape{2, 3});
  CHECK(x.shape() == Shape{6});
  CHECK(r.raw_data() == x.raw_data());
  CHECK(r.at({1, 2}) == 5.0);

  r.mul_(2.0);  // a write through one is visible through the other
  check_values(x, {0, 2, 4, 6, 8, 10});
  CHECK(x.version() == 1);
  CHECK(r.version() == 1);
  x.fill_(7.0);
  CHECK(r.at({1, 0}) == 7.0);
  CHECK(r.version() == 2);
  r.data<float>()[4] = -1.0f;
  CHECK(x.at({4}) == -1.0);

  Tensor inferred = reshape(x, {-1, 2});
  CHECK(inferred.shape() == Shape{3, 2});
  CHECK(inferred.raw_data() == x.raw_data());
  CHECK(flatten(r).raw_data() == x.raw_data());
  CHECK(unsqueeze(x, 0).shape() == Shape{1, 6});
  CHECK(squeeze(unsqueeze(x, 1), 1).raw_data() == x.raw_data());

  // The copies made by clone() do not share.
  Tensor c = x.clone();
  CHECK(c.raw_data() != x.raw_data());
  c.fill_(0.0);
  CHECK(x.at({0}) == 7.0);
  CHECK(x.version() == 2);
}

TEST_CASE("tensor: the storage pool reuses freed buffers") {
  const MemoryStats before = memory_stats();
  {
    Tensor t = zeros({1000}, f64);
    CHECK(memory_stats().bytes_in_use >= before.bytes_in_use + 8000);
  }
  CHECK(memory_stats().bytes_in_use == before.bytes_in_use);
  CHECK(memory_stats().bytes_cached >= 8000);
  const uint64_t allocs = memory_stats().system_allocs;
  {
    Tensor t = ones({1000}, f64);  // served from the cache
    Tensor u = reshape(t, {10, 100});
    CHECK(memory_stats().system_allocs == allocs);
  }
  release_cached_memory();
  CHECK(memory_stats().bytes_cached == 0);
  CHECK(memory_stats().bytes_in_use == before.bytes_in_use);
  {
    Tensor t = ones({1000}, f64);  // the cache is empty now
    CHECK(memory_stats().system_allocs > allocs);
  }
}

// Tensors over 32 MiB are not pooled: they go back to the system when freed, and
// they start on a 2 MiB boundary, in whole 2 MiB units, so that the kernel can back
// them with transparent huge pages.
TEST_CASE("tensor: large buffers bypass the pool, aligned to 2 MiB for huge pages") {
  const MemoryStats before = memory_stats();
  constexpr size_t kHugePage = size_t{2} << 20;
  {
    const Tensor t = zeros({(int64_t{33} << 20) / 4 + 5}, f32);  // 33 MiB + 20 bytes
    CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % kHugePage == 0);
    CHECK(memory_stats().bytes_in_use - before.bytes_in_use == 34 * (size_t{1} << 20));
    CHECK(memory_stats().system_allocs == before.system_allocs + 1);
    CHECK(t.data<float>()[t.numel() - 1] == 0.0f);  // the whole extent is usable
  }
  CHECK(memory_stats().bytes_in_use == before.bytes_in_use);
  CHECK(memory_stats().bytes_cached == before.bytes_cached);  // returned, not cached
}

// ---- Printing ----

TEST_CASE("tensor: printing") {
  Tensor a = from_data({1.0, 2.5, -3.0, 4.0, 5.0, 6.0}, {2, 3});
  CHECK(a.str() == "tensor(shape=[2, 3], dtype=f32)\n[[1, 2.5, -3],\n [4, 5, 6]]");
  CHECK(fmt::format("{}", a) == a.str());
  std::ostringstream os;
  os << a;
  CHECK(os.str() == a.str());

  Tensor v = from_data({0.125, 1e-7}, {2}, f64);
  v.requires_grad_();
  const std::string vs = v.str();
  CHECK(contains(vs, "shape=[2]"));
  CHECK(contains(vs, "dtype=f64"));
  CHECK(contains(vs, "requires_grad"));
  CHECK(contains(vs, "0.125"));
  CHECK(contains(vs, "1e-07"));

  CHECK(scalar_tensor(3.5, f64).str() == "tensor(shape=[], dtype=f64)\n3.5");
  CHECK(Tensor().str() == "tensor(undefined)");

  SUBCASE("a large tensor is elided") {
    Tensor big = reshape(arange(10000), {100, 100});
    const std::string s = big.str();
    CHECK(contains(s, "shape=[100, 100]"));
    CHECK(contains(s, "..."));
    CHECK(s.size() < 600);
    CHECK(contains(s, "[[0, 1, 2, ..., 97, 98, 99],"));
    CHECK(contains(s, "[9900, 9901, 9902, ..., 9997, 9998, 9999]]"));
    CHECK_FALSE(contains(s, "5050"));
    // A small tensor is printed in full.
    CHECK_FALSE(contains(arange(20).str(), "..."));
    CHECK(contains(arange(20).str(), "19"));
  }
}

TEST_CASE("shape and dtype printing") {
  CHECK(Shape{2, 3}.str() == "[2, 3]");
  CHECK(Shape{}.str() == "[]");
  CHECK(Shape{7}.str() == "[7]");
  CHECK(fmt::format("{}", Shape{4, 1, 5}) == "[4, 1, 5]");
  CHECK(fmt::format("shape {} of {}", Shape{}, f32) == "shape [] of f32");
  CHECK(fmt::format("{}", f64) == "f64");
  CHECK(Shape{2, 3, 4}.numel() == 24);
  CHECK(Shape{}.numel() == 1);
}

// ---- Errors: each names what went wrong ----

TEST_CASE("errors: matmul shape mismatch names both shapes and the dimensions") {
  const std::string msg = error_message([] { matmul(zeros({64, 784}), zeros({128, 10})); });
  CHECK(contains(msg, "matmul"));
  CHECK(contains(msg, "[64, 784]"));
  CHECK(contains(msg, "[128, 10]"));
  CHECK(contains(msg, "784 columns"));
  CHECK(contains(msg, "128 rows"));
  // With a transpose flag the message says so.
  const std::string t = error_message([] { matmul(zeros({3, 4}), zeros({4, 3}), false, true); });
  CHECK(contains(t, "(transposed)"));
}

TEST_CASE("errors: broadcasting and dtypes") {
  {
    const std::string msg = error_message([] { add(zeros({2, 3}), zeros({4})); });
    CHECK(contains(msg, "add"));
    CHECK(contains(msg, "[2, 3]"));
    CHECK(contains(msg, "[4]"));
    CHECK(contains(msg, "3 vs 4"));
  }
  {
    const std::string msg = error_message([] { add(zeros({2}, f32), zeros({2}, f64)); });
    CHECK(contains(msg, "add"));
    CHECK(contains(msg, "f32"));
    CHECK(contains(msg, "f64"));
  }
  CHECK_THROWS_WITH_AS(mul(ones({3}, f64), ones({3}, f32)), doctest::Contains("different dtypes"),
                       Error);
}

TEST_CASE("errors: indices out of range") {
  const std::vector<int64_t> rows = {0, 3};
  {
    const std::string msg = error_message([&] { index_select(zeros({3, 2}), 0, rows); });
    CHECK(contains(msg, "index_select"));
    CHECK(contains(msg, "index 3"));
    CHECK(contains(msg, "size 3"));
  }
  CHECK_THROWS_WITH_AS(index_select(zeros({3, 2}), 1, std::vector<int64_t>{-1}),
                       doctest::Contains("index -1"), Error);
  {
    const std::vector<int64_t> labels = {1, 3};
    const std::string msg = error_message([&] { cross_entropy(zeros({2, 3}), labels); });
    CHECK(contains(msg, "cross_entropy"));
    CHECK(contains(msg, "label 3"));
    CHECK(contains(msg, "[0, 3)"));
  }
  {
    const std::vector<int64_t> labels = {0};
    CHECK_THROWS_WITH_AS(cross_entropy(zeros({2, 3}), labels), doctest::Contains("1 labels"),
                         Error);
  }
}

TEST_CASE("errors: shape ops") {
  {
    const std::string msg = error_message([] { reshape(zeros({2, 3}), {4}); });
    CHECK(contains(msg, "reshape"));
    CHECK(contains(msg, "[2, 3]"));
    CHECK(contains(msg, "6 elements"));
    CHECK(contains(msg, "4 elements"));
  }
  CHECK_THROWS_WITH_AS(reshape(zeros({2, 3}), {-1, 4}), doctest::Contains("cannot reshape"), Error);
  {
    const std::string msg = error_message([] { permute(zeros({2, 3}), {0, 0}); });
    CHECK(contains(msg, "permute"));
    CHECK(contains(msg, "appears twice"));
  }
  {
    const std::string msg = error_message([] { narrow(zeros({4, 2}), 0, 2, 3); });
    CHECK(contains(msg, "narrow"));
    CHECK(contains(msg, "[2, 5)"));
    CHECK(contains(msg, "size 4"));
  }
  {
    const std::string msg = error_message([] { concat({zeros({2, 3}), zeros({2, 4})}, 0); });
    CHECK(contains(msg, "concat"));
    CHECK(contains(msg, "[2, 4]"));
    CHECK(contains(msg, "[2, 3]"));
  }
  {
    const std::string msg = error_message([] { squeeze(zeros({2, 1}), 0); });
    CHECK(contains(msg, "squeeze"));
    CHECK(contains(msg, "size 2, not 1"));
  }
  CHECK(squeeze(zeros({2, 1}), 1).shape() == Shape{2});
}

TEST_CASE("errors: element access and creation") {
  {
    const std::string msg = error_message([] { zeros({2}).item(); });
    CHECK(contains(msg, "item"));
    CHECK(contains(msg, "2 elements"));
  }
  CHECK(zeros({1, 1}).item() == 0.0);  // any one-element tensor is fine
  {
    const std::string msg = error_message([] { zeros({2, 3}).at({1, 3}); });
    CHECK(contains(msg, "at"));
    CHECK(contains(msg, "index 3"));
    CHECK(contains(msg, "axis 1"));
  }
  CHECK_THROWS_WITH_AS(zeros({2, 3}).at({1}), doctest::Contains("1 indices"), Error);
  {
    const std::string msg = error_message([] { from_data({1.0, 2.0, 3.0, 4.0, 5.0}, {2, 3}); });
    CHECK(contains(msg, "from_data"));
    CHECK(contains(msg, "5 values"));
    CHECK(contains(msg, "6 elements"));
  }
  CHECK_THROWS_WITH_AS(zeros({2}).data<double>(), doctest::Contains("f32"), Error);
  CHECK_THROWS_WITH_AS(Tensor().shape(), doctest::Contains("undefined"), Error);
}

TEST_CASE("errors: axes and dtype names") {
  CHECK(normalize_axis(-1, 3, "op") == 2);
  CHECK(normalize_axis(2, 3, "op") == 2);
  CHECK(normalize_axis(-3, 3, "op") == 0);
  {
    const std::string msg = error_message([] { normalize_axis(3, 3, "my_op"); });
    CHECK(contains(msg, "my_op"));
    CHECK(contains(msg, "axis 3"));
    CHECK(contains(msg, "rank 3"));
  }
  CHECK_THROWS_WITH_AS(normalize_axis(-4, 3, "my_op"), doctest::Contains("axis -4"), Error);
  CHECK_THROWS_WITH_AS(zeros({2, 3}).size(2), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(sum(zeros({2, 3}), {5}), doctest::Contains("sum"), Error);
  {
    const std::string msg = error_message([] { parse_dtype("int8"); });
    CHECK(contains(msg, "int8"));
    CHECK(contains(msg, "f32"));
  }
  CHECK_THROWS_AS(parse_dtype(""), Error);
}

TEST_CASE("matmul of one row equals the sum of products, for every transpose flag") {
  // [1, 3] @ [3, 2]: [1 2 3] times columns [1 3 5] and [2 4 6] gives 22 and 28.
  for (const DType dtype : {DType::f32, DType::f64}) {
    const Tensor row = from_data({1, 2, 3}, Shape{1, 3}, dtype);
    const Tensor b = from_data({1, 2, 3, 4, 5, 6}, Shape{3, 2}, dtype);
    const Tensor b_t = from_data({1, 3, 5, 2, 4, 6}, Shape{2, 3}, dtype);
    const Tensor column = from_data({1, 2, 3}, Shape{3, 1}, dtype);
    const std::vector<double> expected{22, 28};
    CHECK(matmul(row, b).to_vector() == expected);
    CHECK(matmul(row, b_t, false, true).to_vector() == expected);
    CHECK(matmul(column, b, true, false).to_vector() == expected);
    CHECK(matmul(column, b_t, true, true).to_vector() == expected);
  }
}

// f32 sigmoid uses a vectorised exp of its own (autograd/src/fast_math.hpp); its
// results must stay within a few ulp of the exactly rounded sigmoid everywhere,
// including the subnormal tail, and keep NaN and the infinite limits.
TEST_CASE("sigmoid in f32 is within 4 ulp of the exact value, subnormals included") {
  std::vector<float> inputs;
  for (float v = -110.0f; v <= 30.0f; v += 0.00731f) inputs.push_back(v);
  const Tensor x =
      from_data(std::span<const float>(inputs), Shape{static_cast<int64_t>(inputs.size())});
  const Tensor y = sigmoid(x);
  const float* got = y.data<float>();
  int64_t worst_ulp = 0;
  float worst_input = 0;
  int64_t subnormal_results = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const double v = inputs[i];
    const auto exact = static_cast<float>(1.0 / (1.0 + std::exp(-v)));
    const int64_t ulp = std::abs(static_cast<int64_t>(std::bit_cast<int32_t>(got[i])) -
                                 static_cast<int64_t>(std::bit_cast<int32_t>(exact)));
    if (ulp > worst_ulp) worst_ulp = ulp, worst_input = inputs[i];
    if (std::fpclassify(exact) == FP_SUBNORMAL) ++subnormal_results;
  }
  INFO("worst input " << worst_input);
  CHECK(worst_ulp <= 4);
  CHECK(subnormal_results > 100);  // the sweep reached the subnormal tail

  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 0.0f, -200.0f};
  const Tensor s = sigmoid(from_data(std::span<const float>(specials), Shape{5}));
  CHECK(std::isnan(s.data<float>()[0]));
  CHECK(s.data<float>()[1] == 1.0f);
  CHECK(s.data<float>()[2] == 0.0f);
  CHECK(s.data<float>()[3] == 0.5f);
  CHECK(s.data<float>()[4] == 0.0f);
}

TEST_CASE("argmax_rows: first maximum per row, into a vector or a caller's buffer") {
  for (const DType dtype : {f32, f64}) {
    // Rows: a clear maximum, a tie (the first wins), all negative.
    const Tensor x = from_data({0, 5, 1, 2, 7, 7, -3, -1, -2}, Shape{3, 3}, dtype);
    CHECK(argmax_rows(x) == std::vector<int64_t>{1, 1, 1});
    const Tensor y = from_data({3, 1, 2, 9, 9, 0}, Shape{2, 3}, dtype);
    std::vector<int64_t> out(2, -1);
    argmax_rows(y, out);
    CHECK(out == std::vector<int64_t>{0, 0});
  }
  std::vector<int64_t> three(3);
  {
    const std::string msg = error_message([&] { argmax_rows(zeros({2, 4}), three); });
    CHECK(contains(msg, "argmax_rows"));
    CHECK(contains(msg, "3 entries"));
    CHECK(contains(msg, "2 rows"));
    CHECK(contains(msg, "[2, 4]"));
  }
  CHECK_THROWS_WITH_AS(argmax_rows(zeros({6})), doctest::Contains("expects a 2-D tensor"), Error);
  CHECK_THROWS_WITH_AS(argmax_rows(zeros({3, 0}), three), doctest::Contains("are empty"), Error);
}

TEST_CASE("threshold_rows: 1 where a row's single value exceeds the threshold") {
  for (const DType dtype : {f32, f64}) {
    const Tensor x = from_data({0.2, 0.5, 0.7, -1.0}, Shape{4, 1}, dtype);
    std::vector<int64_t> out(4, -1);
    threshold_rows(x, 0.5, out);  // strictly greater: 0.5 itself is class 0
    CHECK(out == std::vector<int64_t>{0, 0, 1, 0});
    threshold_rows(x, 0.0, out);
    CHECK(out == std::vector<int64_t>{1, 1, 1, 0});
  }
  std::vector<int64_t> out(1, -1);
  threshold_rows(from_data({std::nan("")}, Shape{1, 1}), 0.0, out);
  CHECK(out[0] == 0);
  std::vector<int64_t> three(3);
  CHECK_THROWS_WITH_AS(threshold_rows(zeros({3, 2}), 0.5, three),
                       "threshold_rows: expects one value per row, got shape [3, 2]", Error);
  CHECK_THROWS_WITH_AS(threshold_rows(zeros({3}), 0.5, three),
                       "threshold_rows: expects a 2-D tensor, got shape [3]", Error);
  CHECK_THROWS_WITH_AS(threshold_rows(zeros({3, 0}), 0.5, three),
                       "threshold_rows: rows of shape [3, 0] are empty", Error);
  CHECK_THROWS_WITH_AS(threshold_rows(zeros({2, 1}), 0.5, three),
                       "threshold_rows: the output has 3 entries for the 2 rows of shape [2, 1]",
                       Error);
}
