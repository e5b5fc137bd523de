#include "tapegrad/bench/process_stats.hpp"

#include <fstream>
#include <string>

#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad::apps::bench {

namespace {
// A "Key:   1234 kB" line of /proc/self/status, in bytes.
int64_t proc_status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  }
  return 0;
}
}  // namespace

int64_t resident_bytes() { return proc_status_bytes("VmRSS"); }
int64_t peak_resident_bytes() { return proc_status_bytes("VmHWM"); }

bool reset_peak_resident_bytes() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

int64_t allocation_count() {
  return heap_allocation_count() + static_cast<int64_t>(memory_stats().system_allocs);
}

}  // namespace tapegrad::apps::bench
