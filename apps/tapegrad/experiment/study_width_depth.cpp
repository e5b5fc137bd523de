// Report 000: MNIST, one hidden layer of width 16..256 and one to three hidden
// layers of 128, sigmoid against ReLU, Adam, standardised inputs; mean and std of
// the train and test accuracy over random initialisations.
#include <fmt/format.h>

#include <set>

#include "tapegrad/experiment/figures.hpp"

namespace tapegrad::apps::experiment {

namespace {

const std::vector<int> kWidths = {16, 32, 64, 128, 256};
const std::vector<std::string> kActs = {"sigmoid", "relu"};

std::string act_title(const std::string& act) { return act == "relu" ? "ReLU" : "sigmoid"; }
std::string width_id(const std::string& act, int w) { return fmt::format("{}-w{}", act, w); }
std::string depth_model(int depth) {
  std::string m = "784";
  for (int i = 0; i < depth; ++i) m += "-128";
  return m + "-10";
}

StudyPlan plan(const StudyOptions& o) {
  StudyPlan p;
  p.study = "mnist-width-depth";
  p.mode = o.mode;
  p.seeds = seed_list(o, 3, 100);
  const bool quick = o.mode == Mode::quick;
  RunConfig base;
  base.data = "mnist";
  base.normalize = "zscore";
  base.loss = "ce";
  base.head = "identity";
  base.opt = "adam";
  base.lr = 1e-3;
  base.batch = 128;
  base.epochs = quick ? 8 : 100;

  const std::vector<Column> columns = {{"Train accuracy", Metric::train_accuracy, true, 2, 0.003},
                                       {"Test accuracy", Metric::test_accuracy, true, 2, 0.003}};
  Table width{"One hidden layer: accuracy against width (report Figs. 1 and 2)",
              "Report 000 shows these as figures only (mean and standard deviation over 100 "
              "initialisations), without numbers; its findings are checked in the next section.",
              columns,
              {}};
  Table depth{"Hidden layers of 128: accuracy against depth (report Figs. 3 and 4)",
              "Figures only in the report, as above.",
              columns,
              {}};
  for (const std::string& act : kActs) {
    for (int w : kWidths) {
      RunConfig c = base;
      c.act = act;
      c.model = fmt::format("784-{}-10", w);
      const std::string id = p.add(width_id(act, w), capped(c, o));
      width.rows.push_back({fmt::format("{}, 784-{}-10", act_title(act), w), id, {}});
    }
  }
  for (const std::string& act : kActs) {
    for (int d = 1; d <= 3; ++d) {
      RunConfig c = base;
      c.act = act;
      c.model = depth_model(d);
      c.epochs = quick ? 8 : 300;
      const std::string id = p.add(fmt::format("{}-d{}", act, d), capped(c, o));
      depth.rows.push_back({fmt::format("{}, {}", act_title(act), c.model), id, {}});
    }
  }
  p.tables = {width, depth};
  p.budget_note =
      quick ? "8 epochs for every network (the report trained 100 epochs for the width study and "
              "300 for the depth study), 3 seeds (the report: 100 initialisations), the whole "
              "training set."
            : "The report's budget: 100 epochs for the width study, 300 for the depth study, 100 "
              "seeds (about 2,000 hours of training on a 2-core machine; use --seeds to take "
              "fewer).";
  p.budget_note +=
      " The report kept Adam's learning rate and the batch size fixed without giving them; "
      "tapegrad uses Adam's default lr 1e-3 and batch 128.";
  return p;
}

// Accuracy against an x value (width or depth): x, then mean and std of the train
// and test accuracy (in %) for sigmoid, then for ReLU.
DataFile accuracy_file(const std::string& name, const Results& results, const std::vector<int>& xs,
                       const std::function<std::string(const std::string&, int)>& id) {
  DataFile f{name,
             {"x", "sigmoid_train", "sigmoid_train_std", "sigmoid_test", "sigmoid_test_std",
              "relu_train", "relu_train_std", "relu_test", "relu_test_std"},
             {}};
  for (int x : xs) {
    std::vector<double> row{static_cast<double>(x)};
    for (const std::string& act : kActs) {
      for (Metric m : {Metric::train_accuracy, Metric::test_accuracy}) {
        const Stats s = stats_of(results, id(act, x), m);
        row.push_back(100 * s.mean);
        row.push_back(100 * s.stddev);
      }
    }
    f.rows.push_back(row);
  }
  return f;
}

std::vector<Panel> accuracy_panels(const std::string& file, const std::string& xlabel, bool logx,
                                   const std::string& xtics) {
  std::vector<Panel> panels;
  for (int k = 0; k < 2; ++k) {
    Panel p;
    p.title = k == 0 ? "Train accuracy" : "Test accuracy";
    p.xlabel = xlabel;
    p.ylabel = "accuracy (%), mean ± std over seeds";
    p.logx = logx;
    p.settings = {"set xtics " + xtics, "set key bottom right box opaque",
                  "set offsets graph 0.05, graph 0.05, 0, 0"};
    p.series = {
        {file, fmt::format("1:{}:{}", 2 + 2 * k, 3 + 2 * k), "yerrorlines lw 2 pt 7", "sigmoid",
         ""},
        {file, fmt::format("1:{}:{}", 6 + 2 * k, 7 + 2 * k), "yerrorlines lw 2 pt 5", "ReLU", ""}};
    panels.push_back(p);
  }
  return panels;
}

std::string finding_row(const std::string& finding, const std::string& ours, bool holds) {
  return fmt::format("| {} | {} | {} |\n", finding, ours, holds ? "yes" : "no");
}

StudyReport report_parts(const StudyPlan& plan, const Results& results) {
  StudyReport out;
  auto mean = [&](const std::string& id, Metric m) { return stats_of(results, id, m).mean; };
  auto depth_id = [&](const std::string& act, int d) {
    // In --quick mode depth 1 is the width-128 network (one shared run).
    const std::string id = fmt::format("{}-d{}", act, d);
    return plan.find(id) ? id : width_id(act, 128);
  };

  // The report's findings, each checked against tapegrad's means.
  std::string f =
      "## The report's findings, checked\n\n| Finding (report 000) | tapegrad (mean test accuracy) "
      "| holds |\n|---|---|---|\n";
  for (const std::string& act : kActs) {
    std::string seq;
    bool increasing = true;
    for (size_t i = 0; i < kWidths.size(); ++i) {
      const double a = mean(width_id(act, kWidths[i]), Metric::test_accuracy);
      seq += (i ? " < " : "") + percent(a);
      if (i > 0) {
        increasing = increasing && a > mean(width_id(act, kWidths[i - 1]), Metric::test_accuracy);
      }
    }
    if (!increasing) {
      for (size_t pos = seq.find(" < "); pos != std::string::npos; pos = seq.find(" < ", pos)) {
        seq.replace(pos, 3, ", ");
      }
    }
    f += finding_row(
        fmt::format("{}: accuracy rises with width{}", act_title(act),
                    act == "sigmoid" ? " (monotonically)" : " (with local ups and downs)"),
        seq,
        act == "sigmoid" ? increasing
                         : mean(width_id(act, 256), Metric::test_accuracy) >
                               mean(width_id(act, 16), Metric::test_accuracy));
  }
  for (const std::string& act : kActs) {
    const Stats narrow = stats_of(results, width_id(act, 16), Metric::test_accuracy);
    const Stats wide = stats_of(results, width_id(act, 256), Metric::test_accuracy);
    f += finding_row(
        fmt::format("{}: the spread over initialisations shrinks with width", act_title(act)),
        fmt::format("std {:.3f} pp at width 16, {:.3f} pp at 256", 100 * narrow.stddev,
                    100 * wide.stddev),
        narrow.n > 1 && wide.stddev < narrow.stddev);
  }
  int sigmoid_wins = 0;
  std::string wins;
  for (int w : kWidths) {
    const double s = mean(width_id("sigmoid", w), Metric::test_accuracy);
    const double r = mean(width_id("relu", w), Metric::test_accuracy);
    sigmoid_wins += s > r ? 1 : 0;
    wins += fmt::format("{}{}: {} vs {}", wins.empty() ? "" : "; ", w, percent(s), percent(r));
  }
  f += finding_row("Sigmoid slightly beats ReLU with one hidden layer (within 100 epochs)",
                   fmt::format("sigmoid ahead at {} of 5 widths ({})", sigmoid_wins, wins),
                   sigmoid_wins >= 3);
  for (const std::string& act : kActs) {
    const double d1 = mean(depth_id(act, 1), Metric::test_accuracy);
    const double d2 = mean(depth_id(act, 2), Metric::test_accuracy);
    const double d3 = mean(depth_id(act, 3), Metric::test_accuracy);
    f += finding_row(fmt::format("{}: two hidden layers beat one and three", act_title(act)),
                     fmt::format("1: {}, 2: {}, 3: {}", percent(d1), percent(d2), percent(d3)),
                     d2 > d1 && d2 > d3);
  }
  double gap = 0;
  std::string gap_model;
  for (const PlannedRun& r : plan.runs) {
    const double g = mean(r.id, Metric::train_accuracy) - mean(r.id, Metric::test_accuracy);
    if (g > gap) {
      gap = g;
      gap_model = act_title(r.config.act) + " " + r.config.model;
    }
  }
  f += finding_row("Train and test accuracies are extremely similar",
                   fmt::format("largest train - test gap {:.2f} pp ({})", 100 * gap, gap_model),
                   gap < 0.01);
  out.sections.push_back(f);
  if (sigmoid_wins < 3) {
    out.notes.push_back(fmt::format(
        "Sigmoid against ReLU: the report's claim is about 100 epochs of training; after {} "
        "epochs tapegrad's sigmoid networks are still behind ReLU, as saturating sigmoid units "
        "learn more slowly at the start. Whether sigmoid catches up needs --full.",
        plan.runs.front().config.epochs));
  }
  if (gap >= 0.01) {
    out.notes.push_back(fmt::format(
        "Train against test accuracy: tapegrad's train accuracy is the whole training set "
        "evaluated after training, and the largest gap ({:.2f} points, {}) comes from fitting "
        "the training set more closely than the test set. The report does not say how it "
        "measured its training accuracy.",
        100 * gap, gap_model));
  }

  out.notes.push_back(
      "Where tapegrad and the report disagree, the likely reasons are: " +
      quick_reason(plan, "100 epochs for the width study and 300 for the depth study") +
      " The report does not give Adam's learning rate or the batch size (tapegrad: 1e-3 and "
      "128) nor its initialisation (tapegrad: PyTorch's default for Linear layers). With few "
      "seeds the standard deviation itself is uncertain, so the spread findings are weak "
      "evidence. In --quick mode depth 1 is the width-128 network, trained once and shown in "
      "both tables.");

  out.data.push_back(accuracy_file("data/width.csv", results, kWidths, width_id));
  out.data.push_back(accuracy_file("data/depth.csv", results, {1, 2, 3}, depth_id));
  Figure width{"accuracy_width",
               "Accuracy against the width of one hidden layer (report Figs. 1-2)",
               1100,
               480,
               2,
               "MNIST, one hidden layer: accuracy against width",
               {}};
  width.panels =
      accuracy_panels("data/width.csv", "hidden units (log scale)", true, "(16, 32, 64, 128, 256)");
  Figure depth{"accuracy_depth",
               "Accuracy against the number of hidden layers of 128 units (report Figs. 3-4)",
               1100,
               480,
               2,
               "MNIST, hidden layers of 128: accuracy against depth",
               {}};
  depth.panels = accuracy_panels("data/depth.csv", "hidden layers", false, "(1, 2, 3)");

  // Learning curves: one panel per activation for the width study, then for the depth
  // study, each with a line per network, mean over the seeds.
  struct Group {
    std::string title, stem;
    std::vector<std::string> ids, titles;
  };
  std::vector<Group> groups;
  for (const std::string& act : kActs) {
    Group g{act_title(act) + ", one hidden layer", "width_" + act, {}, {}};
    for (int w : kWidths) {
      g.ids.push_back(width_id(act, w));
      g.titles.push_back(fmt::format("784-{}-10", w));
    }
    groups.push_back(g);
  }
  for (const std::string& act : kActs) {
    Group g{act_title(act) + ", hidden layers of 128", "depth_" + act, {}, {}};
    for (int d = 1; d <= 3; ++d) {
      g.ids.push_back(depth_id(act, d));
      g.titles.push_back(depth_model(d));
    }
    groups.push_back(g);
  }
  std::set<uint64_t> seeds;
  for (const RunResult& r : results) seeds.insert(r.seed);
  const std::string over_seeds =
      fmt::format("mean over {} seed{}", seeds.size(), seeds.size() == 1 ? "" : "s");
  // A figure of `curves` per epoch: the first solid with a key entry per network, a
  // second (if any) dashed in the same colour.
  auto curve_figure = [&](const std::string& name, const std::string& caption,
                          const std::string& title, const std::string& ylabel,
                          const std::vector<Curve>& curves, double scale, bool logy,
                          const std::string& key) {
    Figure fig{name, caption + ", " + over_seeds, 1100, 800, 2, title + ", " + over_seeds, {}};
    for (const Group& g : groups) {
      std::vector<CurveColumn> columns;
      for (Curve c : curves) {
        for (const std::string& id : g.ids) columns.push_back({id, runs_of(results, id), c});
      }
      const DataFile file = curve_file(fmt::format("data/{}_{}.csv", name, g.stem), columns, scale);
      std::vector<Series> series;
      for (size_t c = 0; c < curves.size(); ++c) {
        for (size_t k = 0; k < g.ids.size(); ++k) {
          series.push_back({file.name, fmt::format("1:{}", 2 + 2 * (c * g.ids.size() + k)),
                            "linespoints lw 2 pt 7 ps 0.6", c == 0 ? g.titles[k] : "",
                            fmt::format("lc {}{}", k + 1, c == 0 ? "" : " dt 2")});
        }
      }
      out.data.push_back(file);
      fig.panels.push_back(epoch_panel(g.title, ylabel, file, std::move(series), key, logy));
    }
    return fig;
  };
  const Figure loss = curve_figure(
      "loss_curves",
      "Training loss (the mean over each epoch's batches, solid) and test loss (after each "
      "epoch, dashed) per epoch",
      "MNIST: training loss (solid) and test loss (dashed) per epoch", "cross-entropy (log scale)",
      {Curve::train_loss, Curve::test_loss}, 1, true, "top right");
  const Figure train_acc =
      curve_figure("train_accuracy_curves",
                   "Training accuracy per epoch (the running accuracy over each epoch's batches)",
                   "MNIST: training accuracy per epoch", "training accuracy (%)",
                   {Curve::train_accuracy}, 100, false, "bottom right");
  const Figure test_acc = curve_figure("test_accuracy_curves", "Test accuracy after each epoch",
                                       "MNIST: test accuracy per epoch", "test accuracy (%)",
                                       {Curve::test_accuracy}, 100, false, "bottom right");
  out.figures = {width, depth, loss, train_acc, test_acc};
  return out;
}

}  // namespace

Study mnist_width_depth_study() {
  Study s;
  s.name = "mnist-width-depth";
  s.report = "000";
  s.title = "MNIST: hidden width and depth, sigmoid against ReLU (report 000)";
  s.description =
      "Report 000 trained 784-H-10 networks (H = 16, 32, 64, 128, 256) and networks with one to "
      "three hidden layers of 128 units, with sigmoid or ReLU hidden units, a softmax output and "
      "cross-entropy, on standardised MNIST (each pixel to mean 0 and variance 1 with the "
      "training statistics), with Adam at a fixed learning rate and batch size, and plotted the "
      "mean and standard deviation of the train and test accuracy over 100 random "
      "initialisations.";
  s.quick_budget = "14 networks x 3 seeds x 8 epochs (about 4 to 7 minutes)";
  s.full_budget = "100 epochs (width) and 300 epochs (depth) x 100 seeds";
  s.plan = plan;
  s.report_parts = report_parts;
  return s;
}

}  // namespace tapegrad::apps::experiment
