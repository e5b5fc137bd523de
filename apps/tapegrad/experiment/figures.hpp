// Building blocks the study definitions share for their figures and notes.
#pragma once

#include <string>
#include <vector>

#include "tapegrad/experiment/aggregate.hpp"

namespace tapegrad::apps::experiment {

// Per-epoch curves of several runs (mean over seeds): columns epoch, then mean and
// std for each id, values multiplied by `scale` (100 for percentages). Epochs a run
// did not reach are NaN. With `first_seed_only`, each id's first seed alone (std 0):
// for runs that stop at different epochs.
DataFile curve_file(const std::string& name, const Results& results,
                    const std::vector<std::string>& ids, Curve curve, double scale = 1.0,
                    bool first_seed_only = false);

// The general form: one mean/std column pair per (label, runs, curve).
struct CurveColumn {
  std::string label;
  std::vector<const RunResult*> runs;
  Curve curve;
};
DataFile curve_file(const std::string& name, const std::vector<CurveColumn>& columns,
                    double scale = 1.0);

// The loss and the accuracy (in %) of `runs` on the training, validation and test
// splits, per epoch: `<stem>_loss.csv` and `<stem>_accuracy.csv`, one column per
// split, labelled by `labels` in that order.
struct SplitCurves {
  DataFile loss, accuracy;
};
SplitCurves split_curves(const std::string& stem, const std::vector<const RunResult*>& runs,
                         const std::vector<std::string>& labels);

// One line per title, from column first + stride * k (a curve_file's means by
// default), titled by `titles`.
std::vector<Series> curve_series(const std::string& file, const std::vector<std::string>& titles,
                                 const std::string& style = "lines lw 2", size_t first = 2,
                                 size_t stride = 2);

// A panel of per-epoch curves from `file`: integer epoch ticks (about ten at most).
Panel epoch_panel(const std::string& title, const std::string& ylabel, const DataFile& file,
                  std::vector<Series> series, const std::string& key = "bottom right",
                  bool logy = false);

// Stats of one metric over the seeds of a run.
Stats stats_of(const Results& results, const std::string& id, Metric metric);

// A result that only a study with at least one seed 0 run has: the seed-0 run of `id`
// (the first one when seed 0 is absent); nullptr when none.
const RunResult* first_run(const Results& results, const std::string& id);

// "97.53%" from 0.9753.
std::string percent(double fraction, int decimals = 2);

// Reasons shared by several studies' notes: what --quick's shorter training explains,
// for accuracies (higher is better) and losses (lower is better). `report_training`
// completes "where the report trained ...", e.g. "100 epochs".
std::string quick_reason(const StudyPlan& plan, const std::string& report_training);

}  // namespace tapegrad::apps::experiment
