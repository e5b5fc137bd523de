#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace tapegrad::apps {

ProgressBar::ProgressBar() : tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressBar::start(int epoch, int epochs, int64_t total) {
  epoch_ = epoch;
  epochs_ = epochs;
  total_ = total;
  next_quarter_ = 1;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::update(int64_t done) {
  using namespace std::chrono;
  const auto now = steady_clock::now();
  const double elapsed = duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  const double fraction =
      total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  if (tty_) {
    if (done < total_ && now - last_draw_ < milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    fmt::print(stderr, "\repoch {}/{} [{:=<{}}{: <{}}] {:3.0f}%  {:.0f} samples/s  ETA {:.0f} s  ",
               epoch_, epochs_, "", filled, "", kWidth - filled, 100 * fraction, rate, eta);
    std::fflush(stderr);
  } else if (elapsed > 1.0 && fraction * 4 >= next_quarter_ && next_quarter_ <= 3) {
    // Plain lines only for epochs long enough to need them.
    while (fraction * 4 >= next_quarter_) ++next_quarter_;
    fmt::print(stderr, "epoch {}/{}: {:.0f}% done, {:.0f} samples/s, ETA {:.0f} s\n", epoch_,
               epochs_, 100 * fraction, rate, eta);
  }
}

void ProgressBar::finish() {
  if (tty_) fmt::print(stderr, "\r{: <90}\r", "");
}

}  // namespace tapegrad::apps
