// Data set readers (IDX, CIFAR-10, CSV), toy sets and preprocessing, on small files the
// tests write themselves; the real MNIST is checked only when cmake/fetch_data.sh fetched it.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <numeric>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/nn/data.hpp"

namespace fs = std::filesystem;
using tapegrad::DType;
using tapegrad::Generator;
using tapegrad::Shape;
using tapegrad::Tensor;
using namespace tapegrad::nn;

namespace {

// A fresh directory under the system temp dir, removed with its content at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            fmt::format("tapegrad_test_data_{}_{}", static_cast<long>(::getpid()), counter++);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The message of the tapegrad::Error that f throws ("<no error>" when it returns).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tapegrad::Error& e) {
    return e.what();
  }
  return "<no error>";
}

void check_has(const std::string& message, std::initializer_list<std::string_view> parts) {
  for (const std::string_view part : parts) {
    CHECK_MESSAGE(message.find(part) != std::string::npos,
                  fmt::format("'{}' is missing from: {}", part, message));
  }
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
}

// IDX bytes with a free header (so that the tests can write inconsistent files).
std::vector<uint8_t> idx_bytes(uint32_t magic, std::vector<uint32_t> dims, size_t payload,
                               uint8_t fill = 7) {
  std::vector<uint8_t> b;
  put32(b, magic);
  for (const uint32_t d : dims) put32(b, d);
  b.insert(b.end(), payload, fill);
  return b;
}

// Three 2x3 images whose pixel k of image i is 10*i + k, and their labels 3, 0, 9.
const std::vector<uint8_t> kPixels = {0,  1,  2,  3,  4,  5,  10, 11, 12,
                                      13, 14, 15, 20, 21, 22, 23, 24, 25};
const std::vector<uint8_t> kLabels = {3, 0, 9};

void write_small_idx(const std::string& images, const std::string& labels) {
  const std::vector<int64_t> image_dims = {3, 2, 3};
  const std::vector<int64_t> label_dims = {3};
  write_idx(images, kPixels, image_dims);
  write_idx(labels, kLabels, label_dims);
}

void check_small_idx(const Dataset& ds) {
  CHECK(ds.size() == 3);
  CHECK(ds.features.shape() == Shape{3, 6});
  CHECK(ds.features.dtype() == DType::f32);
  CHECK(ds.sample_shape == Shape{1, 2, 3});
  CHECK(ds.num_classes == 10);
  CHECK(ds.labels == std::vector<int64_t>{3, 0, 9});
  const std::vector<double> v = ds.features.to_vector();
  REQUIRE(v.size() == kPixels.size());
  for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<double>(kPixels[i]));
}

}  // namespace

// ---------------------------------------------------------------- IDX

TEST_CASE("data: read_idx reads plain and gzip IDX files with raw pixel values") {
  TempDir dir;
  SUBCASE("plain") {
    write_small_idx(dir.file("img"), dir.file("lbl"));
    // The plain writer must not compress: the file is header + pixels exactly.
    CHECK(fs::file_size(dir.file("img")) == 16 + kPixels.size());
    const Dataset ds = read_idx(dir.file("img"), dir.file("lbl"), "small");
    CHECK(ds.name == "small");
    check_small_idx(ds);
  }
  SUBCASE("gzip") {
    write_small_idx(dir.file("img.gz"), dir.file("lbl.gz"));
    std::ifstream in(dir.file("img.gz"), std::ios::binary);
    const int b0 = in.get(), b1 = in.get();
    CHECK(b0 == 0x1f);  // gzip magic: the file really is compressed
    CHECK(b1 == 0x8b);
    check_small_idx(read_idx(dir.file("img.gz"), dir.file("lbl.gz"), "small"));
  }
  SUBCASE("num_classes <= 0 takes the largest label + 1") {
    write_small_idx(dir.file("img"), dir.file("lbl"));
    CHECK(read_idx(dir.file("img"), dir.file("lbl"), "s", 0).num_classes == 10);
    const std::vector<uint8_t> labels = {1, 4, 2};
    const std::vector<int64_t> dims = {3};
    write_idx(dir.file("lbl"), labels, dims);
    CHECK(read_idx(dir.file("img"), dir.file("lbl"), "s", 0).num_classes == 5);
  }
}

