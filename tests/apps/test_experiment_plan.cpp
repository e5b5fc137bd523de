// `tapegrad experiment`: the five studies' definitions generate the configurations
// of their reports (checked without training).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "tapegrad/autograd/error.hpp"
#include "tapegrad/experiment/study.hpp"

using namespace tapegrad::apps::experiment;

namespace {
StudyOptions quick() { return {}; }
StudyOptions full() {
  StudyOptions o;
  o.mode = Mode::full;
  return o;
}
const PlannedRun& run(const StudyPlan& p, const std::string& id) {
  const PlannedRun* r = p.find(id);
  REQUIRE_MESSAGE(r != nullptr, id);
  return *r;
}
std::vector<std::string> ids(const StudyPlan& p) {
  std::vector<std::string> out;
  for (const PlannedRun& r : p.runs) out.push_back(r.id);
  return out;
}
}  // namespace

TEST_CASE("every study plans unique configurations and tables that refer to them") {
  REQUIRE(studies().size() == 5);
  for (const Study& s : studies()) {
    for (const StudyOptions& o : {quick(), full()}) {
      CAPTURE(s.name);
      const StudyPlan p = s.plan(o);
      CHECK(p.study == s.name);
      CHECK_FALSE(p.runs.empty());
      std::set<std::string> keys, names;
      for (const PlannedRun& r : p.runs) {
        keys.insert(r.config.key());
        names.insert(r.id);
      }
      CHECK(keys.size() == p.runs.size());  // runs that share a configuration are merged
      CHECK(names.size() == p.runs.size());
      CHECK_FALSE(p.tables.empty());
      for (const Table& t : p.tables) {
        for (const Row& row : t.rows) {
          CAPTURE(row.label);
          CHECK(p.find(row.run_id) != nullptr);
          CHECK(row.published.size() <= t.columns.size());
        }
      }
      CHECK_FALSE(p.budget_note.empty());
    }
  }
}

TEST_CASE("find_study names the valid studies") {
  CHECK(find_study("xor-linear").report == "004");
  CHECK_THROWS_WITH_AS(find_study("mnist"),
                       "unknown study 'mnist': expected one of mnist-width-depth, "
                       "mnist-depth-activation, mnist-sgd-small, cifar10-regularization, "
                       "xor-linear",
                       tapegrad::Error);
}

TEST_CASE("seeds: each mode's default, --seeds overrides, --max-epochs caps every run") {
  const Study& s = find_study("mnist-width-depth");
  CHECK(s.plan(quick()).seeds == std::vector<uint64_t>{0, 1, 2});
  CHECK(s.plan(full()).seeds.size() == 100);  // the report's 100 initialisations
  StudyOptions o;
  o.seeds = 2;
  o.max_epochs = 1;
  const StudyPlan p = s.plan(o);
  CHECK(p.seeds == std::vector<uint64_t>{0, 1});
  for (const PlannedRun& r : p.runs) CHECK(r.config.epochs == 1);
  o.seeds = 0;
  CHECK_THROWS_WITH_AS(s.plan(o), "--seeds must be at least 1, got 0", tapegrad::Error);
}

TEST_CASE("mnist-width-depth: widths 16..256 and depths 1..3 of 128, sigmoid and ReLU, Adam") {
  const Study& s = find_study("mnist-width-depth");
  const StudyPlan q = s.plan(quick());
  // 2 activations x (5 widths + depths 2 and 3): depth 1 is the width-128 network.
  CHECK(q.runs.size() == 14);
  CHECK(q.find("sigmoid-d1") == nullptr);
  CHECK(run(q, "relu-w16").config.model == "784-16-10");
  CHECK(run(q, "relu-w16").config.act == "relu");
  CHECK(run(q, "sigmoid-d3").config.model == "784-128-128-128-10");
  for (const PlannedRun& r : q.runs) {
    CHECK(r.config.opt == "adam");
    CHECK(r.config.normalize == "zscore");  // standardised inputs
    CHECK(r.config.loss == "ce");
    CHECK(r.config.epochs == 8);
  }
  const Table& depth = q.tables[1];
  CHECK(depth.rows[0].run_id == "sigmoid-w128");  // shared, not trained twice
  // --full: 100 epochs for widths, 300 for depths, so depth 1 is a run of its own.
  const StudyPlan f = s.plan(full());
  CHECK(f.runs.size() == 16);
  CHECK(run(f, "sigmoid-w128").config.epochs == 100);
  CHECK(run(f, "sigmoid-d1").config.epochs == 300);
  CHECK(run(f, "sigmoid-d1").config.model == "784-128-10");
}

