// IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed, read through zlib.
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "data_io.hpp"
#include "tapegrad/nn/data.hpp"

namespace tapegrad::nn {

namespace detail {

namespace {

// zlib's message for the last error on `file`, without the path it puts in front.
std::string gz_message(gzFile file, const std::string& path, int* code) {
  std::string message = gzerror(file, code);
  if (message.starts_with(path + ": ")) message.erase(0, path.size() + 2);
  return message;
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    fail("cannot open {}: {}", path, errno != 0 ? std::strerror(errno) : "out of memory");
  }
  gzbuffer(file, 1u << 17);
  std::vector<uint8_t> bytes;
  std::error_code ec;
  const auto on_disk = std::filesystem::file_size(path, ec);
  if (!ec && !is_gz_path(path)) bytes.reserve(static_cast<size_t>(on_disk));
  constexpr size_t kChunk = size_t{1} << 20;
  for (;;) {
    const size_t old = bytes.size();
    bytes.resize(old + kChunk);
    const int got = gzread(file, bytes.data() + old, static_cast<unsigned>(kChunk));
    if (got < 0) {
      int code = 0;
      const std::string message = gz_message(file, path, &code);
      gzclose(file);
      fail("cannot read {}: {} (after {} bytes{})", path, message, old,
           is_gz_path(path) ? " of decompressed data" : "");
    }
    bytes.resize(old + static_cast<size_t>(got));
    if (static_cast<size_t>(got) < kChunk) break;
  }
  // zlib returns what it could decompress from a cut-off .gz file and flags it here.
  int code = Z_OK;
  const std::string message = gz_message(file, path, &code);
  gzclose(file);
  if (code == Z_BUF_ERROR) {
    fail("cannot read {}: the gzip stream is cut off ({}) after {} bytes of decompressed data",
         path, message, bytes.size());
  }
  return bytes;
}

Tensor bytes_to_features(const uint8_t* bytes, int64_t n, int64_t width) {
  Tensor features = Tensor::empty(Shape{n, width}, DType::f32);
  float* out = features.data<float>();
  const int64_t total = n * width;
  for (int64_t i = 0; i < total; ++i) out[i] = static_cast<float>(bytes[i]);
  return features;
}

}  // namespace detail

namespace {

constexpr uint32_t kImagesMagic = 2051;  // 0x00000803: unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 2049;  // 0x00000801: unsigned bytes, 1 dimension

uint32_t read_be32(const std::vector<uint8_t>& b, size_t offset) {
  return (uint32_t{b[offset]} << 24) | (uint32_t{b[offset + 1]} << 16) |
         (uint32_t{b[offset + 2]} << 8) | uint32_t{b[offset + 3]};
}

const char* offsets_note(const std::string& path) {
  return detail::is_gz_path(path) ? " (offsets count decompressed bytes)" : "";
}

// Checks the header of an IDX file and returns its dimensions.
std::vector<uint32_t> check_header(const std::vector<uint8_t>& bytes, const std::string& path,
                                   uint32_t magic, const char* what) {
  const size_t ndims = magic & 0xffu;
  const size_t header = 4 + 4 * ndims;
  if (bytes.size() < 4) {
    fail("{}: expected the 4-byte IDX magic number {} at offset 0, file ends at offset {}{}", path,
         magic, bytes.size(), offsets_note(path));
  }
  const uint32_t got = read_be32(bytes, 0);
  if (got != magic) {
    const char* hint = "";
    if (got == kImagesMagic) hint = "; this looks like an IDX image file";
    if (got == kLabelsMagic) hint = "; this looks like an IDX label file";
    fail("{}: magic number at offset 0 is {} (0x{:08x}), expected {} (0x{:08x}, IDX {}){}", path,
         got, got, magic, magic, what, hint);
  }
  if (bytes.size() < header) {
    fail(
        "{}: expected a {}-byte IDX header ({} sizes after the magic number), file ends at "
        "offset {}{}",
        path, header, ndims, bytes.size(), offsets_note(path));
  }
  std::vector<uint32_t> dims(ndims);
  for (size_t i = 0; i < ndims; ++i) dims[i] = read_be32(bytes, 4 + 4 * i);
  return dims;
}

// Checks that the payload after a `header`-byte header has exactly `expected` bytes of
// `kind` ("pixel" or "label") data, as `claim` (what the header says) requires.
void check_payload(const std::vector<uint8_t>& bytes, const std::string& path, size_t header,
                   uint64_t expected, const char* kind, const std::string& claim) {
  const uint64_t available = bytes.size() - header;
  if (available < expected) {
    fail("{}: {}: expected {} bytes of {} data at offset {}, file ends at offset {}{}", path, claim,
         expected, kind, header, bytes.size(), offsets_note(path));
  }
  if (available > expected) {
    fail(
        "{}: {}: expected {} bytes of {} data at offset {} and the end of the file at offset "
        "{}, but {} more bytes follow (file ends at offset {}){}",
        path, claim, expected, kind, header, header + expected, available - expected, bytes.size(),
        offsets_note(path));
  }
}

std::string default_hint(const std::string& name) {
  if (name == "mnist" || name == "fashion-mnist") {
    return fmt::format("run cmake/fetch_data.sh {} to fetch it", name);
  }
  return "put the four IDX files there";
}

// `dir/base.gz` when it exists, else `dir/base` when it exists, else empty.
std::string find_idx_file(const std::filesystem::path& dir, const std::string& base) {
  for (const std::string& candidate : {base + ".gz", base}) {
    const std::filesystem::path p = dir / candidate;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p.string();
  }
  return {};
}

}  // namespace

Dataset read_idx(const std::string& images_path, const std::string& labels_path, std::string name,
                 int64_t num_classes) {
  const std::vector<uint8_t> images = detail::read_file(images_path);
  const std::vector<uint32_t> idims = check_header(images, images_path, kImagesMagic, "images");
  const uint64_t count = idims[0], rows = idims[1], cols = idims[2];
  if (rows == 0 || cols == 0) {
    fail("{}: image size {}x{} at offset 8, expected positive rows and columns", images_path, rows,
         cols);
  }
  const uint64_t per_image = rows * cols;
  if (count > std::numeric_limits<uint64_t>::max() / per_image) {
    fail("{}: header claims {} images of {}x{}, more than any file can hold", images_path, count,
         rows, cols);
  }
  check_payload(images, images_path, 16, count * per_image, "pixel",
                fmt::format("header says {} images of {}x{}", count, rows, cols));

  const std::vector<uint8_t> labels = detail::read_file(labels_path);
  const uint64_t label_count = check_header(labels, labels_path, kLabelsMagic, "labels")[0];
  check_payload(labels, labels_path, 8, label_count, "label",
                fmt::format("header says {} labels", label_count));
  if (label_count != count) {
    fail(
        "{} has {} images (count at offset 4) but {} has {} labels (count at offset 4); "
        "expected one label per image",
        images_path, count, labels_path, label_count);
  }

  Dataset ds;
  ds.name = std::move(name);
  const auto n = static_cast<int64_t>(count);
  ds.labels.resize(static_cast<size_t>(n));
  int64_t max_label = -1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = labels[8 + static_cast<size_t>(i)];
    if (num_classes > 0 && label >= num_classes) {
      fail("{}: label {} of image {} at offset {} is out of range, expected 0..{}", labels_path,
           label, i, 8 + i, num_classes - 1);
    }
    ds.labels[static_cast<size_t>(i)] = label;
    max_label = std::max(max_label, label);
  }
  ds.num_classes = num_classes > 0 ? num_classes : max_label + 1;
  ds.features = detail::bytes_to_features(images.data() + 16, n, static_cast<int64_t>(per_image));
  ds.sample_shape = Shape{1, static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  return ds;
}

DataSplits load_idx_dir(const std::string& dir, std::string name, std::string fetch_hint) {
  if (fetch_hint.empty()) fetch_hint = default_hint(name);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    fail("{} data: directory {} not found; {}", name, dir, fetch_hint);
  }
  auto locate = [&](const std::string& base) {
    std::string path = find_idx_file(dir, base);
    if (path.empty()) {
      fail("{} data: {} not found (neither {}.gz nor {}); {}", name,
           (std::filesystem::path(dir) / base).string(), base, base, fetch_hint);
    }
    return path;
  };
  const std::string train_images = locate("train-images-idx3-ubyte");
  const std::string train_labels = locate("train-labels-idx1-ubyte");
  const std::string test_images = locate("t10k-images-idx3-ubyte");
  const std::string test_labels = locate("t10k-labels-idx1-ubyte");
  DataSplits splits;
  splits.train = read_idx(train_images, train_labels, name + "/train");
  splits.test = read_idx(test_images, test_labels, name + "/test");
  return splits;
}