TEST_CASE("data: load_idx_dir reads the four MNIST files, gzipped or not") {
  TempDir dir;
  write_small_idx(dir.file("train-images-idx3-ubyte.gz"), dir.file("train-labels-idx1-ubyte"));
  const std::vector<uint8_t> test_pixels(2 * 6, 200);
  const std::vector<uint8_t> test_labels = {7, 2};
  const std::vector<int64_t> test_image_dims = {2, 2, 3};
  const std::vector<int64_t> test_label_dims = {2};
  write_idx(dir.file("t10k-images-idx3-ubyte"), test_pixels, test_image_dims);
  write_idx(dir.file("t10k-labels-idx1-ubyte.gz"), test_labels, test_label_dims);
  const DataSplits splits = load_idx_dir(dir.path().string(), "mnist");
  check_small_idx(splits.train);
  CHECK(splits.train.name == "mnist/train");
  CHECK(splits.test.name == "mnist/test");
  CHECK(splits.test.size() == 2);
  CHECK(splits.test.labels == std::vector<int64_t>{7, 2});
  CHECK(splits.test.features.at({1, 5}) == 200.0);
  CHECK(splits.validation.size() == 0);
}

TEST_CASE("data: IDX errors name the file, the offset and what was expected") {
  TempDir dir;
  const std::string img = dir.file("images-idx3-ubyte");
  const std::string lbl = dir.file("labels-idx1-ubyte");
  write_small_idx(img, lbl);

  SUBCASE("missing file") {
    const std::string missing = dir.file("nope-idx3-ubyte");
    check_has(error_of([&] { read_idx(missing, lbl, "x"); }), {missing, "cannot open"});
  }
  SUBCASE("missing directory: the hint says how to fetch the data") {
    const std::string absent = dir.file("no-such-dir");
    check_has(error_of([&] { load_idx_dir(absent, "mnist"); }),
              {absent, "run cmake/fetch_data.sh mnist"});
    check_has(error_of([&] { load_idx_dir(absent, "fashion-mnist"); }),
              {"run cmake/fetch_data.sh fashion-mnist"});
    check_has(error_of([&] { load_idx_dir(absent, "digits", "unpack digits.tar first"); }),
              {absent, "unpack digits.tar first"});
  }
  SUBCASE("missing file in the directory") {
    write_small_idx(dir.file("train-images-idx3-ubyte"), dir.file("train-labels-idx1-ubyte"));
    write_small_idx(dir.file("t10k-images-idx3-ubyte"), dir.file("other-labels"));
    check_has(error_of([&] { load_idx_dir(dir.path().string(), "mnist"); }),
              {(dir.path() / "t10k-labels-idx1-ubyte").string(), "t10k-labels-idx1-ubyte.gz",
               "run cmake/fetch_data.sh mnist"});
  }
  SUBCASE("wrong magic number in the image file") {
    write_raw(img, idx_bytes(2049, {3, 2, 3}, 18));
    check_has(error_of([&] { read_idx(img, lbl, "x"); }),
              {img, "offset 0", "is 2049", "expected 2051", "looks like an IDX label file"});
  }
  SUBCASE("wrong magic number in the label file") {
    write_raw(lbl, idx_bytes(0x12345678, {3}, 3));
    check_has(error_of([&] { read_idx(img, lbl, "x"); }),
              {lbl, "offset 0", "305419896", "expected 2049"});
  }
  SUBCASE("header cut short") {
    std::vector<uint8_t> b = idx_bytes(2051, {3, 2, 3}, 0);
    b.resize(10);
    write_raw(img, b);
    check_has(error_of([&] { read_idx(img, lbl, "x"); }),
              {img, "16-byte IDX header", "file ends at offset 10"});
    write_raw(img, {0, 0});
    check_has(error_of([&] { read_idx(img, lbl, "x"); }),
              {img, "magic number 2051 at offset 0", "file ends at offset 2"});
  }
  SUBCASE("truncated pixel data, plain and gzip") {
    write_raw(img, idx_bytes(2051, {3, 2, 3}, 10));
    check_has(error_of([&] { read_idx(img, lbl, "x"); }),
              {img, "3 images of 2x3", "expected 18 bytes of pixel data at offset 16",
               "file ends at offset 26"});
    const std::string gz = dir.file("images.gz");
    write_bytes(gz, idx_bytes(2051, {3, 2, 3}, 17));
    check_has(error_of([&] { read_idx(gz, lbl, "x"); }),
              {gz, "expected 18 bytes of pixel data at offset 16", "file ends at offset 33",
               "decompressed"});
  }
  SUBCASE("trailing bytes after the pixel data") {
    write_raw(img, idx_bytes(2051, {3, 2, 3}, 20));
    check_has(error_of([&] { read_idx(img, lbl, "x"); }),
              {img, "expected 18 bytes of pixel data at offset 16", "offset 34", "2 more bytes"});
  }
  SUBCASE("truncated labels") {
    write_raw(lbl, idx_bytes(2049, {3}, 2));
    check_has(error_of([&] { read_idx(img, lbl, "x"); }),
              {lbl, "expected 3 bytes of label data at offset 8", "file ends at offset 10"});
  }
  SUBCASE("image count differs from label count") {
    write_raw(lbl, idx_bytes(2049, {4}, 4, 1));
    check_has(error_of([&] { read_idx(img, lbl, "x"); }), {img, "3 images", lbl, "4 labels"});
  }
  SUBCASE("label out of range") {
    std::vector<uint8_t> b = idx_bytes(2049, {3}, 3, 1);
    b[9] = 12;  // label of image 1
    write_raw(lbl, b);
    check_has(error_of([&] { read_idx(img, lbl, "x"); }),
              {lbl, "label 12", "image 1", "offset 9", "expected 0..9"});
  }
  SUBCASE("gzip file cut off") {
    const std::string gz = dir.file("cut.gz");
    std::vector<uint8_t> labels(5000);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>((i * 7919) % 10);
    const std::vector<int64_t> dims = {5000};
    write_idx(gz, labels, dims);
    std::vector<uint8_t> bytes(fs::file_size(gz));
    std::ifstream(gz, std::ios::binary)
        .read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(bytes.size() - 12);  // drop the trailer and part of the deflate stream
    write_raw(gz, bytes);
    check_has(error_of([&] { read_idx(img, gz, "x"); }), {gz, "cut off", "decompressed data"});
  }
  SUBCASE("corrupt gzip stream") {
    const std::string gz = dir.file("bad.gz");
    std::vector<uint8_t> b = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    b.insert(b.end(), 64, 0xff);
    write_raw(gz, b);
    check_has(error_of([&] { read_idx(gz, lbl, "x"); }), {gz, "cannot read"});
  }
}

