#include "data_source.hpp"

#include <cstdlib>

#include "tapegrad/nn/data.hpp"

namespace tapegrad::apps {

std::string default_data_dir() {
  if (const char* env = std::getenv("TAPEGRAD_DATA_DIR"); env && *env) return env;
  return TAPEGRAD_SOURCE_DIR "/data";
}

namespace {
bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

nn::DataSplits load_raw(const DataRequest& r, bool& is_image, bool& is_toy) {
  const std::string dir = r.data_dir.empty() ? default_data_dir() : r.data_dir;
  is_image = false;
  is_toy = false;
  if (r.spec == "mnist" || r.spec == "fashion-mnist") {
    is_image = true;
    return nn::load_idx_dir(dir + "/" + r.spec, r.spec);
  }
  if (starts_with(r.spec, "cifar10:") || r.spec == "cifar10") {
    is_image = true;
    const std::string path = r.spec == "cifar10" ? dir + "/cifar-10-batches-bin" : r.spec.substr(8);
    return nn::load_cifar10(path);
  }
  if (starts_with(r.spec, "csv:")) {
    nn::DataSplits splits;
    splits.train = nn::read_csv(r.spec.substr(4));
    // A CSV file has no test split: hold out 20% of it, seeded.
    auto [train, test] = nn::split_fraction(splits.train, 0.2, r.seed + 1);
    splits.train = std::move(train);
    splits.test = std::move(test);
    return splits;
  }
  if (r.spec == "xor" || r.spec == "linear") {
    is_toy = true;
    Generator gen(r.seed);
    nn::DataSplits splits;
    // Report 004 trains and measures on the same small set.
    splits.train = r.spec == "xor" ? nn::make_xor_easy(21, gen) : nn::make_linear(100, gen);
    splits.test = splits.train;
    return splits;
  }
  check_data_spec(r.spec);
  fail("--data: data set '{}' has no loader", r.spec);
}
}  // namespace

void check_data_spec(const std::string& spec) {
  const bool known = spec == "mnist" || spec == "fashion-mnist" || spec == "xor" ||
                     spec == "linear" || spec == "cifar10" ||
                     (starts_with(spec, "cifar10:") && spec.size() > 8) ||
                     (starts_with(spec, "csv:") && spec.size() > 4);
  if (!known) fail("unknown data set '{}': expected one of {}", spec, kDataSpecs);
}

void check_normalize_mode(const std::string& mode) {
  for (const char* m : {"auto", "none", "unit", "zscore", "zscore-image"}) {
    if (mode == m) return;
  }
  fail("unknown mode '{}': expected auto, none, unit, zscore, zscore-image", mode);
}

nn::DataSplits load_data(const DataRequest& r) {
  if (r.val_split < 0 || r.val_split >= 1) {
    fail("--val-split must lie in [0, 1), got {}", r.val_split);
  }
  bool is_image = false, is_toy = false;
  nn::DataSplits s = load_raw(r, is_image, is_toy);
  if (r.limit_train > 0) s.train = nn::take(s.train, r.limit_train);
  if (r.limit_test > 0) s.test = nn::take(s.test, r.limit_test);
  if (r.val_split > 0) {
    auto [train, validation] = nn::split_fraction(s.train, r.val_split, r.seed);
    s.train = std::move(train);
    s.validation = std::move(validation);
  }

  std::string mode = r.normalize;
  if (mode == "auto") mode = is_image ? "unit" : (is_toy ? "none" : "zscore");
  auto each = [&](auto&& f) {
    for (nn::Dataset* d : {&s.train, &s.validation, &s.test}) {
      if (d->size() > 0) f(*d);
    }
  };
  if (mode == "unit") {
    each([](nn::Dataset& d) { nn::scale(d, 1.0 / 255.0); });
  } else if (mode == "zscore") {
    const nn::Standardizer z = nn::Standardizer::fit(s.train);  // training statistics only
    each([&](nn::Dataset& d) { z.apply(d); });
  } else if (mode == "zscore-image") {
    each([](nn::Dataset& d) { nn::zscore_per_sample_channel(d); });
  } else {
    check_normalize_mode(mode);
  }
  return s;
}

}  // namespace tapegrad::apps
