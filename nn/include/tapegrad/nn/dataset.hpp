// A labelled data set held in memory: features as one f32 tensor [N, D], integer
// labels, and the shape of one sample (for images, [channels, height, width]).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad::nn {

struct Dataset {
  std::string name;
  Tensor features;              // [N, D], f32 unless converted
  std::vector<int64_t> labels;  // N labels in [0, num_classes)
  int64_t num_classes = 0;
  Shape sample_shape;  // shape of one sample, numel() == D

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t input_width() const { return features.defined() ? features.shape()[1] : 0; }
};

// Train, validation (possibly empty) and test parts of one data set.
struct DataSplits {
  Dataset train;
  Dataset validation;
  Dataset test;
};

}  // namespace tapegrad::nn