TEST_CASE("data: write_idx checks its arguments") {
  TempDir dir;
  const std::vector<uint8_t> values(5, 1);
  const std::vector<int64_t> dims = {2, 3};
  check_has(error_of([&] { write_idx(dir.file("a"), values, dims); }), {"need 6 values, got 5"});
}

namespace {

// Where cmake/fetch_data.sh puts data sets: $TAPEGRAD_DATA_DIR, else <repo>/data.
fs::path data_root() {
  const char* env = std::getenv("TAPEGRAD_DATA_DIR");
  if (env != nullptr && *env != '\0') return env;
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "data";
}

}  // namespace

TEST_CASE("data: the real MNIST, when cmake/fetch_data.sh has fetched it") {
  const fs::path dir = data_root() / "mnist";
  if (!fs::exists(dir / "train-labels-idx1-ubyte") &&
      !fs::exists(dir / "train-labels-idx1-ubyte.gz")) {
    MESSAGE(fmt::format("skipped: no MNIST in {} (run cmake/fetch_data.sh mnist)", dir.string()));
    return;
  }
  const DataSplits mnist = load_idx_dir(dir.string(), "mnist");
  CHECK(mnist.train.size() == 60000);
  CHECK(mnist.test.size() == 10000);
  CHECK(mnist.train.features.shape() == Shape{60000, 784});
  CHECK(mnist.train.sample_shape == Shape{1, 28, 28});
  CHECK(mnist.train.labels[0] == 5);  // the well-known first digits
  CHECK(mnist.test.labels[0] == 7);
  std::vector<int64_t> counts(10, 0);
  for (const int64_t label : mnist.train.labels) ++counts[static_cast<size_t>(label)];
  CHECK(counts == std::vector<int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
  const float* px = mnist.train.features.data<float>();
  CHECK(*std::max_element(px, px + 784 * 100) == 255.0f);  // raw values, not scaled
}

TEST_CASE("data: the real Fashion-MNIST (gzipped), when cmake/fetch_data.sh has fetched it") {
  const fs::path dir = data_root() / "fashion-mnist";
  if (!fs::exists(dir / "train-labels-idx1-ubyte") &&
      !fs::exists(dir / "train-labels-idx1-ubyte.gz")) {
    MESSAGE(fmt::format("skipped: no Fashion-MNIST in {} (run cmake/fetch_data.sh fashion-mnist)",
                        dir.string()));
    return;
  }
  const DataSplits fashion = load_idx_dir(dir.string(), "fashion-mnist");
  CHECK(fashion.train.size() == 60000);
  CHECK(fashion.test.size() == 10000);
  CHECK(fashion.test.features.shape() == Shape{10000, 784});
  std::vector<int64_t> counts(10, 0);
  for (const int64_t label : fashion.train.labels) ++counts[static_cast<size_t>(label)];
  CHECK(counts == std::vector<int64_t>(10, 6000));  // balanced classes
  CHECK(fashion.train.labels[0] == 9);              // an ankle boot
}

// ---------------------------------------------------------------- CIFAR-10

namespace {

// One CIFAR-10 record: the label, then red plane = r, green = g, blue = b, except pixel 0
// of each plane holding 100 + plane so that the plane order can be checked.
std::vector<uint8_t> cifar_record(uint8_t label, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> rec;
  rec.push_back(label);
  for (const uint8_t v : {r, g, b}) rec.insert(rec.end(), 1024, v);
  rec[1] = 100;
  rec[1 + 1024] = 101;
  rec[1 + 2048] = 102;
  return rec;
}

std::vector<uint8_t> cifar_file(std::initializer_list<uint8_t> labels) {
  std::vector<uint8_t> bytes;
  for (const uint8_t label : labels) {
    const std::vector<uint8_t> rec = cifar_record(label, label, static_cast<uint8_t>(label + 20),
                                                  static_cast<uint8_t>(label + 40));
    bytes.insert(bytes.end(), rec.begin(), rec.end());
  }
  return bytes;
}

void write_cifar_dir(const TempDir& dir) {
  write_raw(dir.file("data_batch_1.bin"), cifar_file({0, 1}));
  write_raw(dir.file("data_batch_2.bin"), cifar_file({2}));
  write_raw(dir.file("data_batch_3.bin"), cifar_file({3}));
  write_raw(dir.file("data_batch_4.bin"), cifar_file({4}));
  write_raw(dir.file("data_batch_5.bin"), cifar_file({9, 5}));
  write_raw(dir.file("test_batch.bin"), cifar_file({8}));
}

}  // namespace

TEST_CASE("data: load_cifar10 reads the binary batches in order, planes R, G, B") {
  TempDir dir;
  write_cifar_dir(dir);
  const DataSplits cifar = load_cifar10(dir.path().string());
  const Dataset& train = cifar.train;
  CHECK(train.name == "cifar10/train");
  CHECK(cifar.test.name == "cifar10/test");
  CHECK(train.labels == std::vector<int64_t>{0, 1, 2, 3, 4, 9, 5});
  CHECK(train.features.shape() == Shape{7, 3072});
  CHECK(train.sample_shape == Shape{3, 32, 32});
  CHECK(train.num_classes == 10);
  CHECK(cifar.test.labels == std::vector<int64_t>{8});
  // Sample 5 (label 9): R plane 9, G 29, B 49, first pixel of each plane 100, 101, 102.
  CHECK(train.features.at({5, 0}) == 100.0);
  CHECK(train.features.at({5, 1}) == 9.0);
  CHECK(train.features.at({5, 1023}) == 9.0);
  CHECK(train.features.at({5, 1024}) == 101.0);
  CHECK(train.features.at({5, 1025}) == 29.0);
  CHECK(train.features.at({5, 2048}) == 102.0);
  CHECK(train.features.at({5, 3071}) == 49.0);
  CHECK(cifar.test.features.at({0, 3071}) == 48.0);
}

TEST_CASE("data: CIFAR-10 errors say where to get the data, and name file, record and offset") {
  TempDir dir;
  write_cifar_dir(dir);
  SUBCASE("missing directory") {
    const std::string absent = dir.file("cifar-10-batches-bin");
    check_has(error_of([&] { load_cifar10(absent); }),
              {absent, "CIFAR-10 binary version", "cifar-10-binary.tar.gz", "University of Toronto",
               "cifar-10-batches-bin directory"});
  }
  SUBCASE("missing batch file") {
    fs::remove(dir.file("data_batch_3.bin"));
    check_has(error_of([&] { load_cifar10(dir.path().string()); }),
              {dir.file("data_batch_3.bin"), "cifar-10-binary.tar.gz"});
  }
  SUBCASE("size not a multiple of 3073") {
    std::vector<uint8_t> bytes = cifar_file({1, 2});
    bytes.resize(bytes.size() + 100, 0);
    write_raw(dir.file("data_batch_4.bin"), bytes);
    check_has(error_of([&] { load_cifar10(dir.path().string()); }),
              {dir.file("data_batch_4.bin"), "size 6246 bytes", "not a multiple of 3073",
               "record 2 at offset 6146", "100 of 3073 bytes"});
  }
  SUBCASE("label above 9") {
    write_raw(dir.file("test_batch.bin"), cifar_file({1, 10}));
    check_has(
        error_of([&] { load_cifar10(dir.path().string()); }),
        {dir.file("test_batch.bin"), "record 1 at byte offset 3073", "label 10", "expected 0..9"});
  }
  SUBCASE("empty file") {
    write_raw(dir.file("data_batch_1.bin"), {});
    check_has(error_of([&] { load_cifar10(dir.path().string()); }),
              {dir.file("data_batch_1.bin"), "empty"});
  }
}

// ---------------------------------------------------------------- CSV

namespace {

std::string write_text(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST_CASE("data: read_csv with and without a header") {
  TempDir dir;
  SUBCASE("header detected, label last") {
    const std::string path =
        write_text(dir, "iris.csv", "sepal,petal,class\n1.5,2,0\n\n-3,4e1,2\r\n0.25, 7 ,1.0\n");
    const Dataset ds = read_csv(path);
    CHECK(ds.name == "iris");
    CHECK(ds.size() == 3);
    CHECK(ds.labels == std::vector<int64_t>{0, 2, 1});
    CHECK(ds.num_classes == 3);
    CHECK(ds.sample_shape == Shape{2});
    CHECK(ds.features.to_vector() == std::vector<double>{1.5, 2, -3, 40, 0.25, 7});
  }
  SUBCASE("no header detected: the first line is data") {
    const std::string path = write_text(dir, "d.csv", "1,2,3\n4,5,6\n");
    const Dataset ds = read_csv(path);
    CHECK(ds.size() == 2);
    CHECK(ds.labels == std::vector<int64_t>{3, 6});
    CHECK(ds.num_classes == 7);
  }
  SUBCASE("label column first, other delimiter, named") {
    const std::string path = write_text(dir, "d.txt", "5;0.5;1\n2;-1;+2\n");
    CsvOptions opts;
    opts.label_column = 0;
    opts.delimiter = ';';
    opts.name = "semi";
    const Dataset ds = read_csv(path, opts);
    CHECK(ds.name == "semi");
    CHECK(ds.labels == std::vector<int64_t>{5, 2});
    CHECK(ds.features.to_vector() == std::vector<double>{0.5, 1, -1, 2});
  }
  SUBCASE("has_header = true skips a numeric first line") {
    const std::string path = write_text(dir, "d.csv", "10,20,30\n1,2,3\n");
    CsvOptions opts;
    opts.has_header = true;
    const Dataset ds = read_csv(path, opts);
    CHECK(ds.size() == 1);
    CHECK(ds.labels == std::vector<int64_t>{3});
  }
}

TEST_CASE("data: CSV errors name the file, line, column and text") {
  TempDir dir;
  SUBCASE("non-numeric field, with the header's column name") {
    const std::string path = write_text(dir, "a.csv", "x,y,label\n1,2,0\n3,abc,1\n");
    check_has(error_of([&] { read_csv(path); }),
              {path + ":3:", "column 2 of 3", "'y'", "'abc' is not a number"});
  }
  SUBCASE("has_header = false makes a text first line an error") {
    const std::string path = write_text(dir, "a.csv", "x,y,label\n1,2,0\n");
    CsvOptions opts;
    opts.has_header = false;
    check_has(error_of([&] { read_csv(path, opts); }),
              {path + ":1:", "column 1 of 3", "'x' is not a number"});
  }
  SUBCASE("empty field") {
    const std::string path = write_text(dir, "a.csv", "1,2,0\n1,,0\n");
    check_has(error_of([&] { read_csv(path); }), {path + ":2:", "column 2 of 3", "'' is not"});
  }
  SUBCASE("wrong number of fields") {
    const std::string path = write_text(dir, "a.csv", "1,2,0\n\n3,4,5,1\n");
    check_has(error_of([&] { read_csv(path); }),
              {path + ":3:", "found 4 fields, expected 3 (as on line 1)"});
  }
  SUBCASE("negative label") {
    const std::string path = write_text(dir, "a.csv", "1,2,0\n3,4,-1\n");
    check_has(error_of([&] { read_csv(path); }),
              {path + ":2:", "column 3 of 3", "'-1' is not a non-negative integer"});
  }
  SUBCASE("non-integer label") {
    const std::string path = write_text(dir, "a.csv", "a,b\n1,0\n2,1.5\n");
    check_has(error_of([&] { read_csv(path); }),
              {path + ":3:", "column 2 of 2 ('b')", "'1.5' is not a non-negative integer"});
  }
  SUBCASE("empty file and header only") {
    const std::string empty = write_text(dir, "e.csv", "");
    check_has(error_of([&] { read_csv(empty); }), {empty, "empty"});
    const std::string blank = write_text(dir, "b.csv", "\n  \n");
    check_has(error_of([&] { read_csv(blank); }), {blank, "empty"});
    const std::string header = write_text(dir, "h.csv", "\nx,label\n");
    check_has(error_of([&] { read_csv(header); }), {header, "only a header on line 2"});
  }
  SUBCASE("label column out of range, too few columns, missing file") {
    const std::string path = write_text(dir, "a.csv", "1,2,0\n");
    CsvOptions opts;
    opts.label_column = 3;
    check_has(error_of([&] { read_csv(path, opts); }),
              {path + ":1:", "label column 3", "3 columns"});
    const std::string one = write_text(dir, "one.csv", "1\n2\n");
    check_has(error_of([&] { read_csv(one); }), {one + ":1:", "found 1 field"});
    const std::string missing = dir.file("missing.csv");
    check_has(error_of([&] { read_csv(missing); }), {missing, "cannot open"});
  }
}

// ---------------------------------------------------------------- toy sets

TEST_CASE("data: make_linear labels x > y as 1, deterministically by seed") {
  Generator gen(7);
  const Dataset ds = make_linear(100, gen);
  CHECK(ds.size() == 100);
  CHECK(ds.features.shape() == Shape{100, 2});
  CHECK(ds.num_classes == 2);
  int ones = 0;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const double x = ds.features.at({i, 0}), y = ds.features.at({i, 1});
    CHECK(x >= 0.0);
    CHECK(x < 1.0);
    CHECK(y >= 0.0);
    CHECK(y < 1.0);
    CHECK(ds.labels[static_cast<size_t>(i)] == (x > y ? 1 : 0));
    ones += x > y ? 1 : 0;
  }
  CHECK(ones > 25);  // both classes are well represented
  CHECK(ones < 75);
  Generator same(7), other(8);
  const Dataset again = make_linear(100, same);
  CHECK(again.features.to_vector() == ds.features.to_vector());
  CHECK(again.labels == ds.labels);
  CHECK(make_linear(100, other).features.to_vector() != ds.features.to_vector());
}

TEST_CASE("data: make_xor_easy puts class 0 on the main diagonal and class 1 on the other") {
  Generator gen(0);
  const Dataset lab = make_xor_easy(21, gen);
  REQUIRE(lab.size() == 21);
  // The lab's set: (0.1i, 0.1i) -> 0 for i = 0..10, (0.1i, 1 - 0.1i) -> 1 for i != 5.
  std::vector<double> expected;
  std::vector<int64_t> labels;
  for (int i = 0; i <= 10; ++i) {
    expected.insert(expected.end(), {0.1 * i, 0.1 * i});
    labels.push_back(0);
    if (i == 5) continue;
    expected.insert(expected.end(), {0.1 * i, 1 - 0.1 * i});
    labels.push_back(1);
  }
  CHECK(lab.labels == labels);
  const std::vector<double> got = lab.features.to_vector();
  REQUIRE(got.size() == expected.size());
  for (size_t k = 0; k < got.size(); ++k)
    CHECK(got[k] == doctest::Approx(expected[k]).epsilon(1e-6));

  for (const int64_t n : {2, 3, 10, 22, 50}) {
    CAPTURE(n);
    const Dataset ds = make_xor_easy(n, gen);
    REQUIRE(ds.size() == n);
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double x = ds.features.at({i, 0}), y = ds.features.at({i, 1});
      if (ds.labels[static_cast<size_t>(i)] == 0) {
        ++zeros;
        CHECK(x == y);
      } else {
        CHECK(x + y == doctest::Approx(1.0));
        CHECK(std::abs(x - 0.5) > 1e-6);  // never at the crossing point
      }
    }
    CHECK(zeros == n - n / 2);
  }
}

// ---------------------------------------------------------------- preprocessing

namespace {

Dataset dataset_of(std::vector<float> values, int64_t n, Shape sample_shape,
                   std::vector<int64_t> labels = {}) {
  Dataset ds;
  ds.name = std::string(1, 't');  // (assigning a literal trips a GCC 12 -Wrestrict false positive)
  const int64_t d = sample_shape.numel();
  ds.features = tapegrad::from_data(std::span<const float>(values), Shape{n, d});
  if (labels.empty()) {
    labels.resize(static_cast<size_t>(n));
    std::iota(labels.begin(), labels.end(), int64_t{0});  // label = original index
  }
  ds.labels = std::move(labels);
  ds.num_classes = *std::max_element(ds.labels.begin(), ds.labels.end()) + 1;
  ds.sample_shape = sample_shape;
  return ds;
}

}  // namespace

TEST_CASE("data: scale multiplies features and leaves copies alone") {
  Dataset ds = dataset_of({0, 51, 255, 102}, 2, Shape{2});
  const Dataset before = ds;
  scale(ds, 1.0 / 255.0);
  CHECK(ds.features.to_vector() == std::vector<double>{0.0, static_cast<float>(51.0 / 255.0), 1.0,
                                                       static_cast<float>(102.0 / 255.0)});
  CHECK(before.features.at({0, 1}) == 51.0);
}

TEST_CASE("data: scale works in place on features that nothing else shares") {
  Dataset ds = dataset_of({0, 51, 255, 102}, 2, Shape{2});
  const void* storage = ds.features.raw_data();
  scale(ds, 2.0);
  CHECK(ds.features.raw_data() == storage);  // no second copy of the data set
  CHECK(ds.features.to_vector() == std::vector<double>{0, 102, 510, 204});
}

TEST_CASE("data: Standardizer fits on the training split and applies to another") {
  // Feature 0: 1, 3 (mean 2, std 1); feature 1: 10, 30 (mean 20, std 10); feature 2 constant 5.
  Dataset train = dataset_of({1, 10, 5, 3, 30, 5}, 2, Shape{3});
  Dataset test = dataset_of({2, 0, 7, 5, 40, 5}, 2, Shape{3});
  const Standardizer st = Standardizer::fit(train);
  CHECK(st.mean.to_vector() == std::vector<double>{2, 20, 5});
  CHECK(st.stddev.to_vector() == std::vector<double>{1, 10, 1});
  st.apply(test);
  // Test statistics must not leak in: (x - train mean) / train std.
  CHECK(test.features.to_vector() == std::vector<double>{0, -2, 2, 3, 2, 0});
  st.apply(train);
  CHECK(train.features.to_vector() == std::vector<double>{-1, -1, 0, 1, 1, 0});
  Dataset wide = dataset_of({1, 2, 3, 4}, 1, Shape{4});
  check_has(error_of([&] { st.apply(wide); }), {"fitted on 3 features", "has 4"});
}

TEST_CASE("data: zscore_per_sample_channel normalises each channel of each image") {
  Generator gen(3);
  const int64_t n = 4, c = 3, hw = 25;
  std::vector<float> values;
  for (int64_t i = 0; i < n * c * hw; ++i) {
    values.push_back(static_cast<float>(255.0 * gen.uniform01()));
  }
  // Channel 2 of image 1 is constant: it is centred to 0 and not divided.
  for (int64_t k = 0; k < hw; ++k) values[static_cast<size_t>(1 * c * hw + 2 * hw + k)] = 9.0f;
  Dataset ds = dataset_of(values, n, Shape{c, 5, 5});
  zscore_per_sample_channel(ds);
  const std::vector<double> v = ds.features.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      CAPTURE(i);
      CAPTURE(ch);
      double mean = 0, sq = 0;
      for (int64_t k = 0; k < hw; ++k) mean += v[static_cast<size_t>(i * c * hw + ch * hw + k)];
      mean /= hw;
      for (int64_t k = 0; k < hw; ++k) {
        const double d = v[static_cast<size_t>(i * c * hw + ch * hw + k)] - mean;
        sq += d * d;
      }
      const double sd = std::sqrt(sq / hw);
      CHECK(std::abs(mean) < 1e-5);
      if (i == 1 && ch == 2) {
        CHECK(sd == 0.0);
      } else {
        CHECK(sd == doctest::Approx(1.0).epsilon(1e-5));
      }
    }
  }
  // Per image: the same pixels scaled and shifted in another image give the same result.
  std::vector<float> two(values.begin(), values.begin() + c * hw);
  for (int64_t k = 0; k < c * hw; ++k) two.push_back(2.0f * two[static_cast<size_t>(k)] + 10.0f);
  Dataset pair = dataset_of(two, 2, Shape{c, 5, 5});
  zscore_per_sample_channel(pair);
  for (int64_t k = 0; k < c * hw; ++k) {
    CHECK(pair.features.at({1, k}) == doctest::Approx(pair.features.at({0, k})).epsilon(1e-4));
  }
}

