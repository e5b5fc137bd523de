// Report 001: MNIST with 784-128-10, 784-128-64-10 and 784-128-64-32-10 networks
// (LogSoftmax + NLLLoss, batch 64, 20 epochs), sigmoid against ReLU and tanh; loss
// per iteration and per epoch, training time, test accuracy and class-probability
// bars for some test images.
#include <fmt/format.h>

#include <cmath>

#include "tapegrad/autograd.hpp"
#include "tapegrad/experiment/figures.hpp"
#include "tapegrad/nn/dataset.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/train.hpp"

namespace tapegrad::apps::experiment {

namespace {

constexpr int kReportEpochs = 20;

// A network of the report, with its published time (min), last-epoch loss and test
// accuracy.
struct Net {
  const char* id;
  const char* model;
  const char* act;
  const char* title;
  double minutes, loss, accuracy;
};
const std::vector<Net> kDepths = {
    {"sigmoid-3", "784-128-10", "sigmoid", "3-layer (784-128-10)", 6.8984, 0.0428, 0.9700},
    {"sigmoid-4", "784-128-64-10", "sigmoid", "4-layer (784-128-64-10)", 6.9591, 0.0387, 0.9773},
    {"sigmoid-5", "784-128-64-32-10", "sigmoid", "5-layer (784-128-64-32-10)", 7.0423, 0.0484,
     0.9699}};
const std::vector<Net> kActivations = {
    {"sigmoid-3", "784-128-10", "sigmoid", "Sigmoid", 6.8984, 0.0428, 0.9700},
    {"relu-3", "784-128-10", "relu", "ReLU", 12.6494, 0.0447, 0.9672},
    {"tanh-3", "784-128-10", "tanh", "Tanh", 6.7245, 0.0511, 0.9723}};

StudyPlan plan(const StudyOptions& o) {
  StudyPlan p;
  p.study = "mnist-depth-activation";
  p.mode = o.mode;
  p.seeds = seed_list(o, 3, 3);
  p.record_iterations = true;
  const bool quick = o.mode == Mode::quick;
  RunConfig base;
  base.data = "mnist";
  base.normalize = "unit";
  base.head = "log_softmax";
  base.loss = "nll";
  base.opt = "momentum";
  base.momentum = 0.9;
  base.lr = 0.03;
  base.batch = 64;
  base.epochs = quick ? 10 : kReportEpochs;

  const std::vector<Column> columns = {{"Training time/min", Metric::train_minutes, false, 3, -1},
                                       {"Loss (last epoch)", Metric::train_loss, false, 4, 0.005},
                                       {"Test accuracy", Metric::test_accuracy, false, 4, 0.003}};
  // The report's table of `nets`, one run each.
  auto table = [&](const std::string& title, const std::vector<Net>& nets) {
    Table t{title, "", columns, {}};
    for (const Net& n : nets) {
      RunConfig c = base;
      c.model = n.model;
      c.act = n.act;
      t.rows.push_back(
          {n.title, p.add(n.id, capped(c, o)), {{n.minutes, ""}, {n.loss, ""}, {n.accuracy, ""}}});
    }
    return t;
  };
  const Table depth = table("Different number of layers (section 3(4))", kDepths);
  const Table act = table("Different activation functions (section 3(5))", kActivations);
  const Table first{"The first network (section 3(2)-3(3))",
                    "The report timed this network twice (5.8777 min here, 6.8984 min in 3(4)) "
                    "and says its per-epoch loss ends below 0.03, while its tables give 0.0428.",
                    columns,
                    {{"784-128-10 sigmoid",
                      depth.rows[0].run_id,
                      {{5.8777, ""}, {std::nullopt, "< 0.03"}, {0.9700, ""}}}}};
  p.tables = {first, depth, act};
  p.budget_note =
      quick ? fmt::format(
                  "10 epochs (the report: {}), 3 seeds (the report: one run), "
                  "the whole training set.",
                  kReportEpochs)
            : fmt::format("The report's {} epochs; 3 seeds (the report: one run).", kReportEpochs);
  p.budget_note +=
      " The report does not name its optimiser or learning rate: tapegrad uses SGD with momentum "
      "0.9 and lr 0.03, picked so that the 3-layer sigmoid network's 20th-epoch training loss "
      "lands near the report's 0.0428 (a calibration, not a finding). Inputs are scaled to [0, "
      "1].";
  return p;
}

// Class probabilities of the first three test images the network gets right and the
// first three it gets wrong, with their pixels.
nlohmann::json probe(nn::Module& model, const nn::DataSplits& data, const RunConfig&) {
  NoGradGuard no_grad;
  model.eval();
  const nn::Dataset& test = data.test;
  const int64_t n = std::min<int64_t>(test.size(), 2000);
  const Tensor x = narrow(test.features, 0, 0, n);
  const Tensor probs = exp(model.forward(x));  // the head is log_softmax
  const std::vector<int64_t> predicted = nn::predict_classes(probs);
  const std::vector<double> p = probs.to_vector();
  const std::vector<double> pixels = x.to_vector();
  const int64_t classes = probs.shape()[1], width = x.shape()[1];
  nlohmann::json images = nlohmann::json::array();
  int right = 0, wrong = 0;
  for (int64_t i = 0; i < n && (right < 3 || wrong < 3); ++i) {
    const bool correct = predicted[static_cast<size_t>(i)] == test.labels[static_cast<size_t>(i)];
    if ((correct && right >= 3) || (!correct && wrong >= 3)) continue;
    (correct ? right : wrong)++;
    nlohmann::json img{{"index", i},
                       {"label", test.labels[static_cast<size_t>(i)]},
                       {"predicted", predicted[static_cast<size_t>(i)]}};
    for (int64_t k = 0; k < classes; ++k) {
      img["probabilities"].push_back(p[static_cast<size_t>(i * classes + k)]);
    }
    for (int64_t k = 0; k < width; ++k) {
      img["pixels"].push_back(std::round(1000 * pixels[static_cast<size_t>(i * width + k)]) / 1000);
    }
    images.push_back(img);
  }
  model.train();
  return {{"images", images}};
}

// Loss per iteration of the seed-0 runs: iteration, then one column per id.
DataFile iteration_file(const std::string& name, const Results& results,
                        const std::vector<std::string>& ids) {
  DataFile f{name, {"iteration"}, {}};
  std::vector<const RunResult*> runs;
  size_t longest = 0;
  int64_t window = 1;
  for (const std::string& id : ids) {
    f.header.push_back(id);
    runs.push_back(first_run(results, id));
    if (runs.back()) {
      longest = std::max(longest, runs.back()->iteration_loss.size());
      window = std::max<int64_t>(window, runs.back()->iteration_window);
    }
  }
  for (size_t k = 0; k < longest; ++k) {
    std::vector<double> row{static_cast<double>(static_cast<int64_t>(k) * window + window / 2)};
    for (const RunResult* r : runs) {
      row.push_back(r && k < r->iteration_loss.size() ? r->iteration_loss[k] : std::nan(""));
    }
    f.rows.push_back(row);
  }
  return f;
}

void probability_figure(const Results& results, StudyReport& out) {
  const RunResult* run = first_run(results, "sigmoid-3");
  if (!run || !run->extras.contains("images")) return;
  const nlohmann::json& images = run->extras["images"];
  Figure fig{"class_probabilities",
             "Class probabilities of the 784-128-10 sigmoid network (seed 0) for the first three "
             "test images it classifies correctly and the first three it gets wrong",
             1000,
             260 * static_cast<int>(images.size()) + 60,
             2,
             "Class probabilities, 784-128-10 sigmoid, seed 0. Bars: green = the true class, "
             "red = a wrong prediction, grey = the other classes",
             {}};
  for (size_t k = 0; k < images.size(); ++k) {
    const nlohmann::json& img = images[k];
    const int64_t label = img["label"].get<int64_t>();
    const int64_t predicted = img["predicted"].get<int64_t>();
    DataFile pixels{fmt::format("data/probe_{}_pixels.csv", k), {"x", "y", "value"}, {}};
    const auto& px = img["pixels"];
    const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(px.size()))));
    for (int64_t i = 0; i < static_cast<int64_t>(px.size()); ++i) {
      pixels.rows.push_back({static_cast<double>(i % side),
                             static_cast<double>(side - 1 - i / side),
                             px[static_cast<size_t>(i)].get<double>()});
    }
    DataFile bars{fmt::format("data/probe_{}_probabilities.csv", k), {"class", "probability"}, {}};
    for (size_t c = 0; c < img["probabilities"].size(); ++c) {
      bars.rows.push_back({static_cast<double>(c), img["probabilities"][c].get<double>()});
    }
    Panel image;
    image.title = fmt::format("test image {}: label {}", img["index"].get<int64_t>(), label);
    image.settings = {"set size ratio -1", "unset xtics",      "unset ytics", "unset colorbox",
                      "unset key",         "set palette gray", "unset grid",  "set border 0"};
    image.raw_plot = fmt::format("plot '{}' using 1:2:3 with image notitle", pixels.name);
    Panel bar;
    bar.title =
        fmt::format("predicted {} ({})", predicted, predicted == label ? "correct" : "wrong");
    bar.xlabel = "class";
    bar.ylabel = "probability";
    bar.xrange = "[-0.6:9.6]";
    bar.yrange = "[0:1.05]";
    bar.settings = {"set xtics 1", "set style fill solid 0.8", "set boxwidth 0.7", "unset key"};
    bar.raw_plot = fmt::format(
        "plot '{}' using 1:2:($1 == {} ? 0x2ca02c : ($1 == {} ? 0xd62728 : 0x7f7f7f)) with boxes "
        "lc rgb variable notitle",
        bars.name, label, predicted);
    out.data.push_back(pixels);
    out.data.push_back(bars);
    fig.panels.push_back(image);
    fig.panels.push_back(bar);
  }
  fig.caption += " (green: the true class; red: a wrong prediction; grey: the other classes)";
  out.figures.push_back(fig);
}

