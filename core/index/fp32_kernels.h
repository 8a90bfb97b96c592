// fp32 inner-product distance kernels (hnswlib's signature: 1 - <a, b>) chosen at run time from
// the CPU: AVX-512F, else AVX2 with FMA. hnswlib chooses its kernels when it is compiled, which
// with the project's portable x86-64 flags means SSE; HnswIndex's fp32 space uses these instead,
// with the same vectors and the same snapshot format.
//
//   const Fp32Kernel* k = BestFp32Kernel();   // nullptr: neither, use hnswlib's own
//   size_t dim = 384;
//   float distance = k->distance(a, b, &dim);
//
// Thread-safe: pure functions.
#ifndef SEMREC_CORE_INDEX_FP32_KERNELS_H_
#define SEMREC_CORE_INDEX_FP32_KERNELS_H_

#include <cstddef>
#include <vector>

namespace semrec {

struct Fp32Kernel {
  const char* name;  // "avx512" or "avx2"
  // 1 - inner product of two float vectors; `dim` points to a size_t.
  float (*distance)(const void* a, const void* b, const void* dim);
};

// The fastest kernel this CPU runs (chosen once), or nullptr.
const Fp32Kernel* BestFp32Kernel();
// Every kernel this CPU runs, fastest first (tests compare them).
std::vector<Fp32Kernel> SupportedFp32Kernels();

}  // namespace semrec

#endif  // SEMREC_CORE_INDEX_FP32_KERNELS_H_
