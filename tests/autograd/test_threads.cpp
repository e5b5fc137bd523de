// set_num_threads: large products split across the pool give the single-thread
// result, for every transpose flag and both ways of splitting; ops running on
// several user threads at once stay correct; bad thread counts are errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "test_helpers.hpp"

using namespace tapegrad;

namespace {
// Restores one thread when a test ends, whatever happens in it.
struct ThreadsGuard {
  explicit ThreadsGuard(int n) { set_num_threads(n); }
  ~ThreadsGuard() { set_num_threads(1); }
};

double max_abs_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}
}  // namespace

TEST_CASE("threads: split products equal the single-thread ones") {
  Generator gen(5);
  // [m, k] x [k, n] with m*n*k above the split threshold: wide C (split by
  // columns) and tall C (split by rows), in f32 and f64.
  const int64_t shapes[][3] = {{64, 512, 784}, {700, 100, 300}};
  for (const auto& [m, n, k] : shapes) {
    for (const DType dtype : {DType::f32, DType::f64}) {
      for (int flags = 0; flags < 4; ++flags) {
        const bool ta = flags & 1, tb = flags & 2;
        CAPTURE(m);
        CAPTURE(flags);
        const Tensor a = uniform(ta ? Shape{k, m} : Shape{m, k}, -1, 1, gen, dtype);
        const Tensor b = uniform(tb ? Shape{n, k} : Shape{k, n}, -1, 1, gen, dtype);
        set_num_threads(1);
        const Tensor single = matmul(a, b, ta, tb);
        Tensor split;
        {
          ThreadsGuard threads(3);
          CHECK(get_num_threads() == 3);
          split = matmul(a, b, ta, tb);
        }
        CHECK(get_num_threads() == 1);
        CHECK(max_abs_difference(single, split) <= (dtype == DType::f32 ? 1e-3 : 1e-10));
      }
    }
  }
}

TEST_CASE("threads: a training step gives the same gradients on two threads") {
  Generator gen(6);
  const Tensor x = uniform({256, 300}, 0, 1, gen);  // products of 256 x 512 x 300
  const std::vector<int64_t> y(256, 3);
  Tensor w = uniform({512, 300}, -0.1, 0.1, gen).requires_grad_();
  auto gradient = [&] {
    w.set_grad(Tensor());
    cross_entropy(matmul(sigmoid(matmul(x, w, false, true)), w), y).backward();
    return w.grad().clone();
  };
  const Tensor one = gradient();
  ThreadsGuard threads(2);
  for (int i = 0; i < 50; ++i) CHECK(max_abs_difference(one, gradient()) <= 1e-6);
}

TEST_CASE("threads: user threads running products at once each get their own result") {
  ThreadsGuard threads(2);
  Generator gen(7);
  const Tensor a = uniform({128, 400}, -1, 1, gen);
  const Tensor b = uniform({400, 256}, -1, 1, gen);
  const std::vector<double> expected = matmul(a, b).to_vector();
  std::vector<int> correct(4, 0);
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t) {
    users.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::vector<double> got = matmul(a, b).to_vector();
        bool same = got.size() == expected.size();
        for (size_t j = 0; same && j < got.size(); ++j)
          same = std::abs(got[j] - expected[j]) < 1e-3;
        correct[static_cast<size_t>(t)] += same ? 1 : 0;
      }
    });
  }
  for (std::thread& u : users) u.join();
  for (int c : correct) CHECK(c == 20);
}

TEST_CASE("threads: a thread count below one is an error") {
  CHECK(test_helpers::error_message([] { set_num_threads(0); }) ==
        "set_num_threads: the thread count must be positive, got 0");
  CHECK(get_num_threads() == 1);
}

TEST_CASE("threads: set_flush_denormal makes subnormal results zero, on the workers too") {
  // Every product 1e-20 * 1e-20 = 1e-40 is subnormal in f32; the matrix is large
  // enough for the product to be split across the workers.
  ThreadsGuard threads(2);
  const Tensor a = full({256, 256}, 1e-20);
  const Tensor b = full({256, 256}, 1e-20);
  const Tensor x = full({4}, 1e-20);
  auto smallest = [](const Tensor& t) {
    const std::vector<double> v = t.to_vector();
    return *std::min_element(v.begin(), v.end());
  };
  CHECK(smallest(matmul(a, b)) > 0);  // 256 * 1e-40, subnormal but not zero
  CHECK(smallest(mul(x, x)) > 0);
  REQUIRE(set_flush_denormal(true));
  CHECK(smallest(matmul(a, b)) == 0);
  CHECK(smallest(mul(x, x)) == 0);
  REQUIRE(set_flush_denormal(false));
  CHECK(smallest(matmul(a, b)) > 0);
  CHECK(smallest(mul(x, x)) > 0);
}