std::vector<std::string> ids_of(const std::vector<Net>& nets) {
  std::vector<std::string> ids;
  for (const Net& n : nets) ids.push_back(n.id);
  return ids;
}
std::vector<std::string> titles_of(const std::vector<Net>& nets) {
  std::vector<std::string> titles;
  for (const Net& n : nets) titles.push_back(n.title);
  return titles;
}

StudyReport report_parts(const StudyPlan& plan, const Results& results) {
  StudyReport out;
  Figure iterations{"loss_per_iteration",
                    "Training loss per iteration (seed 0; each point is the mean of a window of "
                    "batches)",
                    1100,
                    480,
                    2,
                    "MNIST, batch 64: training loss per iteration",
                    {}};
  Figure epochs{"loss_and_accuracy_per_epoch",
                "Training loss and test accuracy per epoch, mean over seeds",
                1100,
                800,
                2,
                "MNIST, batch 64: per epoch",
                {}};
  for (const auto& [nets, what] :
       {std::pair{kDepths, "layers"}, std::pair{kActivations, "activation"}}) {
    const std::string stem = std::string(what);
    const DataFile it = iteration_file("data/iterations_" + stem + ".csv", results, ids_of(nets));
    out.data.push_back(it);
    iterations.panels.push_back({"By " + stem,
                                 "iteration (batches)",
                                 "training loss (NLL)",
                                 false,
                                 true,
                                 "",
                                 "",
                                 {},
                                 curve_series(it.name, titles_of(nets), "lines lw 1.5", 2, 1),
                                 ""});
  }
  for (const auto& [curve, label, file] :
       {std::tuple{Curve::train_loss, "training loss (NLL)", "loss"},
        std::tuple{Curve::test_accuracy, "test accuracy (%)", "test_accuracy"}}) {
    for (const auto& [nets, what] :
         {std::pair{kDepths, "layers"}, std::pair{kActivations, "activation"}}) {
      const std::string name = fmt::format("data/epochs_{}_{}.csv", file, what);
      const bool percent_scale = curve == Curve::test_accuracy;
      out.data.push_back(curve_file(name, results, ids_of(nets), curve, percent_scale ? 100 : 1));
      epochs.panels.push_back(epoch_panel(
          fmt::format("{} by {}", percent_scale ? "Test accuracy" : "Loss", what), label,
          out.data.back(), curve_series(name, titles_of(nets), "linespoints lw 2"),
          percent_scale ? "bottom right" : "top right", !percent_scale));
    }
  }
  out.figures = {iterations, epochs};
  probability_figure(results, out);

  const double sig = stats_of(results, "sigmoid-3", Metric::train_minutes).mean;
  const double relu = stats_of(results, "relu-3", Metric::train_minutes).mean;
  out.notes.push_back(fmt::format(
      "Training time: tapegrad's ReLU network trained in {:.2f} of the sigmoid network's time; "
      "the report's ReLU run took 1.84 times as long as its sigmoid run, which says more about "
      "that machine than about ReLU (ReLU is the cheaper function). tapegrad's times are for "
      "{} epochs on this machine and include nothing but the training epochs.",
      sig > 0 ? relu / sig : 0.0, plan.runs.empty() ? 0 : plan.runs.front().config.epochs));
  const int epochs_run = plan.runs.empty() ? 0 : plan.runs.front().config.epochs;
  // Measured on this configuration (seeds 0-2): 0.051 to 0.052 after 20 epochs at lr
  // 0.03, about 0.10 after 10; seed 0 at lr 0.02 and 0.04 ends at 0.075 and 0.038.
  std::string calibration =
      " The learning rate 0.03 was chosen against the report's loss after its 20 epochs: with it "
      "the 3-layer sigmoid network's last-epoch training loss after 20 epochs is about 0.05, near "
      "the report's 0.0428.";
  if (epochs_run < kReportEpochs) {
    calibration += fmt::format(
        " After the {} epochs trained here that loss is still falling, so the sigmoid networks' "
        "losses are expected to be higher than the report's.",
        epochs_run);
  }
  out.notes.push_back(
      "Likely reasons where the numbers differ: " +
      quick_reason(plan, fmt::format("{} epochs", kReportEpochs)) + calibration +
      " The optimiser and learning rate are tapegrad's choice (see above), calibrated on the "
      "sigmoid network only, so the ReLU and tanh networks need not match the report's; the "
      "report ran one "
      "seed, so its numbers carry an unknown spread of their own (tapegrad's seeds show it is "
      "a few tenths of a percentage point). PyTorch's and tapegrad's default initialisations "
      "are the same (U(-1/sqrt(in), 1/sqrt(in))), but the random streams differ.");
  return out;
}

}  // namespace

Study mnist_depth_activation_study() {
  Study s;
  s.name = "mnist-depth-activation";
  s.report = "001";
  s.title = "MNIST: depth and activation of a small MLP (report 001)";
  s.description =
      "Report 001 trained 784-128-10, 784-128-64-10 and 784-128-64-32-10 sigmoid networks with a "
      "LogSoftmax output and NLLLoss on MNIST in batches of 64 for 20 epochs, then the "
      "784-128-10 network with ReLU and Tanh instead of sigmoid, and reported the training "
      "time, the last epoch's loss and the test accuracy of each, the loss per iteration and "
      "per epoch, and class-probability bars for test images.";
  s.quick_budget = "5 networks x 3 seeds x 10 epochs (about 5 minutes)";
  s.full_budget = "5 networks x 3 seeds x 20 epochs";
  s.plan = plan;
  s.probe = probe;
  s.report_parts = report_parts;
  return s;
}

}  // namespace tapegrad::apps::experiment
