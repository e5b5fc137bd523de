// The two toy sets of report 004 (lab 1: a two-hidden-layer network trained on
// "linear n=100" and "XOR easy", Figure 3).
#include "tapegrad/nn/data.hpp"

namespace tapegrad::nn {

namespace {

Dataset toy_dataset(std::string name, const std::vector<float>& xy, std::vector<int64_t> labels) {
  Dataset ds;
  ds.name = std::move(name);
  const auto n = static_cast<int64_t>(labels.size());
  ds.features = from_data(std::span<const float>(xy), Shape{n, 2});
  ds.labels = std::move(labels);
  ds.num_classes = 2;
  ds.sample_shape = Shape{2};
  return ds;
}

}  // namespace

Dataset make_linear(int64_t n, Generator& gen) {
  if (n <= 0) fail("make_linear: expected a positive number of points, got {}", n);
  std::vector<float> xy;
  std::vector<int64_t> labels;
  xy.reserve(static_cast<size_t>(2 * n));
  labels.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double x = gen.uniform01();
    const double y = gen.uniform01();
    xy.push_back(static_cast<float>(x));
    xy.push_back(static_cast<float>(y));
    labels.push_back(x > y ? 1 : 0);
  }
  return toy_dataset("linear", xy, std::move(labels));
}

// Report 004 names the set ("XOR easy", Figure 3) but not its construction. We use the
// lab's usual generator, generalised to any n >= 2:
//   - m = n - n/2 points on the main diagonal, (t, t) for t = i/(m-1), i = 0..m-1: label 0;
//   - a = n/2 points on the anti-diagonal, (t, 1-t) for t = j/a, j = 0..a, leaving out the
//     j closest to the centre t = 0.5 (the crossing point, which the main diagonal already
//     has): label 1.
// Points are ordered by t, the main-diagonal point first at equal t. For n = 21 this is the lab's
// set exactly: (0.1i, 0.1i) labelled 0 for i = 0..10 and (0.1i, 1-0.1i) labelled 1 for i != 5. The
// set is deterministic; `gen` is taken only so that the toy sets share one signature.
Dataset make_xor_easy(int64_t n, Generator& /*gen*/) {
  if (n < 2) fail("make_xor_easy: expected at least 2 points, got {}", n);
  const int64_t m = n - n / 2;
  const int64_t a = n / 2;
  std::vector<double> main_t, anti_t;
  for (int64_t i = 0; i < m; ++i) {
    main_t.push_back(m == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(m - 1));
  }
  const int64_t skip = a / 2;  // the j/a closest to 0.5 (exactly 0.5 when a is even)
  for (int64_t j = 0; j <= a; ++j) {
    if (j != skip) anti_t.push_back(static_cast<double>(j) / static_cast<double>(a));
  }
  std::vector<float> xy;
  std::vector<int64_t> labels;
  size_t i = 0, j = 0;
  while (i < main_t.size() || j < anti_t.size()) {
    if (j == anti_t.size() || (i < main_t.size() && main_t[i] <= anti_t[j])) {
      xy.push_back(static_cast<float>(main_t[i]));
      xy.push_back(static_cast<float>(main_t[i]));
      labels.push_back(0);
      ++i;
    } else {
      xy.push_back(static_cast<float>(anti_t[j]));
      xy.push_back(static_cast<float>(1.0 - anti_t[j]));
      labels.push_back(1);
      ++j;
    }
  }
  return toy_dataset("xor_easy", xy, std::move(labels));
}

}  // namespace tapegrad::nn
