#include "core/index/int8_codes.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

std::vector<float> RandomUnit(std::mt19937& rng, int dim) {
  std::normal_distribution<float> n;
  std::vector<float> v(dim);
  double norm = 0;
  for (auto& x : v) {
    x = n(rng);
    norm += x * x;
  }
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

std::vector<char> Encode(const std::vector<float>& v) {
  std::vector<char> code(Int8CodeBytes(static_cast<int>(v.size())));
  EncodeInt8(v, code.data());
  return code;
}

TEST(Int8CodesTest, LayoutIsPaddedToWholeRegisters) {
  EXPECT_EQ(Int8PaddedDim(1), 64u);
  EXPECT_EQ(Int8PaddedDim(64), 64u);
  EXPECT_EQ(Int8PaddedDim(65), 128u);
  EXPECT_EQ(Int8PaddedDim(384), 384u);
  EXPECT_EQ(Int8CodeBytes(384), 392u);  // 4 times smaller than 1536 bytes of fp32
}

TEST(Int8CodesTest, DecodedVectorIsWithinHalfAStepOfTheOriginal) {
  std::mt19937 rng(1);
  for (int dim : {1, 7, 64, 100, 384}) {
    const auto v = RandomUnit(rng, dim);
    const auto code = Encode(v);
    const auto back = DecodeInt8(code.data(), dim);
    float max_abs = 0;
    for (float x : v) max_abs = std::max(max_abs, std::fabs(x));
    const float step = max_abs / 127;
    for (int i = 0; i < dim; ++i) EXPECT_NEAR(back[i], v[i], step / 2 + 1e-7f) << dim << " " << i;
    // The largest component is represented exactly (code +-127).
    for (int i = 0; i < dim; ++i) {
      if (std::fabs(v[i]) == max_abs) EXPECT_NEAR(back[i], v[i], 1e-6f);
    }
  }
}

TEST(Int8CodesTest, InnerProductApproximatesFloatInnerProduct) {
  std::mt19937 rng(2);
  constexpr int kDim = 384;
  double worst = 0;
  for (int t = 0; t < 500; ++t) {
    const auto a = RandomUnit(rng, kDim), b = RandomUnit(rng, kDim);
    double exact = 0;
    for (int i = 0; i < kDim; ++i) exact += a[i] * b[i];
    const float approx = Int8InnerProduct(Encode(a).data(), Encode(b).data(), Int8PaddedDim(kDim));
    worst = std::max(worst, std::fabs(approx - exact));
  }
  // Each code is off by at most half a step (~0.1% of a unit vector's largest component).
  EXPECT_LT(worst, 0.005);
  // A vector with itself: 1 within the same error.
  const auto a = RandomUnit(rng, kDim);
  EXPECT_NEAR(Int8InnerProduct(Encode(a).data(), Encode(a).data(), Int8PaddedDim(kDim)), 1.0,
              0.005);
}

TEST(Int8CodesTest, ZeroVectorHasZeroInnerProduct) {
  std::mt19937 rng(3);
  const std::vector<float> zero(50, 0.0f);
  EXPECT_EQ(
      Int8InnerProduct(Encode(zero).data(), Encode(RandomUnit(rng, 50)).data(), Int8PaddedDim(50)),
      0.0f);
}

// Every kernel this CPU runs computes the same exact int32 sum (the final float multiply-add may
// be fused or not, hence the tolerance, a fraction of one code step), on codes
// that include the extremes (+-127) and dimensions that are not multiples of the register width.
TEST(Int8CodesTest, AllKernelsAgreeExactly) {
  const auto kernels = SupportedInt8Kernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_STREQ(kernels.back().name, "portable");
  EXPECT_STREQ(kernels.front().name, BestInt8Kernel().name);
  std::mt19937 rng(4);
  for (int dim : {1, 63, 64, 65, 128, 384, 1000}) {
    for (int t = 0; t < 20; ++t) {
      std::vector<float> a = RandomUnit(rng, dim), b = RandomUnit(rng, dim);
      if (t == 0) {  // saturated: every code +-127
        for (int i = 0; i < dim; ++i) {
          a[i] = (i % 2 ? 1.0f : -1.0f);
          b[i] = (i % 3 ? -1.0f : 1.0f);
        }
      }
      const auto ca = Encode(a), cb = Encode(b);
      const size_t padded = Int8PaddedDim(dim);
      const float want = kernels.back().distance(ca.data(), cb.data(), &padded);
      for (const Int8Kernel& k : kernels) {
        EXPECT_NEAR(k.distance(ca.data(), cb.data(), &padded), want, 1e-6)
            << k.name << " dim " << dim;
        EXPECT_NEAR(k.distance(cb.data(), ca.data(), &padded), want, 1e-6)
            << k.name << " dim " << dim;
      }
    }
  }
}

}  // namespace
}  // namespace semrec
