// The worker pool: a job is a chunk count and a function; the caller and the
// workers claim chunks through one atomic word, so nobody waits for a thread that
// the operating system has not scheduled yet, only for chunks already started.
#include "tapegrad/autograd/threads.hpp"

#include <cblas.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "parallel.hpp"
#include "tapegrad/autograd/error.hpp"

// OpenBLAS's pthreads build starts its own threads when it loads; idle, they poll
// for work and take CPU from ours (two threads ran a step 2x slower than one until
// they were stopped). This OpenBLAS function (behind its fork handler) stops them;
// weak, so that another BLAS without it still links.
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

namespace tapegrad {

namespace {

// OpenBLAS single-threaded, its own threads stopped: tapegrad's pool splits products.
void quiet_openblas() {
  openblas_set_num_threads(1);
  if (blas_thread_shutdown_ != nullptr) blas_thread_shutdown_();
}

constexpr bool kHasFlushModes =
#if defined(__SSE__)
    true;
#else
    false;
#endif

// Sets FTZ (results) and DAZ (inputs) of this thread's SSE/AVX arithmetic.
void apply_flush_denormal(bool on) {
#if defined(__SSE__)
  constexpr unsigned kFlushBits = 0x8040;  // FTZ (bit 15) | DAZ (bit 6)
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? (csr | kFlushBits) : (csr & ~kFlushBits));
#else
  (void)on;
#endif
}

// The job word: generation (upper 32 bits), next chunk to claim (16), chunk count (16).
constexpr int kMaxChunks = 0xffff;
uint64_t pack(uint32_t generation, uint32_t next, uint32_t total) {
  return (uint64_t{generation} << 32) | (uint64_t{next} << 16) | total;
}
uint32_t generation_of(uint64_t w) { return static_cast<uint32_t>(w >> 32); }
uint32_t next_of(uint64_t w) { return static_cast<uint32_t>((w >> 16) & 0xffff); }
uint32_t total_of(uint64_t w) { return static_cast<uint32_t>(w & 0xffff); }

// How long a worker polls for the next job before it sleeps: the products of a
// training step come a few hundred microseconds apart, and waking a sleeping
// thread takes tens of microseconds, by which time the caller has done the work.
constexpr auto kSpinBeforeSleep = std::chrono::milliseconds(2);

void cpu_relax() {
#if defined(__SSE__)
  _mm_pause();
#endif
}

class Pool {
 public:
  Pool() { quiet_openblas(); }
  ~Pool() { resize(1); }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Workers take the mode up at their next job.
  void set_flush_denormal(bool on) { flush_denormal_.store(on, std::memory_order_release); }

  void resize(int n) {
    const std::lock_guard<std::mutex> job_lock(job_mutex_);
    quiet_openblas();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    stop_.store(false);
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { work(); });
  }

  // `fn` must not throw (a worker has nowhere to pass an exception on to).
  void run(int chunks, void (*fn)(const void*, int), const void* context) {
    // One job at a time: another thread running ops meanwhile works inline
    // instead of waiting. (A chunk must not itself call run.)
    std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
    if (!job_lock.owns_lock() || workers_.empty() || chunks <= 1) {
      for (int i = 0; i < chunks; ++i) fn(context, i);
      return;
    }
    if (chunks > kMaxChunks) fail("parallel_chunks: {} chunks, at most {}", chunks, kMaxChunks);
    fn_ = fn;
    context_ = context;
    done_.store(0, std::memory_order_relaxed);
    const uint32_t generation = ++generation_;
    {
      // Published under the mutex so that a worker about to sleep cannot miss it.
      std::lock_guard<std::mutex> lock(mutex_);
      job_.store(pack(generation, 0, static_cast<uint32_t>(chunks)), std::memory_order_release);
    }
    wake_.notify_all();
    claim_chunks(generation);
    while (done_.load(std::memory_order_acquire) < chunks) std::this_thread::yield();
  }

 private:
  // Claims and runs chunks of `generation` until none is left (or the job word
  // holds another generation).
  void claim_chunks(uint32_t generation) {
    uint64_t w = job_.load(std::memory_order_acquire);
    while (generation_of(w) == generation && next_of(w) < total_of(w)) {
      const uint64_t claimed = pack(generation, next_of(w) + 1, total_of(w));
      if (!job_.compare_exchange_weak(w, claimed, std::memory_order_acq_rel)) continue;
      // The job cannot end (and fn_ change) before this chunk is counted done.
      fn_(context_, static_cast<int>(next_of(w)));
      done_.fetch_add(1, std::memory_order_acq_rel);
      w = job_.load(std::memory_order_acquire);
    }
  }

  void work() {
    uint32_t seen = generation_of(job_.load(std::memory_order_acquire));
    bool flushing = false;
    for (;;) {
      uint64_t w = job_.load(std::memory_order_acquire);
      const auto spin_until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      for (int spin = 0; generation_of(w) == seen; ++spin) {
        if (stop_.load(std::memory_order_relaxed)) return;
        // The clock is read every 256 polls only.
        if (spin % 256 == 255 && std::chrono::steady_clock::now() > spin_until) break;
        // Now and then give the core away, in case the caller waits on the same one.
        if (spin % 64 == 63) std::this_thread::yield();
        cpu_relax();
        w = job_.load(std::memory_order_acquire);
      }
      if (generation_of(w) == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] {
          return stop_ || generation_of(job_.load(std::memory_order_acquire)) != seen;
        });
        if (stop_) return;
        w = job_.load(std::memory_order_acquire);
      }
      seen = generation_of(w);
      if (const bool f = flush_denormal_.load(std::memory_order_acquire); f != flushing) {
        apply_flush_denormal(f);
        flushing = f;
      }
      claim_chunks(seen);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // held by the thread whose job is running
  std::mutex mutex_;      // guards sleeping: workers wait on wake_ under it
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> flush_denormal_{false};
  std::atomic<uint64_t> job_{0};
  std::atomic<int> done_{0};
  uint32_t generation_ = 0;
  void (*fn_)(const void*, int) = nullptr;
  const void* context_ = nullptr;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

namespace detail {
void parallel_chunks(int chunks, void (*run)(const void*, int), const void* context) {
  pool().run(chunks, run, context);
}
int pool_threads() { return pool().threads(); }
}  // namespace detail

void set_num_threads(int n) {
  if (n <= 0) fail("set_num_threads: the thread count must be positive, got {}", n);
  pool().resize(n);
}

int get_num_threads() { return pool().threads(); }

bool set_flush_denormal(bool on) {
  if (!kHasFlushModes) return false;
  apply_flush_denormal(on);
  pool().set_flush_denormal(on);
  return true;
}

}  // namespace tapegrad
