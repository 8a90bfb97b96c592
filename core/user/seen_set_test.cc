#include "core/user/seen_set.h"

#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

std::set<std::string> Contents(const SeenSet& s) {
  std::set<std::string> out;
  for (const std::string& id : s) EXPECT_TRUE(out.insert(id).second) << "listed twice: " << id;
  return out;
}

TEST(SeenSetTest, BehavesLikeASetThroughFreezesAndMerges) {
  SeenSet seen;
  std::set<std::string> want;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> pick(0, 20000);
  for (int i = 0; i < 30000; ++i) {
    const std::string id = absl::StrCat("item-", pick(rng));
    EXPECT_EQ(seen.insert(id), want.insert(id).second);
    ASSERT_EQ(seen.size(), want.size());
  }
  EXPECT_EQ(Contents(seen), want);
  for (int i = 0; i <= 20000; i += 7) {
    const std::string id = absl::StrCat("item-", i);
    EXPECT_EQ(seen.contains(id), want.count(id) == 1) << id;
  }
  EXPECT_FALSE(seen.contains("item-x"));
  // About log4 of the size in levels: what a copy and a lookup pay for.
  EXPECT_GE(seen.levels(), 1u);
  EXPECT_LE(seen.levels(), 8u);
}

TEST(SeenSetTest, CopiesAreIndependentAndShareFrozenLevels) {
  SeenSet a;
  for (int i = 0; i < 1000; ++i) a.insert(absl::StrCat("a", i));
  SeenSet b = a;
  b.insert("only-in-b");
  a.insert("only-in-a");
  EXPECT_TRUE(b.contains("only-in-b"));
  EXPECT_FALSE(a.contains("only-in-b"));
  EXPECT_TRUE(a.contains("only-in-a"));
  EXPECT_FALSE(b.contains("only-in-a"));
  EXPECT_EQ(a.size(), 1001u);
  EXPECT_EQ(b.size(), 1001u);
  EXPECT_NE(a, b);
  SeenSet c;
  c = b;
  EXPECT_EQ(c, b);
  EXPECT_EQ(Contents(c), Contents(b));
}

TEST(SeenSetTest, EqualityIgnoresLayout) {
  SeenSet one, other;
  for (int i = 0; i < 500; ++i) one.insert(absl::StrCat("x", i));
  other.reserve(500);
  for (int i = 499; i >= 0; --i) other.insert(absl::StrCat("x", i));
  EXPECT_NE(one.levels(), other.levels());
  EXPECT_EQ(one, other);
  other.insert("y");
  EXPECT_NE(one, other);
}

TEST(SeenSetTest, ReserveBuildsOneLevelAndAShortBulkLoadIsFrozenByTheFirstCopy) {
  SeenSet bulk;
  bulk.reserve(1000);
  for (int i = 0; i < 1000; ++i) bulk.insert(absl::StrCat("b", i));
  EXPECT_EQ(bulk.levels(), 1u);
  EXPECT_EQ(bulk.size(), 1000u);

  SeenSet shortfall;  // duplicates in the input: fewer ids than reserved
  shortfall.reserve(100);
  for (int i = 0; i < 100; ++i) shortfall.insert(absl::StrCat("s", i % 90));
  EXPECT_EQ(shortfall.levels(), 0u);  // all 90 still in the head
  SeenSet copy = shortfall;
  EXPECT_EQ(copy.levels(), 1u);  // frozen once, in the copy
  EXPECT_EQ(copy, shortfall);
  shortfall.insert("s-new");
  EXPECT_TRUE(shortfall.contains("s-new"));
  EXPECT_EQ(shortfall.size(), 91u);
}

TEST(SeenSetTest, ClearEmptiesAndIterationOfAnEmptySetIsEmpty) {
  SeenSet seen;
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(seen.begin(), seen.end());
  for (int i = 0; i < 100; ++i) seen.insert(absl::StrCat("c", i));
  seen.clear();
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(seen.begin(), seen.end());
  EXPECT_FALSE(seen.contains("c1"));
}

}  // namespace
}  // namespace semrec
