// matmul through OpenBLAS (transposes passed as flags, never materialised) and
// permute.
#include <cblas.h>

#include <algorithm>
#include <numeric>

#include "kernels.hpp"
#include "parallel.hpp"
#include "tape.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

namespace {

struct GemmPlan {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  int64_t a_batch_stride = 0, b_batch_stride = 0;
  Shape out;
};

GemmPlan plan_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  require_same_dtype("matmul", a, b);
  const int ra = a.dim(), rb = b.dim();
  if (ra < 2 || ra > 3 || rb < 2 || rb > 3) {
    fail("matmul: expects 2-D or 3-D inputs, got shapes {} and {}", a.shape(), b.shape());
  }
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  GemmPlan p;
  p.m = ta ? sa[ra - 1] : sa[ra - 2];
  const int64_t ka = ta ? sa[ra - 2] : sa[ra - 1];
  const int64_t kb = tb ? sb[rb - 1] : sb[rb - 2];
  p.n = tb ? sb[rb - 2] : sb[rb - 1];
  if (ka != kb) {
    fail(
        "matmul: shapes {}{} and {}{} do not match: the first contributes {} columns, the second "
        "{} rows (dimension {} of the first vs dimension {} of the second)",
        sa, ta ? " (transposed)" : "", sb, tb ? " (transposed)" : "", ka, kb, ta ? ra - 2 : ra - 1,
        tb ? rb - 1 : rb - 2);
  }
  p.k = ka;
  if (ra == 3 && rb == 3 && sa[0] != sb[0]) {
    fail("matmul: batch sizes differ: {} for shape {} and {} for shape {}", sa[0], sa, sb[0], sb);
  }
  p.batch = ra == 3 ? sa[0] : (rb == 3 ? sb[0] : 1);
  p.a_batch_stride = ra == 3 ? p.m * p.k : 0;
  p.b_batch_stride = rb == 3 ? p.k * p.n : 0;
  if (ra == 3 || rb == 3) p.out.push_back(p.batch);
  p.out.push_back(p.m);
  p.out.push_back(p.n);
  return p;
}

template <typename T>
void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
               const T* b, int64_t ldb, T* c, int64_t ldc) {
  const auto trans_a = ta ? CblasTrans : CblasNoTrans;
  const auto trans_b = tb ? CblasTrans : CblasNoTrans;
  const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
  const auto LDA = static_cast<blasint>(lda), LDB = static_cast<blasint>(ldb),
             LDC = static_cast<blasint>(ldc);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, trans_a, trans_b, M, N, K, 1.0f, a, LDA, b, LDB, 0.0f, c, LDC);
  } else {
    cblas_dgemm(CblasRowMajor, trans_a, trans_b, M, N, K, 1.0, a, LDA, b, LDB, 0.0, c, LDC);
  }
}

// Products of at least this many multiply-adds (about 0.2 ms on one core) are
// split across the pool's threads, into this many chunks per thread: more chunks
// cost more packing, fewer leave more to wait for when a worker is descheduled.
// Smaller products (a 784-128-10 network's at batch 64) stay on the caller: split,
// they gained 1.2x at best and, in some runs on this 2-core VM, lost 2x.
constexpr double kParallelMinMacs = double{1 << 24};
constexpr int kChunksPerThread = 2;
constexpr int64_t kMinChunkExtent = 16;

