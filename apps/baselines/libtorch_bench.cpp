// The libtorch baseline of `tapegrad bench --vs-libtorch` (built with
// -DTAPEGRAD_BENCH_LIBTORCH=ON): the same MLP training steps as tapegrad's bench
// on the same inputs, which `tapegrad bench` writes to a directory:
//   features.f32  [samples, inputs] row-major      labels.i64  [samples]
//   order.i64     the sample indices of every step  params.f32  each Linear's weight
//                 then bias, in layer order
// Prints one JSON object: seconds per step of each repeat, peak RSS, the last loss.
// Not part of the library: a measuring stick only.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::map<std::string, std::string> parse_args(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0)
      throw std::runtime_error(std::string("unexpected ") + argv[i]);
    args[argv[i] + 2] = argv[i + 1];
  }
  return args;
}

const std::string& arg(const std::map<std::string, std::string>& args, const std::string& key) {
  auto it = args.find(key);
  if (it == args.end()) throw std::runtime_error("missing --" + key);
  return it->second;
}

template <typename T>
void read_into(const std::string& path, T* out, int64_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(count * sizeof(T)));
  if (in.gcount() != static_cast<std::streamsize>(count * sizeof(T))) {
    throw std::runtime_error(path + " is shorter than expected");
  }
}

std::vector<int64_t> parse_sizes(const std::string& text) {
  std::vector<int64_t> sizes;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, '-')) sizes.push_back(std::stoll(part));
  return sizes;
}

int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const auto args = parse_args(argc, argv);
  const std::string dir = arg(args, "dir");
  const std::vector<int64_t> sizes = parse_sizes(arg(args, "sizes"));
  const std::string act = arg(args, "act");
  const int64_t batch = std::stoll(arg(args, "batch"));
  const int64_t samples = std::stoll(arg(args, "samples"));
  const int64_t warmup = std::stoll(arg(args, "warmup"));
  const int64_t steps = std::stoll(arg(args, "steps-per-repeat"));
  const int repeats = std::stoi(arg(args, "repeats"));
  const double lr = std::stod(arg(args, "lr"));
  const double momentum = std::stod(arg(args, "momentum"));
  torch::set_num_threads(std::stoi(arg(args, "threads")));
  if (std::stoi(arg(args, "flush-denormal")) != 0) at::globalContext().setFlushDenormal(true);

  torch::NoGradGuard no_grad_while_loading;
  auto features = torch::empty({samples, sizes.front()}, torch::kFloat32);
  read_into(dir + "/features.f32", features.data_ptr<float>(), features.numel());
  auto labels = torch::empty({samples}, torch::kInt64);
  read_into(dir + "/labels.i64", labels.data_ptr<int64_t>(), samples);
  const int64_t total_steps = warmup + repeats * steps;
  auto order = torch::empty({total_steps * batch}, torch::kInt64);
  read_into(dir + "/order.i64", order.data_ptr<int64_t>(), order.numel());

  torch::nn::Sequential model;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    model->push_back(torch::nn::Linear(sizes[l], sizes[l + 1]));
    if (l + 2 == sizes.size()) break;
    if (act == "sigmoid")
      model->push_back(torch::nn::Sigmoid());
    else if (act == "relu")
      model->push_back(torch::nn::ReLU());
    else if (act == "tanh")
      model->push_back(torch::nn::Tanh());
    else
      throw std::runtime_error("unknown activation " + act);
  }
  int64_t param_count = 0;
  for (const auto& p : model->parameters()) param_count += p.numel();
  std::vector<float> init(static_cast<size_t>(param_count));
  read_into(dir + "/params.f32", init.data(), param_count);
  int64_t offset = 0;
  for (auto& p : model->parameters()) {  // weight then bias per Linear, as tapegrad
    p.copy_(torch::from_blob(init.data() + offset, p.sizes(), torch::kFloat32));
    offset += p.numel();
  }
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(lr).momentum(momentum));

  torch::Tensor loss;
  int64_t step = 0;
  auto train_steps = [&](int64_t count) {
    torch::GradMode::set_enabled(true);
    for (int64_t s = 0; s < count; ++s, ++step) {
      auto idx = order.narrow(0, step * batch, batch);
      auto x = features.index_select(0, idx);
      auto y = labels.index_select(0, idx);
      loss = torch::nn::functional::cross_entropy(model->forward(x), y);
      model->zero_grad(/*set_to_none=*/true);
      loss.backward();
      optimizer.step();
    }
  };
  train_steps(warmup);
  std::vector<double> repeat_seconds;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    train_steps(steps);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    repeat_seconds.push_back(seconds / static_cast<double>(steps));
  }
  std::cout.precision(9);
  std::cout << "{\"repeat_step_seconds\": [";
  for (size_t i = 0; i < repeat_seconds.size(); ++i) {
    std::cout << (i ? ", " : "") << repeat_seconds[i];
  }
  std::cout << "], \"peak_rss_bytes\": " << peak_rss_bytes()
            << ", \"last_loss\": " << loss.item<double>() << ", \"torch_version\": \""
            << TORCH_VERSION_MAJOR << '.' << TORCH_VERSION_MINOR << '.' << TORCH_VERSION_PATCH
            << "\", \"threads\": " << torch::get_num_threads() << "}\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "tapegrad-libtorch-bench: error: " << e.what() << "\n";
  return 1;
}
