#include "core/index/fp32_kernels.h"

#include <immintrin.h>

namespace semrec {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)
#define SEMREC_FP32_X86 1

__attribute__((target("avx512f"))) float DistanceAvx512(const void* a, const void* b,
                                                        const void* dim) {
  const size_t n = *static_cast<const size_t*>(dim);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
  }
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
  }
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + i), _mm512_maskz_loadu_ps(tail, y + i),
                           acc1);
  }
  return 1.0f - _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx2,fma"))) float DistanceAvx2(const void* a, const void* b,
                                                       const void* dim) {
  const size_t n = *static_cast<const size_t*>(dim);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
  }
  const __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float sum = _mm_cvtss_f32(s);
  for (; i < n; ++i) sum += x[i] * y[i];
  return 1.0f - sum;
}
#endif

std::vector<Fp32Kernel> DetectKernels() {
  std::vector<Fp32Kernel> kernels;
#ifdef SEMREC_FP32_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) kernels.push_back({"avx512", DistanceAvx512});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    kernels.push_back({"avx2", DistanceAvx2});
  }
#endif
  return kernels;
}

}  // namespace

const Fp32Kernel* BestFp32Kernel() {
  static const std::vector<Fp32Kernel>* kernels = new std::vector<Fp32Kernel>(DetectKernels());
  return kernels->empty() ? nullptr : &kernels->front();
}

std::vector<Fp32Kernel> SupportedFp32Kernels() { return DetectKernels(); }

}  // namespace semrec
