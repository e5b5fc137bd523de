// Preprocessing: scaling, z-scores, one-hot labels, splits and subsets.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "tapegrad/nn/data.hpp"

namespace tapegrad::nn {

namespace {

void require_features(const Dataset& ds, const char* op) {
  if (!ds.features.defined() || ds.features.dim() != 2) {
    fail("{}: data set '{}' needs features of shape [N, D]", op, ds.name);
  }
  if (ds.features.shape()[0] != ds.size()) {
    fail("{}: data set '{}' has {} feature rows but {} labels", op, ds.name, ds.features.shape()[0],
         ds.size());
  }
}

}  // namespace

void scale(Dataset& ds, double factor) {
  require_features(ds, "scale");
  // Features that nothing else shares are scaled in place: a second copy of a data
  // set would double the peak memory of loading it.
  const bool sole_owner = ds.features.use_count() == 1 && !ds.features.requires_grad() &&
                          ds.features.impl()->storage->use_count() == 1;
  Tensor out = sole_owner ? ds.features : Tensor::empty(ds.features.shape(), ds.features.dtype());
  dispatch(out.dtype(), [&]<typename T>() {
    const T* x = ds.features.data<T>();
    T* y = out.data<T>();
    const int64_t total = out.numel();
    for (int64_t i = 0; i < total; ++i) y[i] = static_cast<T>(x[i] * factor);
  });
  ds.features = out;
}

Standardizer Standardizer::fit(const Dataset& train, double eps) {
  require_features(train, "Standardizer::fit");
  const int64_t n = train.features.shape()[0], d = train.features.shape()[1];
  if (n == 0) fail("Standardizer::fit: data set '{}' is empty", train.name);
  std::vector<double> mean(static_cast<size_t>(d), 0.0), var(static_cast<size_t>(d), 0.0);
  dispatch(train.features.dtype(), [&]<typename T>() {
    const T* x = train.features.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) mean[static_cast<size_t>(j)] += x[i * d + j];
    }
    for (double& m : mean) m /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) {
        const double c = x[i * d + j] - mean[static_cast<size_t>(j)];
        var[static_cast<size_t>(j)] += c * c;
      }
    }
  });
  std::vector<double> stddev(static_cast<size_t>(d));
  for (size_t j = 0; j < stddev.size(); ++j) {
    const double s = std::sqrt(var[j] / static_cast<double>(n));
    stddev[j] = s > eps ? s : 1.0;
  }
  Standardizer st;
  st.mean = from_data(std::span<const double>(mean), Shape{d}, train.features.dtype());
  st.stddev = from_data(std::span<const double>(stddev), Shape{d}, train.features.dtype());
  return st;
}

void Standardizer::apply(Dataset& ds) const {
  require_features(ds, "Standardizer::apply");
  if (!mean.defined() || !stddev.defined()) {
    fail("Standardizer::apply: not fitted (call Standardizer::fit first)");
  }
  const int64_t n = ds.features.shape()[0], d = ds.features.shape()[1];
  if (mean.numel() != d) {
    fail("Standardizer::apply: fitted on {} features, data set '{}' has {}", mean.numel(), ds.name,
         d);
  }
  const std::vector<double> m = mean.to_vector(), s = stddev.to_vector();
  Tensor out = Tensor::empty(ds.features.shape(), ds.features.dtype());
  dispatch(out.dtype(), [&]<typename T>() {
    const T* x = ds.features.data<T>();
    T* y = out.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) {
        const auto k = static_cast<size_t>(j);
        y[i * d + j] = static_cast<T>((x[i * d + j] - m[k]) / s[k]);
      }
    }
  });
  ds.features = out;
}

