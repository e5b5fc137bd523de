// `tapegrad example`: trains a two-layer network on a three-arm spiral, written
// directly with autograd ops (no nn module), and reports the tape's memory use.
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>

#include "tapegrad/autograd.hpp"
#include "tapegrad/commands.hpp"

namespace tapegrad::apps {

namespace {

struct ExampleOptions {
  int iterations = 1000;
  int hidden = 32;
  double lr = 0.5;
  uint64_t seed = 0;
  int points_per_class = 100;
};

// Three interleaved spiral arms in 2-D, one class per arm.
void make_spiral(int per_class, Generator& gen, Tensor& x, std::vector<int64_t>& labels) {
  const int classes = 3;
  std::vector<double> values;
  for (int c = 0; c < classes; ++c) {
    for (int i = 0; i < per_class; ++i) {
      const double r = static_cast<double>(i) / per_class;
      const double angle = c * 4.0 + r * 4.0 + 0.2 * gen.normal();
      values.push_back(r * std::sin(angle));
      values.push_back(r * std::cos(angle));
      labels.push_back(c);
    }
  }
  x = from_data(values, Shape{classes * per_class, 2}, DType::f32);
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

int run_example(const ExampleOptions& o) {
  Generator gen(o.seed);
  Tensor x;
  std::vector<int64_t> y;
  make_spiral(o.points_per_class, gen, x, y);

  // Parameters, stored [out, in] as PyTorch does; Glorot-uniform initialisation.
  auto glorot = [&](int64_t out, int64_t in) {
    const double a = std::sqrt(6.0 / static_cast<double>(in + out));
    return uniform({out, in}, -a, a, gen).requires_grad_();
  };
  Tensor w1 = glorot(o.hidden, 2), b1 = zeros({o.hidden}).requires_grad_();
  Tensor w2 = glorot(3, o.hidden), b2 = zeros({3}).requires_grad_();
  std::vector<Tensor> params{w1, b1, w2, b2};

  fmt::print("training 2-{}-3 tanh network on a 3-class spiral ({} points), SGD lr {}\n", o.hidden,
             x.shape()[0], o.lr);
  const auto start = std::chrono::steady_clock::now();
  size_t capacity_after_first = 0;
  double loss_value = 0;
  for (int it = 1; it <= o.iterations; ++it) {
    Tensor hidden = tanh(add(matmul(x, w1, false, true), b1));
    Tensor logits = add(matmul(hidden, w2, false, true), b2);
    Tensor loss = cross_entropy(logits, y);
    for (Tensor& p : params) p.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;  // the update is not part of the graph
      for (Tensor& p : params) p.add_(p.grad(), -o.lr);
    }
    loss_value = loss.item();
    if (it == 1) capacity_after_first = tape_stats().node_capacity;
    if (it == 1 || it % (o.iterations / 10 > 0 ? o.iterations / 10 : 1) == 0) {
      fmt::print("iteration {:5d}  loss {:.4f}\n", it, loss_value);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  NoGradGuard no_grad;
  Tensor logits = add(matmul(tanh(add(matmul(x, w1, false, true), b1)), w2, false, true), b2);
  const std::vector<int64_t> predicted = argmax_rows(logits);
  int correct = 0;
  for (size_t i = 0; i < y.size(); ++i) correct += predicted[i] == y[i] ? 1 : 0;
  const TapeStats stats = tape_stats();
  fmt::print("final loss {:.4f}, training accuracy {:.1f}% in {:.2f} s\n", loss_value,
             100.0 * correct / static_cast<double>(y.size()), seconds);
  fmt::print(
      "tape: {} nodes recorded in all, arena capacity {} nodes after the first iteration and {} "
      "after the last; peak RSS {} KiB\n",
      stats.recorded, capacity_after_first, stats.node_capacity, peak_rss_kib());
  return 0;
}

}  // namespace

void add_example_command(CLI::App& app) {
  auto options = std::make_shared<ExampleOptions>();
  CLI::App* cmd = app.add_subcommand(
      "example", "Train a small network written directly with autograd ops (no nn module)");
  cmd->add_option("--iterations", options->iterations, "Training iterations")
      ->check(positive())
      ->capture_default_str();
  cmd->add_option("--hidden", options->hidden, "Hidden units")
      ->check(positive())
      ->capture_default_str();
  cmd->add_option("--lr", options->lr, "Learning rate")->check(positive())->capture_default_str();
  cmd->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  cmd->callback([options]() {
    const int status = run_example(*options);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace tapegrad::apps