void write_bytes(const std::string& path, std::span<const uint8_t> bytes) {
  if (detail::is_gz_path(path)) {
    errno = 0;
    gzFile file = gzopen(path.c_str(), "wb");
    if (file == nullptr) {
      fail("cannot create {}: {}", path, errno != 0 ? std::strerror(errno) : "out of memory");
    }
    size_t done = 0;
    while (done < bytes.size()) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(bytes.size() - done, 1u << 20));
      if (gzwrite(file, bytes.data() + done, chunk) != static_cast<int>(chunk)) {
        int code = 0;
        const std::string message = detail::gz_message(file, path, &code);
        gzclose(file);
        fail("cannot write {}: {}", path, message);
      }
      done += chunk;
    }
    if (gzclose(file) != Z_OK) fail("cannot write {}: closing the gzip stream failed", path);
    return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot create {}: {}", path, std::strerror(errno));
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fail("cannot write {}", path);
}

void write_idx(const std::string& path, std::span<const uint8_t> values,
               std::span<const int64_t> dims) {
  if (dims.empty() || dims.size() > 255) {
    fail("write_idx {}: expected 1..255 dimensions, got {}", path, dims.size());
  }
  uint64_t total = 1;
  for (const int64_t d : dims) {
    if (d < 0 || d > int64_t{std::numeric_limits<uint32_t>::max()}) {
      fail("write_idx {}: dimension {} does not fit an IDX size", path, d);
    }
    total *= static_cast<uint64_t>(d);
  }
  if (total != values.size()) {
    fail("write_idx {}: dimensions [{}] need {} values, got {}", path, fmt::join(dims, ", "), total,
         values.size());
  }
  std::vector<uint8_t> bytes;
  bytes.reserve(4 + 4 * dims.size() + values.size());
  auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(v >> shift));
  };
  put32(0x800u | static_cast<uint32_t>(dims.size()));
  for (const int64_t d : dims) put32(static_cast<uint32_t>(d));
  bytes.insert(bytes.end(), values.begin(), values.end());
  write_bytes(path, bytes);
}

}  // namespace tapegrad::nn