TEST_CASE("mnist-depth-activation: three depths and three activations, NLL, batch 64") {
  const StudyPlan p = find_study("mnist-depth-activation").plan(full());
  CHECK(ids(p) ==
        std::vector<std::string>{"sigmoid-3", "sigmoid-4", "sigmoid-5", "relu-3", "tanh-3"});
  CHECK(run(p, "sigmoid-5").config.model == "784-128-64-32-10");
  CHECK(run(p, "tanh-3").config.act == "tanh");
  for (const PlannedRun& r : p.runs) {
    CHECK(r.config.loss == "nll");
    CHECK(r.config.head == "log_softmax");
    CHECK(r.config.batch == 64);
    CHECK(r.config.epochs == 20);
  }
  CHECK(p.record_iterations);
  // The report's tables: depth and activation, with its numbers.
  const Table& depth = p.tables[1];
  REQUIRE(depth.rows.size() == 3);
  CHECK(*depth.rows[1].published[2].value == 0.9773);
  CHECK(*depth.rows[1].published[1].value == 0.0387);
  CHECK(depth.columns[0].floor < 0);  // times are not compared
  const Table& act = p.tables[2];
  CHECK(act.rows[1].run_id == "relu-3");
  CHECK(*act.rows[1].published[2].value == 0.9672);
  CHECK(find_study("mnist-depth-activation").plan(quick()).runs[0].config.epochs == 10);
}

TEST_CASE("mnist-sgd-small: sigmoid outputs with BCE, SGD, the report's lr in tapegrad's units") {
  const StudyPlan p = find_study("mnist-sgd-small").plan(full());
  CHECK(p.runs.size() == 6);
  const RunConfig& base = run(p, "w20").config;
  CHECK(base.model == "784-20-10");
  CHECK(base.head == "sigmoid");
  CHECK(base.loss == "bce");
  CHECK(base.opt == "sgd");
  CHECK(base.momentum == 0);
  CHECK(base.batch == 128);
  CHECK(base.epochs == 100);
  CHECK(base.val_split == doctest::Approx(1.0 / 6));
  // lr x batch 128 x 10 outputs: the report sums its loss over both.
  CHECK(base.lr == doctest::Approx(1.28));
  CHECK(run(p, "lr1e-4").config.lr == doctest::Approx(0.128));
  CHECK(run(p, "lr1e-5").config.lr == doctest::Approx(0.0128));
  CHECK(run(p, "deep").config.model == "784-80-40-20-10");
  CHECK(*p.tables[0].rows[0].published[0].value == 0.9025);
}

TEST_CASE("cifar10-regularization: CIFAR-10 when found, otherwise Fashion-MNIST, said at the top") {
  const Study& s = find_study("cifar10-regularization");
  StudyOptions o;
  o.fallback_reason = "CIFAR-10 was not found: 'x' holds no cifar-10-batches-bin directory";
  const StudyPlan fallback = s.plan(o);
  CHECK(fallback.runs.size() == 13);
  CHECK(fallback.data_note == o.fallback_reason);
  for (const PlannedRun& r : fallback.runs) {
    CHECK(r.config.data == "fashion-mnist");
    CHECK(r.config.normalize == "zscore-image");
    CHECK(r.config.patience == 5);
    CHECK(r.config.val_split == 0.2);
    CHECK(r.config.model.rfind("784-", 0) == 0);
  }
  // Another data set: the report's numbers are shown but not judged.
  for (const Table& t : fallback.tables) {
    for (const Column& c : t.columns) CHECK(c.floor < 0);
  }

  o.cifar_spec = "cifar10";
  o.fallback_reason.clear();
  const StudyPlan cifar = s.plan(o);
  const RunConfig& base = run(cifar, "tanh-128").config;
  CHECK(base.data == "cifar10");
  CHECK(base.model == "3072-128-10");
  CHECK(base.act == "tanh");
  CHECK(base.opt == "momentum");
  CHECK(base.lr == 0.01);
  CHECK(base.batch == 128);
  CHECK(base.limit_train == 12500);  // --quick: a subset
  CHECK(run(cifar, "l1-1e-2").config.l1 == 1e-2);
  CHECK(run(cifar, "l2-1e-4").config.l2 == 1e-4);
  CHECK(run(cifar, "tanh-64-64").config.model == "3072-64-64-10");
  CHECK(cifar.tables[0].columns[0].floor > 0);
  CHECK(cifar.data_note.find("CIFAR-10") != std::string::npos);
  CHECK(*cifar.tables[1].rows[0].published[0].value == 0.455);  // L1 1e-2
  CHECK(s.plan(StudyOptions{Mode::full, {}, 0, "cifar10", ""}).runs[0].config.limit_train == 0);
}

TEST_CASE("xor-linear: 2-3-3-1 sigmoid without biases, lr comparison, zero init") {
  const StudyPlan p = find_study("xor-linear").plan(quick());
  CHECK(p.runs.size() == 14);  // 2 sets x (6 learning rates + zero init)
  const RunConfig& base = run(p, "xor-lr0.8").config;
  CHECK(base.data == "xor");
  CHECK(base.model == "2-3-3-1");
  CHECK_FALSE(base.bias);
  CHECK(base.init == "glorot_sigmoid");
  CHECK(base.loss == "mse");
  CHECK(base.target_loss == 0.04);
  CHECK(base.batch == 1);
  CHECK(run(p, "linear-zeros").config.init == "zeros");
  CHECK(run(p, "linear-zeros").config.lr == 0.8);
  CHECK(run(p, "linear-lr3.2").config.lr == 3.2);
}
