#include "core/index/fp32_kernels.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace semrec {
namespace {

// Every kernel this CPU runs matches a double-precision inner product, for dimensions that are
// and are not multiples of the register widths.
TEST(Fp32KernelsTest, MatchDoublePrecisionInnerProduct) {
  const auto kernels = SupportedFp32Kernels();
  if (kernels.empty()) GTEST_SKIP() << "no AVX2 or AVX-512 on this CPU: hnswlib's kernels are used";
  EXPECT_STREQ(BestFp32Kernel()->name, kernels.front().name);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (size_t dim : {1, 7, 8, 15, 16, 17, 31, 33, 100, 384, 1000}) {
    std::vector<float> a(dim), b(dim);
    double want = 0, scale = 0;
    for (size_t i = 0; i < dim; ++i) {
      a[i] = normal(rng);
      b[i] = normal(rng);
      want += double{a[i]} * b[i];
      scale += std::fabs(double{a[i]} * b[i]);
    }
    for (const Fp32Kernel& k : kernels) {
      EXPECT_NEAR(1.0 - k.distance(a.data(), b.data(), &dim), want, 1e-5 * (1 + scale))
          << k.name << " dim " << dim;
    }
  }
}

}  // namespace
}  // namespace semrec