void zscore_per_sample_channel(Dataset& ds) {
  require_features(ds, "zscore_per_sample_channel");
  const int64_t n = ds.features.shape()[0], d = ds.features.shape()[1];
  if (ds.sample_shape.rank() < 1 || ds.sample_shape[0] <= 0 || ds.sample_shape.numel() != d) {
    fail(
        "zscore_per_sample_channel: data set '{}' has sample shape {} for {} features, "
        "expected [channels, ...] with {} elements",
        ds.name, ds.sample_shape, d, d);
  }
  const int64_t channels = ds.sample_shape[0];
  const int64_t per = d / channels;
  if (per == 0) return;
  Tensor out = Tensor::empty(ds.features.shape(), ds.features.dtype());
  dispatch(out.dtype(), [&]<typename T>() {
    const T* x = ds.features.data<T>();
    T* y = out.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t c = 0; c < channels; ++c) {
        const T* src = x + i * d + c * per;
        T* dst = y + i * d + c * per;
        double mean = 0;
        for (int64_t k = 0; k < per; ++k) mean += src[k];
        mean /= static_cast<double>(per);
        double var = 0;
        for (int64_t k = 0; k < per; ++k) var += (src[k] - mean) * (src[k] - mean);
        const double sd = std::sqrt(var / static_cast<double>(per));
        const double inv = sd > 1e-8 ? 1.0 / sd : 1.0;
        for (int64_t k = 0; k < per; ++k) dst[k] = static_cast<T>((src[k] - mean) * inv);
      }
    }
  });
  ds.features = out;
}

Tensor one_hot(std::span<const int64_t> labels, int64_t num_classes, DType dtype) {
  if (num_classes <= 0) fail("one_hot: num_classes must be positive, got {}", num_classes);
  const auto n = static_cast<int64_t>(labels.size());
  Tensor out = zeros(Shape{n, num_classes}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* y = out.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t label = labels[static_cast<size_t>(i)];
      if (label < 0 || label >= num_classes) {
        fail("one_hot: label {} at index {} is out of range, expected 0..{}", label, i,
             num_classes - 1);
      }
      y[i * num_classes + label] = T(1);
    }
  });
  return out;
}

Dataset subset(const Dataset& ds, std::span<const int64_t> indices) {
  require_features(ds, "subset");
  const int64_t n = ds.size(), d = ds.features.shape()[1];
  const auto m = static_cast<int64_t>(indices.size());
  Dataset out;
  out.name = ds.name;
  out.num_classes = ds.num_classes;
  out.sample_shape = ds.sample_shape;
  out.features = Tensor::empty(Shape{m, d}, ds.features.dtype());
  out.labels.resize(indices.size());
  const size_t row_bytes = static_cast<size_t>(d) * dtype_size(ds.features.dtype());
  const auto* src = static_cast<const char*>(ds.features.raw_data());
  auto* dst = static_cast<char*>(out.features.raw_data());
  for (int64_t r = 0; r < m; ++r) {
    const int64_t i = indices[static_cast<size_t>(r)];
    if (i < 0 || i >= n) {
      fail("subset: index {} at position {} is out of range for data set '{}' of {} samples", i, r,
           ds.name, n);
    }
    if (row_bytes > 0) {
      std::memcpy(dst + static_cast<size_t>(r) * row_bytes,
                  src + static_cast<size_t>(i) * row_bytes, row_bytes);
    }
    out.labels[static_cast<size_t>(r)] = ds.labels[static_cast<size_t>(i)];
  }
  return out;
}

Dataset take(const Dataset& ds, int64_t n) {
  if (n < 0) fail("take: expected a non-negative count, got {}", n);
  std::vector<int64_t> indices(static_cast<size_t>(std::min(n, ds.size())));
  std::iota(indices.begin(), indices.end(), int64_t{0});
  return subset(ds, indices);
}

std::pair<Dataset, Dataset> split_fraction(const Dataset& ds, double second_fraction,
                                           uint64_t seed) {
  if (!(second_fraction > 0.0 && second_fraction < 1.0)) {
    fail("split_fraction: fraction must lie strictly between 0 and 1, got {}", second_fraction);
  }
  const int64_t n = ds.size();
  if (n < 2) fail("split_fraction: data set '{}' has {} samples, need at least 2", ds.name, n);
  const int64_t second =
      std::clamp<int64_t>(std::llround(static_cast<double>(n) * second_fraction), 1, n - 1);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  Generator gen(seed);
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    const auto j = static_cast<int64_t>(gen.below(static_cast<uint64_t>(i + 1)));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  std::vector<int64_t> first_idx(order.begin(), order.end() - second);
  std::vector<int64_t> second_idx(order.end() - second, order.end());
  std::sort(first_idx.begin(), first_idx.end());
  std::sort(second_idx.begin(), second_idx.end());
  return {subset(ds, first_idx), subset(ds, second_idx)};
}

}  // namespace tapegrad::nn
