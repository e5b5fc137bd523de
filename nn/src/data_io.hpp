// Helpers shared by the data set readers (private to tapegrad_nn).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad::nn::detail {

// The whole content of a file, decompressed when it is gzip data (zlib reads plain files
// as they are). Throws naming the path when it cannot be opened or read.
std::vector<uint8_t> read_file(const std::string& path);

inline bool is_gz_path(std::string_view path) { return path.ends_with(".gz"); }

// f32 [n, width] holding the n*width bytes at `bytes` as values 0..255.
Tensor bytes_to_features(const uint8_t* bytes, int64_t n, int64_t width);

}  // namespace tapegrad::nn::detail
