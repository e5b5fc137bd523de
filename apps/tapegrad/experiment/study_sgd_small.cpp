// Report 002: MNIST with 784-20-10, sigmoid outputs and per-output binary
// cross-entropy, plain SGD at lr 1e-3, batch 128, 100 epochs; widths 20/40/80, a
// 784-80-40-20-10 network and learning rates 1e-3/1e-4/1e-5; train, validation and
// test curves.
#include <fmt/format.h>

#include "tapegrad/experiment/figures.hpp"

namespace tapegrad::apps::experiment {

namespace {

constexpr int kReportEpochs = 100;
// The report's loss sums the binary cross-entropy over the 10 outputs, and its
// algorithm (Fig. 1) forms the weight gradient as G h^T, a sum over the minibatch;
// tapegrad's bce is the mean over both, so the report's lr corresponds to
// lr * batch * outputs on tapegrad's loss.
constexpr double kLrScale = 128.0 * 10.0;

StudyPlan plan(const StudyOptions& o) {
  StudyPlan p;
  p.study = "mnist-sgd-small";
  p.mode = o.mode;
  p.seeds = seed_list(o, 3, 3);
  const bool quick = o.mode == Mode::quick;
  RunConfig base;
  base.data = "mnist";
  base.normalize = "unit";
  base.val_split = 10000.0 / 60000.0;  // 50k / 10k / 10k
  base.model = "784-20-10";
  base.act = "sigmoid";
  base.head = "sigmoid";
  base.loss = "bce";
  base.opt = "sgd";
  base.lr = 1e-3 * kLrScale;
  base.batch = 128;
  base.epochs = quick ? 25 : kReportEpochs;

  auto add = [&](const std::string& id, const std::string& model, double report_lr) {
    RunConfig c = base;
    c.model = model;
    c.lr = report_lr * kLrScale;
    return p.add(id, capped(c, o));
  };
  const std::string w20 = add("w20", "784-20-10", 1e-3);
  const std::string w40 = add("w40", "784-40-10", 1e-3);
  const std::string w80 = add("w80", "784-80-10", 1e-3);
  const std::string deep = add("deep", "784-80-40-20-10", 1e-3);
  const std::string lr4 = add("lr1e-4", "784-20-10", 1e-4);
  const std::string lr5 = add("lr1e-5", "784-20-10", 1e-5);

  const Column test{"Test accuracy", Metric::test_accuracy, true, 2, 0.003};
  const Column train{"Train accuracy", Metric::train_accuracy, true, 2, 0.003};
  p.tables.push_back({"Final evaluation (section V)",
                      "784-20-10, SGD lr 1e-3, batch 128, 100 epochs.",
                      {test},
                      {{"784-20-10, lr 1e-3", w20, {{0.9025, ""}}}}});
  p.tables.push_back(
      {"Hyperparameters (section IV.C, Figs. 3-5)",
       "The report describes these runs only in words and training-accuracy figures.",
       {train, test},
       {{"784-20-10, lr 1e-3 (default)", w20, {{std::nullopt, "about 90%"}, {0.9025, ""}}},
        {"784-40-10", w40, {}},
        {"784-80-10", w80, {{std::nullopt, "above 90% (Fig. 3)"}}},
        {"784-80-40-20-10",
         deep,
         {{std::nullopt, "no significant gain; spikes after about 70 epochs (Fig. 4)"}}},
        {"784-20-10, lr 1e-4", lr4, {{std::nullopt, "marginally below 90% (Fig. 5)"}}},
        {"784-20-10, lr 1e-5", lr5, {{std::nullopt, "lower still"}}}}});
  p.budget_note =
      quick ? fmt::format(
                  "25 epochs (the report: {}), 3 seeds (the report: one run), the whole "
                  "training set.",
                  kReportEpochs)
            : fmt::format("The report's {} epochs; 3 seeds (the report: one run).", kReportEpochs);
  p.budget_note += fmt::format(
      " MNIST is split 50,000 / 10,000 / 10,000 (train / validation / test), inputs scaled to "
      "[0, 1]. **Learning rates:** the report's loss sums the binary cross-entropy over the 10 "
      "outputs and its algorithm (Fig. 1) forms the weight gradient as G h^T, a sum over the "
      "batch of 128; tapegrad's `bce` is the mean over both, so the report's lr is multiplied "
      "by 128 x 10 = {:.0f}: lr 1e-3 runs as {}, 1e-4 as {}, 1e-5 as {}.",
      kLrScale, 1e-3 * kLrScale, 1e-4 * kLrScale, 1e-5 * kLrScale);
  return p;
}

Panel curve_panel(const std::string& title, const std::string& ylabel, const DataFile& file,
                  const std::vector<std::string>& titles, bool logy, const std::string& key) {
  return epoch_panel(title, ylabel, file, curve_series(file.name, titles, "lines lw 2"), key, logy);
}

struct LossCurve {
  Curve curve;
  std::string title, ylabel;
};

// Training accuracy (left) and a loss (right) per epoch of several runs, mean over seeds.
Figure comparison(const Results& results, StudyReport& out, const std::string& name,
                  const std::string& caption, const std::string& title,
                  const std::vector<std::string>& ids, const std::vector<std::string>& titles,
                  const LossCurve& loss) {
  const DataFile acc =
      curve_file("data/" + name + "_train_accuracy.csv", results, ids, Curve::train_accuracy, 100);
  const DataFile losses = curve_file("data/" + name + "_loss.csv", results, ids, loss.curve);
  out.data.push_back(acc);
  out.data.push_back(losses);
  Figure f{name, caption, 1100, 480, 2, title, {}};
  f.panels = {
      curve_panel("Training accuracy", "training accuracy (%)", acc, titles, false, "bottom right"),
      curve_panel(loss.title, loss.ylabel, losses, titles, true, "top right")};
  return f;
}

StudyReport report_parts(const StudyPlan& plan, const Results& results) {
  StudyReport out;
  // Train / validation / test curves of the default network (report Figs. 6-9).
  const std::vector<const RunResult*> w20 = runs_of(results, "w20");
  const std::vector<std::string> split_titles = {"train", "validation", "test"};
  const auto [loss, acc] = split_curves("data/default", w20, split_titles);
  out.data = {loss, acc};
  Figure def{"default_curves",
             "Loss and accuracy of 784-20-10 (lr 1e-3 in the report's units) on the train, "
             "validation and test sets, mean over seeds (report Figs. 6-9)",
             1100,
             480,
             2,
             "784-20-10, sigmoid outputs, BCE, SGD, batch 128",
             {}};
  def.panels = {curve_panel("Loss", "binary cross-entropy (mean over outputs)", loss, split_titles,
                            true, "top right"),
                curve_panel("Accuracy", "accuracy (%)", acc, split_titles, false, "bottom right")};

  // The report's learning rate and the one tapegrad ran (see kLrScale).
  auto lr_title = [](const char* report_lr, double lr) {
    return fmt::format("report's lr {} (tapegrad lr {:g})", report_lr, lr * kLrScale);
  };
  out.figures = {
      def,
      comparison(results, out, "architectures",
                 "Width and depth: training accuracy and validation loss per epoch, mean over "
                 "seeds (report Figs. 3-4)",
                 "Width and depth (SGD, " + lr_title("1e-3", 1e-3) + ")",
                 {"w20", "w40", "w80", "deep"},
                 {"784-20-10", "784-40-10", "784-80-10", "784-80-40-20-10"},
                 {Curve::val_loss, "Validation loss", "validation loss"}),
      comparison(results, out, "learning_rates",
                 fmt::format("Learning rates 1e-3, 1e-4, 1e-5 in the report's units (tapegrad "
                             "ran {:g}, {:g}, {:g} on its mean BCE) on 784-20-10: training "
                             "accuracy and loss per epoch, mean over seeds (report Fig. 5)",
                             1e-3 * kLrScale, 1e-4 * kLrScale, 1e-5 * kLrScale),
                 fmt::format("Learning-rate comparison, 784-20-10 (tapegrad lr = report's lr x "
                             "{:g})",
                             kLrScale),
                 {"w20", "lr1e-4", "lr1e-5"},
                 {lr_title("1e-3", 1e-3), lr_title("1e-4", 1e-4), lr_title("1e-5", 1e-5)},
                 {Curve::train_loss, "Training loss", "training loss (BCE)"})};

  const Stats base = stats_of(results, "w20", Metric::test_accuracy);
  const Stats lr4 = stats_of(results, "lr1e-4", Metric::train_accuracy);
  const Stats lr5 = stats_of(results, "lr1e-5", Metric::test_accuracy);
  const Stats w80 = stats_of(results, "w80", Metric::train_accuracy);
  const bool higher = base.n > 0 && base.mean > 0.9025;
  out.notes.push_back(fmt::format(
      "The report's 90.25% for 784-20-10 after 100 epochs against tapegrad's {} after {} epochs. "
      "{} The likely reason is the learning rate's scale: it is a reading of the report's "
      "formulas, which do not say whether its code divided the gradient by the batch size. Had "
      "it divided (lr x 10 instead of x 1280), its lr 1e-3 would be tapegrad's 0.01, close to "
      "the lr 1e-5 row here (0.0128), which reaches {} in this budget. The report's runs are "
      "single seeds.",
      percent(base.mean), plan.runs.empty() ? 0 : plan.runs.front().config.epochs,
      higher ? "tapegrad is higher even with "
               "fewer epochs, so the training budget does not explain the gap."
             : quick_reason(plan, fmt::format("{} epochs", kReportEpochs)),
      percent(lr5.mean)));
  out.notes.push_back(fmt::format(
      "The report's qualitative claims against tapegrad: 784-80-10 trains above 90% (tapegrad: "
      "{} training accuracy); lr 1e-4 ends marginally below 90% (tapegrad: {}). Accuracies "
      "here are the whole training split evaluated after training.",
      percent(w80.mean), percent(lr4.mean)));
  return out;
}

}  // namespace

Study mnist_sgd_small_study() {
  Study s;
  s.name = "mnist-sgd-small";
  s.report = "002";
  s.title = "MNIST: a small sigmoid network with plain SGD (report 002)";
  s.description =
      "Report 002 trained a 784-20-10 network with sigmoid hidden and output units and a "
      "binary cross-entropy per output on MNIST, with plain SGD at lr 0.001 and batch 128 for "
      "100 epochs (90.25% test accuracy), then varied the width (20, 40, 80), the depth "
      "(784-80-40-20-10) and the learning rate (1e-3, 1e-4, 1e-5), plotting loss and accuracy "
      "on the training, validation and test sets.";
  s.quick_budget = "6 networks x 3 seeds x 25 epochs (about 3 minutes)";
  s.full_budget = "6 networks x 3 seeds x 100 epochs";
  s.plan = plan;
  s.report_parts = report_parts;
  return s;
}

}  // namespace tapegrad::apps::experiment
