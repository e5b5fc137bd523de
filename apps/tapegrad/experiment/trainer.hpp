// The real training behind a study: data loaded through data_source (and kept
// for the runs that share it), the model built and trained with nn::fit.
#pragma once

#include <map>
#include <string>

#include "tapegrad/experiment/runner.hpp"
#include "tapegrad/nn/dataset.hpp"

namespace tapegrad::apps::experiment {

// The data of a configuration: its --data spec, normalisation, validation split
// and training limit. The split is seeded with 0 for every run, so the seeds of a
// study vary the initialisation and the minibatch order, not the data.
class DataCache {
 public:
  explicit DataCache(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  const nn::DataSplits& get(const RunConfig& config);

 private:
  std::string data_dir_;
  std::map<std::string, nn::DataSplits> cache_;
};

class Trainer {
 public:
  Trainer(const Study& study, const StudyPlan& plan, DataCache& data, bool progress = true)
      : study_(study), plan_(plan), data_(data), progress_(progress) {}
  RunResult operator()(const PlannedRun& run, uint64_t seed);

 private:
  const Study& study_;
  const StudyPlan& plan_;
  DataCache& data_;
  bool progress_;
};

}  // namespace tapegrad::apps::experiment
