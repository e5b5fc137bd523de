// The storage pool: buffers are kept in power-of-two size classes and reused, so
// that a training loop stops calling the system allocator after warm-up. Large
// buffers (data sets, their conversions) are allocated to size and returned to the
// system when freed: caching them would keep hundreds of megabytes resident.
// They are also aligned to 2 MiB and offered to the kernel for transparent huge
// pages: a batch gathered from a data set of random rows then misses the TLB far
// less (measured: the 64-row MNIST gather 25 to 35% faster), and first touching
// them takes one page fault per 2 MiB instead of per 4 KiB.
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad {

namespace {

constexpr size_t kAlignment = 64;
constexpr int kNumClasses = 48;

constexpr size_t kLargeBlock = size_t{32} << 20;  // above this, no pooling
constexpr size_t kHugePage = size_t{2} << 20;

int size_class(size_t nbytes) {
  int c = 6;  // 64 bytes at least
  while ((size_t{1} << c) < nbytes) ++c;
  return c;
}

bool is_large(size_t nbytes) { return nbytes > kLargeBlock; }
size_t large_capacity(size_t nbytes) { return (nbytes + kHugePage - 1) / kHugePage * kHugePage; }

// A hint only: without transparent huge pages (or off Linux) nothing changes.
void advise_huge_pages([[maybe_unused]] void* block, [[maybe_unused]] size_t capacity) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(block, capacity, MADV_HUGEPAGE);
#endif
}

struct Pool {
  std::mutex mutex;
  std::vector<void*> free_blocks[kNumClasses];
  std::vector<Storage*> free_storages;
  size_t bytes_in_use = 0;
  size_t bytes_cached = 0;
  uint64_t system_allocs = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: tensors may outlive static destructors
  return *p;
}

}  // namespace

RefPtr<Storage> Storage::allocate(size_t nbytes) {
  const bool large = is_large(nbytes);
  const int c = large ? 0 : size_class(nbytes);
  const size_t capacity = large ? large_capacity(nbytes) : size_t{1} << c;
  Pool& p = pool();
  void* block = nullptr;
  Storage* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    auto& blocks = p.free_blocks[c];
    if (!large && !blocks.empty()) {
      block = blocks.back();
      blocks.pop_back();
      p.bytes_cached -= capacity;
    }
    if (!p.free_storages.empty()) {
      s = p.free_storages.back();
      p.free_storages.pop_back();
    }
    p.bytes_in_use += capacity;
    if (!block) ++p.system_allocs;
  }
  if (!block) {
    block = std::aligned_alloc(large ? kHugePage : kAlignment, capacity);
    if (!block) {
      fail("out of memory: could not allocate {} bytes for a tensor", capacity);
    }
    if (large) advise_huge_pages(block, capacity);
  }
  if (!s) s = new Storage();
  s->data_ = block;
  s->nbytes_ = nbytes;
  s->version_ = 0;
  s->refs_.store(1, std::memory_order_relaxed);
  return RefPtr<Storage>::adopt(s);
}

void Storage::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  Pool& p = pool();
  if (is_large(nbytes_)) {
    std::free(data_);
    std::lock_guard<std::mutex> lock(p.mutex);
    p.bytes_in_use -= large_capacity(nbytes_);
    data_ = nullptr;
    p.free_storages.push_back(this);
    return;
  }
  const int c = size_class(nbytes_);
  std::lock_guard<std::mutex> lock(p.mutex);
  p.free_blocks[c].push_back(data_);
  p.bytes_in_use -= size_t{1} << c;
  p.bytes_cached += size_t{1} << c;
  data_ = nullptr;
  p.free_storages.push_back(this);
}

void release_cached_memory() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  for (auto& blocks : p.free_blocks) {
    for (void* b : blocks) std::free(b);
    blocks.clear();
    blocks.shrink_to_fit();
  }
  p.bytes_cached = 0;
}

MemoryStats memory_stats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return {p.bytes_in_use, p.bytes_cached, p.system_allocs};
}

// TensorImpl objects come from a free list as well.
namespace {
struct ImplPool {
  std::mutex mutex;
  std::vector<void*> free;
};
ImplPool& impl_pool() {
  static ImplPool* p = new ImplPool();
  return *p;
}
}  // namespace

void* TensorImpl::operator new(size_t size) {
  ImplPool& p = impl_pool();
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    if (!p.free.empty()) {
      void* block = p.free.back();
      p.free.pop_back();
      return block;
    }
  }
  return ::operator new(size);
}

void TensorImpl::operator delete(void* block) {
  ImplPool& p = impl_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.free.push_back(block);
}

}  // namespace tapegrad