TEST_CASE("data: one_hot") {
  const std::vector<int64_t> labels = {2, 0, 1, 2};
  const Tensor t = one_hot(labels, 3, DType::f64);
  CHECK(t.shape() == Shape{4, 3});
  CHECK(t.dtype() == DType::f64);
  CHECK(t.to_vector() == std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
  const std::vector<int64_t> bad = {0, 3};
  check_has(error_of([&] { one_hot(bad, 3); }), {"label 3 at index 1", "expected 0..2"});
}

TEST_CASE("data: split_fraction is seeded, disjoint and covering") {
  std::vector<float> values;
  for (int i = 0; i < 50; ++i) values.insert(values.end(), {float(i), float(-i)});
  const Dataset ds = dataset_of(values, 50, Shape{2});  // label = index
  const auto [train, val] = split_fraction(ds, 0.2, 42);
  CHECK(train.size() == 40);
  CHECK(val.size() == 10);
  std::set<int64_t> seen;
  for (const Dataset* part : {&train, &val}) {
    CHECK(std::is_sorted(part->labels.begin(), part->labels.end()));  // original order kept
    for (int64_t i = 0; i < part->size(); ++i) {
      const int64_t original = part->labels[static_cast<size_t>(i)];
      CHECK(seen.insert(original).second);
      CHECK(part->features.at({i, 0}) == static_cast<double>(original));  // rows follow labels
      CHECK(part->features.at({i, 1}) == -static_cast<double>(original));
    }
    CHECK(part->num_classes == 50);
    CHECK(part->sample_shape == Shape{2});
  }
  CHECK(seen.size() == 50);
  // Shuffled, not the last 10.
  CHECK(val.labels != std::vector<int64_t>{40, 41, 42, 43, 44, 45, 46, 47, 48, 49});
  const auto again = split_fraction(ds, 0.2, 42);
  CHECK(again.second.labels == val.labels);
  CHECK(split_fraction(ds, 0.2, 43).second.labels != val.labels);
  CHECK(split_fraction(ds, 0.001, 1).second.size() == 1);  // neither part left empty
  for (const double bad : {0.0, 1.0, -0.5, 1.5}) {
    check_has(error_of([&] { split_fraction(ds, bad, 1); }), {"strictly between 0 and 1"});
  }
}

TEST_CASE("data: subset and take") {
  const Dataset ds = dataset_of({0, 1, 2, 3, 4}, 5, Shape{1}, {4, 3, 2, 1, 0});
  const std::vector<int64_t> idx = {3, 0, 3};
  const Dataset s = subset(ds, idx);
  CHECK(s.labels == std::vector<int64_t>{1, 4, 1});
  CHECK(s.features.to_vector() == std::vector<double>{3, 0, 3});
  CHECK(s.num_classes == 5);
  const Dataset t = take(ds, 2);
  CHECK(t.labels == std::vector<int64_t>{4, 3});
  CHECK(t.features.to_vector() == std::vector<double>{0, 1});
  CHECK(take(ds, 99).size() == 5);
  CHECK(take(ds, 0).size() == 0);
  const std::vector<int64_t> bad = {1, 5};
  check_has(error_of([&] { subset(ds, bad); }), {"index 5 at position 1", "5 samples"});
}
