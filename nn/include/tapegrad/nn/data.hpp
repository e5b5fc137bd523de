// Data sets: readers for the IDX (MNIST, Fashion-MNIST), CIFAR-10 binary and CSV formats,
// the toy sets of report 004, and preprocessing (scaling, standardisation, one-hot
// encoding, splitting). Every reader throws tapegrad::Error naming the file, the byte
// offset or line, and what was expected there.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/tensor.hpp"
#include "tapegrad/nn/dataset.hpp"

namespace tapegrad::nn {

// ---- IDX (MNIST, Fashion-MNIST) ----

// Reads an IDX image file (magic 2051: count, rows, cols, then count*rows*cols bytes) and
// an IDX label file (magic 2049: count, then count bytes). Either may be gzip-compressed
// (read through zlib) or plain; byte offsets in errors count uncompressed bytes. Features
// are f32 [N, rows*cols] holding the raw pixel values 0..255 (no scaling); sample_shape is
// [1, rows, cols]. Labels must lie below `num_classes`; num_classes <= 0 takes the largest
// label + 1 instead.
Dataset read_idx(const std::string& images_path, const std::string& labels_path, std::string name,
                 int64_t num_classes = 10);

// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte from `dir`, each either with a ".gz" suffix or without. The splits
// are named "<name>/train" and "<name>/test"; validation stays empty. A missing directory or
// file is reported with `fetch_hint` (what to run to get the data); when the hint is empty
// it is derived from the name: "run cmake/fetch_data.sh <name>" for mnist and
// fashion-mnist.
DataSplits load_idx_dir(const std::string& dir, std::string name, std::string fetch_hint = {});

// Writes `bytes` to `path`, gzip-compressed when the path ends in ".gz" (used to write
// small data sets in tests and tools).
void write_bytes(const std::string& path, std::span<const uint8_t> bytes);
// Writes an unsigned-byte IDX file (magic 0x0000080N for N dimensions, big-endian sizes),
// gzip-compressed when the path ends in ".gz". values.size() must equal the product of dims.
void write_idx(const std::string& path, std::span<const uint8_t> values,
               std::span<const int64_t> dims);

// ---- CIFAR-10 binary version ----

// Reads CIFAR-10 binary batch files: records of 1 label byte (0..9) and 3072 pixel bytes
// (the 32x32 red plane, then green, then blue), concatenated in the order given. Features
// are f32 [N, 3072] holding raw values 0..255; sample_shape is [3, 32, 32].
Dataset read_cifar10(const std::vector<std::string>& paths, std::string name);

// Reads data_batch_1.bin .. data_batch_5.bin (train, "cifar10/train") and test_batch.bin
// (test, "cifar10/test") from `dir`, the cifar-10-batches-bin directory extracted from
// cifar-10-binary.tar.gz. Validation stays empty.
DataSplits load_cifar10(const std::string& dir);

// ---- CSV ----

struct CsvOptions {
  // 0-based index of the label column; negative counts from the end (-1 = last).
  int64_t label_column = -1;
  // Whether the first line is a header; unset = detect (a header when any of its fields
  // is not a number).
  std::optional<bool> has_header;
  char delimiter = ',';
  // Name of the data set; empty = the file name without directory and extension.
  std::string name;
};

// Reads a delimited text file of numbers, one sample a line (blank lines are skipped).
// The label column must hold non-negative integers (1 and 1.0 are both accepted);
// num_classes is the largest label + 1. Features are f32 [N, fields - 1] in column order;
// sample_shape is [fields - 1]. Errors name the file, the 1-based line and column and the
// offending text.
Dataset read_csv(const std::string& path, const CsvOptions& opts = {});

// ---- Toy sets of report 004 (lab 1: "linear n=100" and "XOR easy") ----

// n points uniform in the unit square; label 1 when x > y, else 0. Features f32 [n, 2].
Dataset make_linear(int64_t n, Generator& gen);
// Points on the two diagonals of the unit square, see data_toy.cpp for the construction;
// n = 21 gives the lab's 21-point set. Deterministic: `gen` is not used.
Dataset make_xor_easy(int64_t n, Generator& gen);

// ---- Preprocessing ----
// Functions that change features replace ds.features with a new tensor, so other Datasets
// sharing the old tensor are left unchanged.

// Multiplies every feature by `factor` (1/255 maps raw pixels to [0, 1]), in place
// when no other handle shares the features (loading needs no second copy).
void scale(Dataset& ds, double factor);

// Per-feature z-score with statistics taken from one (training) split.
struct Standardizer {
  Tensor mean;    // [D], dtype of the fitted features
  Tensor stddev;  // [D]; 1 where the feature's standard deviation is <= eps

  // Mean and population standard deviation of every feature of `train`.
  static Standardizer fit(const Dataset& train, double eps = 1e-8);
  // features = (features - mean) / stddev; throws when the width differs from the fit.
  void apply(Dataset& ds) const;
};

// Report 003's normalisation: each channel of each sample (channels = sample_shape[0], each
// the following D / channels features) to mean 0 and standard deviation 1 over its values;
// a constant channel is only centred.
void zscore_per_sample_channel(Dataset& ds);

// [N, num_classes] with a 1 at each label; throws on a label outside [0, num_classes).
Tensor one_hot(std::span<const int64_t> labels, int64_t num_classes, DType dtype = DType::f32);

// Shuffles the indices with Generator(seed) and splits them into (first, second) where
// second holds round(N * second_fraction) samples, clamped so that neither part is empty.
// second_fraction must lie in (0, 1) and the data set needs at least 2 samples. Each part
// keeps the original order of its samples; the same seed gives the same split.
std::pair<Dataset, Dataset> split_fraction(const Dataset& ds, double second_fraction,
                                           uint64_t seed);
// The samples at `indices` (each in [0, N), repeats allowed), in that order.
Dataset subset(const Dataset& ds, std::span<const int64_t> indices);
// The first min(n, N) samples; n must be non-negative.
Dataset take(const Dataset& ds, int64_t n);

}  // namespace tapegrad::nn
