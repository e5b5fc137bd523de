// Progress reporting on stderr: a redrawn bar with samples/s and ETA when stderr
// is a terminal, a few plain lines otherwise (logs stay readable).
#pragma once

#include <chrono>
#include <cstdint>

namespace tapegrad::apps {

class ProgressBar {
 public:
  ProgressBar();
  // Starts an epoch of `total` samples.
  void start(int epoch, int epochs, int64_t total);
  void update(int64_t done);
  // Clears the bar line (terminal only).
  void finish();

 private:
  bool tty_;
  int epoch_ = 0, epochs_ = 0;
  int64_t total_ = 0;
  int next_quarter_ = 1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tapegrad::apps
