// CIFAR-10, binary version: records of 1 label byte and 3072 pixel bytes.
#include <filesystem>

#include "data_io.hpp"
#include "tapegrad/nn/data.hpp"

namespace tapegrad::nn {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;
constexpr int64_t kRecord = 1 + kPixels;
constexpr int64_t kClasses = 10;

constexpr const char* kDownloadHint =
    "download the \"CIFAR-10 binary version\" (cifar-10-binary.tar.gz) from the University of "
    "Toronto's CIFAR page (https://www.cs.toronto.edu/~kriz/cifar.html), extract it with "
    "`tar xzf cifar-10-binary.tar.gz` and pass the extracted cifar-10-batches-bin directory";

}  // namespace

Dataset read_cifar10(const std::vector<std::string>& paths, std::string name) {
  std::vector<std::vector<uint8_t>> files;
  int64_t total = 0;
  for (const std::string& path : paths) {
    std::vector<uint8_t> bytes = detail::read_file(path);
    const auto size = static_cast<int64_t>(bytes.size());
    if (size == 0) {
      fail("{}: file is empty, expected records of {} bytes (1 label byte + {} pixel bytes)", path,
           kRecord, kPixels);
    }
    if (size % kRecord != 0) {
      const int64_t record = size / kRecord;
      fail(
          "{}: size {} bytes is not a multiple of {} (1 label byte + {} pixel bytes a record): "
          "record {} at offset {} is incomplete, {} of {} bytes",
          path, size, kRecord, kPixels, record, record * kRecord, size % kRecord, kRecord);
    }
    const int64_t records = size / kRecord;
    for (int64_t r = 0; r < records; ++r) {
      const uint8_t label = bytes[static_cast<size_t>(r * kRecord)];
      if (label >= kClasses) {
        fail("{}: record {} at byte offset {} has label {}, expected 0..{}", path, r, r * kRecord,
             label, kClasses - 1);
      }
    }
    total += records;
    files.push_back(std::move(bytes));
  }

  Dataset ds;
  ds.name = std::move(name);
  ds.num_classes = kClasses;
  ds.sample_shape = Shape{3, 32, 32};
  ds.features = Tensor::empty(Shape{total, kPixels}, DType::f32);
  ds.labels.reserve(static_cast<size_t>(total));
  float* out = ds.features.data<float>();
  for (const std::vector<uint8_t>& bytes : files) {
    const int64_t records = static_cast<int64_t>(bytes.size()) / kRecord;
    for (int64_t r = 0; r < records; ++r) {
      const uint8_t* record = bytes.data() + r * kRecord;
      ds.labels.push_back(record[0]);
      // The record's planes (R, G, B, each 32x32 row-major) are already [3, 32, 32].
      for (int64_t i = 0; i < kPixels; ++i) out[i] = static_cast<float>(record[1 + i]);
      out += kPixels;
    }
  }
  return ds;
}

DataSplits load_cifar10(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    fail("CIFAR-10: directory {} not found; {}", dir, kDownloadHint);
  }
  auto locate = [&](const std::string& file) {
    const fs::path path = fs::path(dir) / file;
    if (!fs::is_regular_file(path, ec)) {
      fail(
          "CIFAR-10: {} not found (expected data_batch_1.bin .. data_batch_5.bin and "
          "test_batch.bin in {}); {}",
          path.string(), dir, kDownloadHint);
    }
    return path.string();
  };
  std::vector<std::string> train_paths;
  for (int i = 1; i <= 5; ++i) train_paths.push_back(locate(fmt::format("data_batch_{}.bin", i)));
  const std::string test_path = locate("test_batch.bin");
  DataSplits splits;
  splits.train = read_cifar10(train_paths, "cifar10/train");
  splits.test = read_cifar10({test_path}, "cifar10/test");
  return splits;
}

}  // namespace tapegrad::nn