// C [m, n] = op(A) op(B), all row-major and contiguous.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  const int threads = detail::pool_threads();  // first call: OpenBLAS to one thread
  if (m == 1) {
    // One row (per-sample training): c = op(B)^T a as a matrix-vector product,
    // which OpenBLAS runs without GEMM's packing. a is contiguous either way.
    const auto trans = tb ? CblasNoTrans : CblasTrans;
    const auto rows = static_cast<blasint>(tb ? n : k), cols = static_cast<blasint>(tb ? k : n);
    if constexpr (std::is_same_v<T, float>) {
      cblas_sgemv(CblasRowMajor, trans, rows, cols, 1.0f, b, static_cast<blasint>(ldb), a, 1, 0.0f,
                  c, 1);
    } else {
      cblas_dgemv(CblasRowMajor, trans, rows, cols, 1.0, b, static_cast<blasint>(ldb), a, 1, 0.0, c,
                  1);
    }
    return;
  }
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  // Split the longer of C's two sides into column or row blocks.
  const bool split_columns = n >= m;
  const int64_t extent = split_columns ? n : m;
  const int chunks =
      threads > 1 && macs >= kParallelMinMacs
          ? static_cast<int>(std::min<int64_t>(threads * kChunksPerThread,
                                               std::max<int64_t>(1, extent / kMinChunkExtent)))
          : 1;
  if (chunks == 1) {
    blas_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, n);
    return;
  }
  detail::parallel_for_chunks(chunks, [&](int i) {
    const int64_t begin = extent * i / chunks, end = extent * (i + 1) / chunks;
    if (split_columns) {  // columns begin..end of op(B) and C
      blas_gemm(ta, tb, m, end - begin, k, a, lda, b + (tb ? begin * k : begin), ldb, c + begin, n);
    } else {  // rows begin..end of op(A) and C
      blas_gemm(ta, tb, end - begin, n, k, a + (ta ? begin : begin * k), lda, b, ldb, c + begin * n,
                n);
    }
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  const GemmPlan p = plan_matmul(a, b, transpose_a, transpose_b);
  Tensor out = Tensor::empty(p.out, a.dtype());
  dispatch(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    if (p.k == 0) {
      std::fill(pc, pc + out.numel(), T(0));
    } else if (p.m * p.n == 0) {
      // empty result
    } else if (p.b_batch_stride == 0 && !transpose_a && p.batch > 1) {
      // A batch against one shared matrix is a single tall GEMM.
      gemm(false, transpose_b, p.batch * p.m, p.n, p.k, pa, pb, pc);
    } else {
      for (int64_t i = 0; i < p.batch; ++i) {
        gemm(transpose_a, transpose_b, p.m, p.n, p.k, pa + i * p.a_batch_stride,
             pb + i * p.b_batch_stride, pc + i * p.m * p.n);
      }
    }
  });
  if (Node* n = Tape::current().record(OpKind::matmul, {&a, &b}, out)) {
    save_input(n, 0, a);
    save_input(n, 1, b);
    n->attrs.ints[0] = transpose_a;
    n->attrs.ints[1] = transpose_b;
  }
  return out;
}
void backward_matmul(BackwardContext& c) {
  // C = op(A) op(B). dA = g op(B)^T, or its transpose when A entered transposed;
  // likewise dB. Expressed as matmuls with flags, so no transpose is copied.
  const bool ta = c.attrs().ints[0] != 0, tb = c.attrs().ints[1] != 0;
  const Tensor& g = c.grad();
  if (c.needs_grad(0)) {
    const Tensor b = c.saved(1);
    c.set_grad(0, ta ? matmul(b, g, tb, true) : matmul(g, b, false, !tb));
  }
  if (c.needs_grad(1)) {
    const Tensor a = c.saved(0);
    c.set_grad(1, tb ? matmul(g, a, true, ta) : matmul(a, g, !ta, false));
  }
}

Tensor permute(const Tensor& x, std::vector<int64_t> dims) {
  require_defined("permute", x);
  const int rank = x.dim();
  if (static_cast<int>(dims.size()) != rank) {
    fail("permute: {} axes given for a tensor of shape {}", dims.size(), x.shape());
  }
  Shape perm;
  uint32_t seen = 0;
  for (int64_t d : dims) {
    const int axis = normalize_axis(d, rank, "permute");
    if (seen & (1u << axis))
      fail("permute: axis {} appears twice in [{}]", d, fmt::join(dims, ", "));
    seen |= 1u << axis;
    perm.push_back(axis);
  }
  Shape out_shape;
  const auto in_strides = x.shape().strides();
  kernels::Strides read{};
  for (int i = 0; i < rank; ++i) {
    out_shape.push_back(x.shape()[static_cast<int>(perm[i])]);
    read[static_cast<size_t>(i)] = in_strides[static_cast<size_t>(perm[i])];
  }
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    kernels::for_each_run<1>(out_shape, {read},
                             [&](const auto& off, int64_t o, int64_t count, const auto& st) {
                               for (int64_t i = 0; i < count; ++i)
                                 dst[o + i] = src[off[0] + i * st[0]];
                             });
  });
  if (Node* n = Tape::current().record(OpKind::permute, {&x}, out)) n->attrs.shape = perm;
  return out;
}
void backward_permute(BackwardContext& c) {
  const Shape& perm = c.attrs().shape;
  std::vector<int64_t> inverse(static_cast<size_t>(perm.rank()));
  for (int i = 0; i < perm.rank(); ++i) inverse[static_cast<size_t>(perm[i])] = i;
  c.set_grad(0, permute(c.grad(), inverse));
}

Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1) {
  require_defined("transpose", x);
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  std::iota(dims.begin(), dims.end(), 0);
  const int a = normalize_axis(axis0, x.dim(), "transpose");
  const int b = normalize_axis(axis1, x.dim(), "transpose");
  std::swap(dims[static_cast<size_t>(a)], dims[static_cast<size_t>(b)]);
  return permute(x, dims);
}

Tensor t(const Tensor& x) {
  require_defined("t", x);
  if (x.dim() != 2) fail("t: expects a 2-D tensor, got shape {}", x.shape());
  return permute(x, {1, 0});
}

}  // namespace tapegrad
