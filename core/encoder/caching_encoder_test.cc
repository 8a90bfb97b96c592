#include "core/encoder/caching_encoder.h"

#include "core/encoder/testing/fake_encoder.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

constexpr int kDim = 32;

TEST(CachingEncoderTest, RepeatedQueriesAreServedFromTheCache) {
  auto fake = std::make_unique<FakeEncoder>(kDim);
  FakeEncoder* raw = fake.get();
  CachingEncoder cache({.capacity_bytes = 1 << 20}, std::move(fake));
  auto first = cache.Encode({"red shoes", "blue hat"}, TextKind::kQuery);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(raw->calls(), 1);
  // A hit, a miss and a hit in one call: one model call for the miss only, order kept.
  auto second = cache.Encode({"blue hat", "green scarf", "red shoes"}, TextKind::kQuery);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(raw->calls(), 2);
  EXPECT_EQ(raw->call_log().back().second, 1u);
  EXPECT_EQ((*second)[0], (*first)[1]);
  EXPECT_EQ((*second)[1], raw->Embed("green scarf"));
  EXPECT_EQ((*second)[2], (*first)[0]);
  auto s = cache.stats();
  EXPECT_EQ(s.cache_hits, 2);
  EXPECT_EQ(s.cache_misses, 3);
  EXPECT_EQ(s.cache_entries, 3);
}

TEST(CachingEncoderTest, DocumentsAreNotCached) {
  auto fake = std::make_unique<FakeEncoder>(kDim);
  FakeEncoder* raw = fake.get();
  CachingEncoder cache({.capacity_bytes = 1 << 20}, std::move(fake));
  ASSERT_TRUE(cache.Encode({"an item"}, TextKind::kDocument).ok());
  ASSERT_TRUE(cache.Encode({"an item"}, TextKind::kDocument).ok());
  EXPECT_EQ(raw->calls(), 2);
  EXPECT_EQ(cache.stats().cache_entries, 0);
}

TEST(CachingEncoderTest, EvictsTheLeastRecentlyUsedWithinTheByteBudget) {
  // Each entry: 2 * 2-byte text + 32 floats + overhead = 4 + 128 + 96 = 228 bytes; room for 2.
  auto fake = std::make_unique<FakeEncoder>(kDim);
  FakeEncoder* raw = fake.get();
  CachingEncoder cache({.capacity_bytes = 500}, std::move(fake));
  ASSERT_TRUE(cache.Encode({"aa"}, TextKind::kQuery).ok());
  ASSERT_TRUE(cache.Encode({"bb"}, TextKind::kQuery).ok());
  ASSERT_TRUE(cache.Encode({"aa"}, TextKind::kQuery).ok());  // "aa" is now the most recent
  ASSERT_TRUE(cache.Encode({"cc"}, TextKind::kQuery).ok());  // evicts "bb"
  EXPECT_EQ(cache.evictions(), 1);
  EXPECT_LE(cache.stats().cache_bytes, 500);
  const int calls = raw->calls();
  ASSERT_TRUE(cache.Encode({"aa"}, TextKind::kQuery).ok());
  EXPECT_EQ(raw->calls(), calls);  // still cached
  ASSERT_TRUE(cache.Encode({"bb"}, TextKind::kQuery).ok());
  EXPECT_EQ(raw->calls(), calls + 1);  // was evicted
}

TEST(CachingEncoderTest, ZeroCapacityDisablesTheCache) {
  auto fake = std::make_unique<FakeEncoder>(kDim);
  FakeEncoder* raw = fake.get();
  CachingEncoder cache({.capacity_bytes = 0}, std::move(fake));
  ASSERT_TRUE(cache.Encode({"q"}, TextKind::kQuery).ok());
  ASSERT_TRUE(cache.Encode({"q"}, TextKind::kQuery).ok());
  EXPECT_EQ(raw->calls(), 2);
}

}  // namespace
}  // namespace semrec
