// Int8 codes of unit vectors: what HnswIndex's int8 space (Quantization::kInt8) stores in its graph
// and compares while it searches. One vector of dimension d becomes Int8CodeBytes(d) bytes:
//   [float scale][int32 sum of the codes][int8 codes, zero-padded to Int8PaddedDim(d)]
// with code_j = round(v_j / scale) in [-127, 127] and scale = max_j |v_j| / 127 (symmetric, one
// scale per vector), so that v_j ~= scale * code_j. The inner product of two encoded vectors is
// scale_a * scale_b * sum_j code_a[j] * code_b[j], the sum computed exactly in int32 arithmetic
// with the widest kernel the CPU has (AVX-512 VNNI, AVX2, or a loop the compiler vectorizes).
//
//   std::vector<char> a(Int8CodeBytes(384)), b(Int8CodeBytes(384));
//   EncodeInt8(vec_a, a.data()); EncodeInt8(vec_b, b.data());
//   float ip = Int8InnerProduct(a.data(), b.data(), Int8PaddedDim(384));
//
// Thread-safe: pure functions.
#ifndef SEMREC_CORE_INDEX_INT8_CODES_H_
#define SEMREC_CORE_INDEX_INT8_CODES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace semrec {

// Codes per vector: the dimension rounded up to a multiple of 64 (one AVX-512 register).
size_t Int8PaddedDim(int dim);
// Bytes of one encoded vector: 8 + Int8PaddedDim(dim).
size_t Int8CodeBytes(int dim);

// Writes Int8CodeBytes(v.size()) bytes to `out`. A zero vector gets scale 0 (inner product 0).
void EncodeInt8(absl::Span<const float> v, char* out);
// The vector the codes stand for (scale * code), for tests and error measurements.
std::vector<float> DecodeInt8(const char* code, int dim);

// hnswlib's distance signature: 1 - inner product of two encoded vectors; `padded_dim` points to
// a size_t holding Int8PaddedDim(dim).
using Int8DistanceFunction = float (*)(const void* a, const void* b, const void* padded_dim);

struct Int8Kernel {
  const char* name;  // "avx512vnni", "avx2" or "portable"
  Int8DistanceFunction distance;
};
// The fastest kernel this CPU runs (chosen once).
const Int8Kernel& BestInt8Kernel();
// Every kernel this CPU runs, fastest first (tests compare them with each other).
std::vector<Int8Kernel> SupportedInt8Kernels();

inline float Int8InnerProduct(const void* a, const void* b, size_t padded_dim) {
  return 1.0f - BestInt8Kernel().distance(a, b, &padded_dim);
}

}  // namespace semrec

#endif  // SEMREC_CORE_INDEX_INT8_CODES_H_
