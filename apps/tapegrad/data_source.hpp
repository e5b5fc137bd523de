// Turns a --data spec (mnist, fashion-mnist, cifar10:DIR, csv:FILE, xor, linear)
// into train/validation/test splits, preprocessed.
#pragma once

#include <string>

#include "tapegrad/nn/dataset.hpp"

namespace tapegrad::apps {

struct DataRequest {
  std::string spec = "mnist";
  std::string data_dir;    // empty: $TAPEGRAD_DATA_DIR, else the source tree's data/
  double val_split = 0.0;  // fraction of the training split held out for validation
  uint64_t seed = 0;
  // auto, none, unit (x / 255), zscore (per feature, training statistics),
  // zscore-image (per image per channel, report 003).
  std::string normalize = "auto";
  int64_t limit_train = 0;  // keep only the first N training samples (0: all)
  int64_t limit_test = 0;   // keep only the first N test samples (0: all)
};

// The names accepted by --data, for help texts.
inline constexpr const char* kDataSpecs =
    "mnist, fashion-mnist, cifar10:DIR, csv:FILE, xor, linear";

// Throw when a --data spec or --normalize mode is not one of the known forms.
void check_data_spec(const std::string& spec);
void check_normalize_mode(const std::string& mode);

// The directory holding fetched data sets.
std::string default_data_dir();
nn::DataSplits load_data(const DataRequest& request);

}  // namespace tapegrad::apps
