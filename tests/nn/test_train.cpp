// The training loop's helpers and fit() on small data.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "tapegrad/nn/data.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/train.hpp"

using namespace tapegrad;
using namespace tapegrad::nn;

TEST_CASE("BatchSampler covers every index once per epoch, seeded") {
  Generator g1(4), g2(4);
  BatchSampler a(10, 4, true, g1), b(10, 4, true, g2);
  a.new_epoch();
  b.new_epoch();
  CHECK(a.num_batches() == 3);
  std::multiset<int64_t> seen;
  for (int64_t k = 0; k < a.num_batches(); ++k) {
    const auto ba = a.batch(k), bb = b.batch(k);
    CHECK(std::equal(ba.begin(), ba.end(), bb.begin(), bb.end()));
    seen.insert(ba.begin(), ba.end());
  }
  CHECK(a.batch(2).size() == 2);
  CHECK(seen == std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  std::vector<int64_t> first(a.batch(0).begin(), a.batch(0).end());
  a.new_epoch();
  std::vector<int64_t> second(a.batch(0).begin(), a.batch(0).end());
  CHECK(first != second);  // reshuffled
  CHECK_THROWS_WITH_AS(BatchSampler(10, 0, true, g1),
                       doctest::Contains("batch size must be positive"), Error);
}

TEST_CASE("predict_classes: argmax, or a threshold for one output") {
  const Tensor wide = from_data({0.1, 0.7, 0.2, 0.5, 0.4, 0.1}, {2, 3});
  CHECK(predict_classes(wide) == std::vector<int64_t>{1, 0});
  const Tensor single = from_data({0.2, 0.6, -0.1}, {3, 1});
  CHECK(predict_classes(single, 0.5) == std::vector<int64_t>{0, 1, 0});
  CHECK(predict_classes(single, 0.0) == std::vector<int64_t>{1, 1, 0});
  // A sigmoid head gives probabilities (threshold 0.5); any other head a score (0).
  CHECK(decision_threshold(Activation::sigmoid) == 0.5);
  CHECK(decision_threshold(Activation::identity) == 0.0);
  CHECK(decision_threshold(Activation::tanh) == 0.0);
  // No outputs at all: an error, not a read past the tensor.
  CHECK_THROWS_WITH_AS(predict_classes(zeros({3, 0})),
                       "threshold_rows: rows of shape [3, 0] are empty", Error);
}

TEST_CASE("confusion_matrix counts [true][predicted]") {
  const std::vector<int64_t> predicted{0, 1, 1, 2}, labels{0, 1, 2, 2};
  const auto m = confusion_matrix(predicted, labels, 3);
  CHECK(m[0][0] == 1);
  CHECK(m[1][1] == 1);
  CHECK(m[2][1] == 1);
  CHECK(m[2][2] == 1);
  CHECK(m[1][2] == 0);
  CHECK_THROWS_WITH_AS(confusion_matrix(std::vector<int64_t>{3}, std::vector<int64_t>{0}, 3),
                       doctest::Contains("outside [0, 3)"), Error);
}

TEST_CASE("EarlyStopping stops after patience epochs and restores the best weights") {
  auto model = make_mlp({{2, 1}});
  EarlyStopping stop(2);
  Tensor w = model->parameters()[0];
  auto set_w = [&](double v) {
    NoGradGuard g;
    w.fill_(v);
  };
  set_w(1.0);
  CHECK_FALSE(stop.update(0.5, 1, *model));
  set_w(2.0);
  CHECK_FALSE(stop.update(0.4, 2, *model));  // best so far
  set_w(3.0);
  CHECK_FALSE(stop.update(0.45, 3, *model));
  set_w(4.0);
  CHECK(stop.update(0.41, 4, *model));  // second epoch without improvement
  CHECK(stop.best_epoch() == 2);
  stop.restore_best(*model);
  CHECK(w.to_vector() == std::vector<double>{2.0, 2.0});
  CHECK_THROWS_WITH_AS(EarlyStopping(0), doctest::Contains("patience must be positive"), Error);
}

TEST_CASE("evaluate gives the loss and accuracy of a fixed model") {
  // One output equal to x0 - x1 through a sigmoid head: predicts x0 > x1.
  auto model = make_mlp({{2, 1}, Activation::sigmoid, Activation::sigmoid, false});
  {
    NoGradGuard g;
    model->parameters()[0].copy_(from_data({10.0, -10.0}, {1, 2}));
  }
  Dataset d;
  d.features = from_data({0.9, 0.1, 0.2, 0.8, 0.6, 0.5}, {3, 2});
  d.labels = {1, 0, 0};  // the third is mislabelled
  d.num_classes = 2;
  const Metrics m = evaluate(*model, d, LossKind::mse, 2);
  CHECK(m.accuracy == doctest::Approx(2.0 / 3.0));
  CHECK(m.count == 3);
  CHECK(model->is_training());  // restored after evaluation
}

TEST_CASE("fit learns report 004's linear set and stops at the target loss") {
  Generator gen(0);
  DataSplits data;
  data.train = make_linear(100, gen);
  data.test = data.train;
  auto model = make_mlp({{2, 3, 3, 1}, Activation::sigmoid, Activation::sigmoid, false});
  init_module(*model, parse_init("glorot_sigmoid"), gen);
  SGD sgd(model->parameters(), {.lr = 0.8});
  TrainOptions o;
  o.epochs = 3000;
  o.batch_size = 1;
  o.target_loss = 0.04;
  const TrainResult r = fit(*model, sgd, nullptr, data, LossKind::mse, o, gen);
  CHECK(r.reached_target);
  CHECK(r.epochs.back().train_loss < 0.04);
  CHECK(r.final_test.accuracy > 0.9);
}

TEST_CASE("fit with early stopping restores the best epoch's weights") {
  Generator gen(1);
  DataSplits data;
  auto [train, validation] = split_fraction(make_linear(200, gen), 0.25, 3);
  data.train = train;
  data.validation = validation;
  data.test = validation;
  auto model = make_mlp({{2, 8, 2}, Activation::tanh});
  init_module(*model, parse_init("glorot"), gen);
  SGD sgd(model->parameters(), {.lr = 0.5, .momentum = 0.9});
  TrainOptions o;
  o.epochs = 60;
  o.batch_size = 16;
  o.patience = 3;
  const TrainResult r = fit(*model, sgd, nullptr, data, LossKind::cross_entropy, o, gen);
  REQUIRE(r.best_epoch >= 1);
  double best = 1e9;
  for (const auto& e : r.epochs) best = std::min(best, e.validation.loss);
  // After restoring, the validation loss is the best one seen.
  CHECK(evaluate(*model, data.validation, LossKind::cross_entropy).loss ==
        doctest::Approx(best).epsilon(1e-6));
  if (r.stopped_early) CHECK(static_cast<int>(r.epochs.size()) == r.best_epoch + 3);
}

TEST_CASE("fit with an L2 penalty shrinks the weights") {
  auto run = [](double l2) {
    Generator gen(2);
    DataSplits data;
    data.train = make_linear(64, gen);
    data.test = data.train;
    auto model = make_mlp({{2, 4, 2}, Activation::tanh});
    init_module(*model, parse_init("glorot"), gen);
    SGD sgd(model->parameters(), {.lr = 0.3});
    TrainOptions o;
    o.epochs = 30;
    o.batch_size = 8;
    o.l2 = l2;
    fit(*model, sgd, nullptr, data, LossKind::cross_entropy, o, gen);
    double norm = 0;
    for (const Tensor& w : weights_only(model->named_parameters())) {
      for (double v : w.to_vector()) norm += v * v;
    }
    return norm;
  };
  CHECK(run(0.05) < 0.5 * run(0.0));
}

TEST_CASE("fit reports every batch's loss, and their mean is the epoch's training loss") {
  Generator gen(3);
  DataSplits data;
  data.train = make_linear(50, gen);
  data.test = data.train;
  auto model = make_mlp({{2, 4, 2}, Activation::tanh});
  init_module(*model, parse_init("glorot"), gen);
  SGD sgd(model->parameters(), {.lr = 0.3});
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 10;
  std::vector<std::pair<int, double>> losses;
  TrainCallbacks callbacks;
  callbacks.on_batch_loss = [&](int epoch, int64_t batch, double loss) {
    CHECK(batch == static_cast<int64_t>(losses.size() % 5) + 1);
    losses.emplace_back(epoch, loss);
  };
  const TrainResult r = fit(*model, sgd, nullptr, data, LossKind::cross_entropy, o, gen, callbacks);
  REQUIRE(losses.size() == 10);  // 5 equal batches per epoch
  for (int epoch = 1; epoch <= 2; ++epoch) {
    double sum = 0;
    for (const auto& [e, loss] : losses) sum += e == epoch ? loss : 0.0;
    CHECK(sum / 5 == doctest::Approx(r.epochs[static_cast<size_t>(epoch - 1)].train_loss));
  }
}
