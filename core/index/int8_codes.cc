#include "core/index/int8_codes.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace semrec {
namespace {

constexpr size_t kHeaderBytes = sizeof(float) + sizeof(int32_t);

struct Header {
  float scale;
  int32_t sum;
};

inline Header ReadHeader(const void* code) {
  Header h;
  std::memcpy(&h.scale, code, sizeof(float));
  std::memcpy(&h.sum, static_cast<const char*>(code) + sizeof(float), sizeof(int32_t));
  return h;
}

inline const int8_t* Codes(const void* code) {
  return reinterpret_cast<const int8_t*>(static_cast<const char*>(code) + kHeaderBytes);
}

// Plain int32 loop; -O3 vectorizes it with whatever the build targets (SSE2 by default).
float DistancePortable(const void* a, const void* b, const void* param) {
  const size_t n = *static_cast<const size_t*>(param);
  const int8_t* x = Codes(a);
  const int8_t* y = Codes(b);
  int32_t dot = 0;
  for (size_t i = 0; i < n; ++i) dot += int32_t{x[i]} * int32_t{y[i]};
  return 1.0f - ReadHeader(a).scale * ReadHeader(b).scale * static_cast<float>(dot);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SEMREC_INT8_X86 1

// |x| * (y with x's sign) pairs to int16 (no saturation: codes are within [-127, 127], so a pair
// sums to at most 2 * 127 * 127), then pairs of int16 to int32.
__attribute__((target("avx2"))) float DistanceAvx2(const void* a, const void* b,
                                                   const void* param) {
  const size_t n = *static_cast<const size_t*>(param);
  const int8_t* x = Codes(a);
  const int8_t* y = Codes(b);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  for (size_t i = 0; i < n; i += 64) {  // n is a multiple of 64
    __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    __m256i ya = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i));
    __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 32));
    __m256i yb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i + 32));
    __m256i pa = _mm256_maddubs_epi16(_mm256_sign_epi8(xa, xa), _mm256_sign_epi8(ya, xa));
    __m256i pb = _mm256_maddubs_epi16(_mm256_sign_epi8(xb, xb), _mm256_sign_epi8(yb, xb));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(pa, ones));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(pb, ones));
  }
  __m256i acc = _mm256_add_epi32(acc0, acc1);
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  const int32_t dot = _mm_cvtsi128_si32(s);
  return 1.0f - ReadHeader(a).scale * ReadHeader(b).scale * static_cast<float>(dot);
}

// vpdpbusd multiplies unsigned by signed bytes: x + 128 (the sign bit flipped) times y, minus
// 128 * sum(y), is x times y.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) float DistanceAvx512Vnni(const void* a,
                                                                                const void* b,
                                                                                const void* param) {
  const size_t n = *static_cast<const size_t*>(param);
  const int8_t* x = Codes(a);
  const int8_t* y = Codes(b);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    __m512i xa = _mm512_xor_si512(_mm512_loadu_si512(x + i), flip);
    __m512i xb = _mm512_xor_si512(_mm512_loadu_si512(x + i + 64), flip);
    acc0 = _mm512_dpbusd_epi32(acc0, xa, _mm512_loadu_si512(y + i));
    acc1 = _mm512_dpbusd_epi32(acc1, xb, _mm512_loadu_si512(y + i + 64));
  }
  if (i < n) {
    __m512i xa = _mm512_xor_si512(_mm512_loadu_si512(x + i), flip);
    acc0 = _mm512_dpbusd_epi32(acc0, xa, _mm512_loadu_si512(y + i));
  }
  const Header hb = ReadHeader(b);
  const int32_t dot = _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)) - 128 * hb.sum;
  return 1.0f - ReadHeader(a).scale * hb.scale * static_cast<float>(dot);
}
#endif

std::vector<Int8Kernel> DetectKernels() {
  std::vector<Int8Kernel> kernels;
#ifdef SEMREC_INT8_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni")) {
    kernels.push_back({"avx512vnni", DistanceAvx512Vnni});
  }
  if (__builtin_cpu_supports("avx2")) kernels.push_back({"avx2", DistanceAvx2});
#endif
  kernels.push_back({"portable", DistancePortable});
  return kernels;
}

}  // namespace

size_t Int8PaddedDim(int dim) { return (static_cast<size_t>(std::max(dim, 1)) + 63) / 64 * 64; }

size_t Int8CodeBytes(int dim) { return kHeaderBytes + Int8PaddedDim(dim); }

void EncodeInt8(absl::Span<const float> v, char* out) {
  float max_abs = 0;
  for (float x : v) max_abs = std::max(max_abs, std::fabs(x));
  const float scale = max_abs / 127.0f;
  const float inverse = max_abs > 0 ? 127.0f / max_abs : 0.0f;
  int8_t* codes = reinterpret_cast<int8_t*>(out + kHeaderBytes);
  int32_t sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const float q = std::clamp(std::nearbyint(v[i] * inverse), -127.0f, 127.0f);
    codes[i] = static_cast<int8_t>(q);
    sum += codes[i];
  }
  std::memset(codes + v.size(), 0, Int8PaddedDim(static_cast<int>(v.size())) - v.size());
  std::memcpy(out, &scale, sizeof(scale));
  std::memcpy(out + sizeof(scale), &sum, sizeof(sum));
}

std::vector<float> DecodeInt8(const char* code, int dim) {
  const Header h = ReadHeader(code);
  const int8_t* codes = Codes(code);
  std::vector<float> v(dim);
  for (int i = 0; i < dim; ++i) v[i] = h.scale * codes[i];
  return v;
}

const Int8Kernel& BestInt8Kernel() {
  static const Int8Kernel best = DetectKernels().front();
  return best;
}

std::vector<Int8Kernel> SupportedInt8Kernels() { return DetectKernels(); }

}  // namespace semrec
