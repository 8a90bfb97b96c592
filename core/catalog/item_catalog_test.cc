#include "core/catalog/item_catalog.h"

#include "gtest/gtest.h"

namespace semrec {
namespace {

constexpr int64_t kDay = 86400LL * 1000000;

TEST(ItemCatalogTest, PutReplacesAndReturnsPrevious) {
  ItemCatalog catalog;
  EXPECT_EQ(catalog.Put(Item{"a", "First text", {"books"}, {}}), nullptr);
  auto prev = catalog.Put(Item{"a", "Second text", {"movies"}, {}});
  ASSERT_NE(prev, nullptr);
  EXPECT_EQ(prev->text, "First text");
  EXPECT_EQ(catalog.Get("a")->text, "Second text");
  EXPECT_TRUE(catalog.Get("a")->HasCategory("movies"));
  catalog.Put(Item{"c", "Third", {}, {}});
  catalog.Put(Item{"b", "Fourth", {}, {}});
  EXPECT_EQ(*catalog.SortedIds(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(catalog.Remove("b"));
  EXPECT_EQ(*catalog.SortedIds(), (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(catalog.Remove("c"));
  EXPECT_TRUE(catalog.Remove("a"));
  EXPECT_FALSE(catalog.Remove("a"));
  EXPECT_EQ(catalog.Get("a"), nullptr);
  EXPECT_EQ(catalog.size(), 0u);
}

TEST(ItemCatalogTest, GetManyAnswersInOrderWithNullForAbsent) {
  ItemCatalog catalog;
  for (int i = 0; i < 100; ++i) {
    catalog.Put(Item{"item-" + std::to_string(i), "Text " + std::to_string(i), {}, {}});
  }
  std::vector<std::string_view> ids = {"item-7", "missing", "item-99", "item-7", "item-0"};
  std::vector<std::shared_ptr<const Item>> got = catalog.GetMany(ids);
  ASSERT_EQ(got.size(), ids.size());
  EXPECT_EQ(got[0]->text, "Text 7");
  EXPECT_EQ(got[1], nullptr);
  EXPECT_EQ(got[2]->text, "Text 99");
  EXPECT_EQ(got[3], got[0]);  // the same immutable entry, shared
  EXPECT_EQ(got[4], catalog.Get("item-0"));
  EXPECT_TRUE(catalog.GetMany({}).empty());
}

TEST(ItemCatalogTest, DisplayNamePrefersTitleThenFirstSentence) {
  EXPECT_EQ((Item{"a", "Dune Drift. A long tale.", {}, {{"title", "Dune Drift"}}}).DisplayName(),
            "Dune Drift");
  EXPECT_EQ((Item{"a", "Starfall Saga. An epic about ships.", {}, {}}).DisplayName(), "Starfall Saga");
  std::string long_text(200, 'x');
  EXPECT_EQ((Item{"a", long_text, {}, {}}).DisplayName(), std::string(80, 'x') + "...");
}

TEST(PopularityTrackerTest, DecaysByEventTimeWithHalfLife) {
  PopularityTracker pop(/*half_life_seconds=*/86400);
  pop.Record("old", 4.0, 0);
  pop.Record("new", 1.0, 2 * kDay);
  // Two half-lives later "old" is worth 4 / 4 = 1, like "new".
  EXPECT_NEAR(pop.Score("old"), 1.0, 1e-9);
  EXPECT_NEAR(pop.Score("new"), 1.0, 1e-9);
  pop.Record("new", 0.5, 2 * kDay);
  auto top = pop.Top(10, nullptr);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, "new");
  EXPECT_NEAR(top[0].second, 1.5, 1e-9);
  EXPECT_NEAR(pop.MaxScore(), 1.5, 1e-9);
  auto scores = pop.Scores({"new", "unknown", "old"});
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_NEAR(scores[0], 1.5, 1e-9);
  EXPECT_EQ(scores[1], 0.0);
  EXPECT_NEAR(scores[2], 1.0, 1e-9);
  // Far in the future: rebasing keeps numbers finite and ordering intact.
  pop.Record("new", 1.0, 500 * kDay);
  EXPECT_NEAR(pop.Score("new"), 1.0, 1e-6);
  EXPECT_GE(pop.Score("old"), 0.0);
  auto filtered = pop.Top(10, [](std::string_view id) { return id == "old"; });
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_NEAR(pop.MaxScore(), pop.Score("new"), 1e-12);  // kept through the rebase
  pop.Forget("new");
  EXPECT_EQ(pop.Score("new"), 0.0);
  EXPECT_NEAR(pop.MaxScore(), pop.Score("old"), 1e-12);  // the most popular is gone: rescanned
}

TEST(PopularityTrackerTest, MaxScoreFollowsRecordsForgetsAndImports) {
  PopularityTracker pop(kDay / 1e6);
  EXPECT_EQ(pop.MaxScore(), 0.0);
  pop.Record("a", 1.0, 0);
  pop.Record("b", 3.0, 0);
  EXPECT_NEAR(pop.MaxScore(), 3.0, 1e-9);
  pop.Forget("a");  // not the maximum
  EXPECT_NEAR(pop.MaxScore(), 3.0, 1e-9);
  pop.Record("c", 2.0, 0);
  pop.Forget("b");
  EXPECT_NEAR(pop.MaxScore(), 2.0, 1e-9);
  PopularityTracker copy(kDay / 1e6);
  copy.Record("z", 9.0, 0);
  EXPECT_NEAR(copy.MaxScore(), 9.0, 1e-9);
  copy.Import(pop.Export());
  EXPECT_NEAR(copy.MaxScore(), 2.0, 1e-9);
  pop.Forget("c");
  EXPECT_EQ(pop.MaxScore(), 0.0);
}

}  // namespace
}  // namespace semrec

namespace semrec {
namespace {

TEST(PopularityTrackerTest, AForgottenItemStartsAgainFromZeroAndExportsRoundTrip) {
  PopularityTracker pop(86400);
  for (int i = 0; i < 100; ++i) pop.Record("i" + std::to_string(i), 1.0 + i, 0);
  for (int i = 0; i < 100; i += 2) pop.Forget("i" + std::to_string(i));
  pop.Record("i10", 0.5, 0);    // forgotten: counts from zero
  pop.Record("new", 200.0, 0);  // takes a forgotten item's place
  EXPECT_NEAR(pop.Score("i10"), 0.5, 1e-12);
  EXPECT_NEAR(pop.Score("i11"), 12.0, 1e-12);
  EXPECT_EQ(pop.Score("i12"), 0.0);
  EXPECT_EQ(pop.Top(1, nullptr)[0].first, "new");
  PopularityTracker copy(86400);
  copy.Import(pop.Export());
  EXPECT_EQ(copy.Top(60, nullptr), pop.Top(60, nullptr));
  EXPECT_EQ(copy.Top(60, nullptr).size(), 52u);
  EXPECT_NEAR(copy.MaxScore(), 200.0, 1e-12);
}

TEST(PopularityTrackerTest, IdsOfEveryLengthAreKept) {
  PopularityTracker pop(86400);
  const std::vector<std::string> ids = {"", "x", std::string(15, 'a'), std::string(16, 'b'),
                                        "an-item-id-much-longer-than-sixteen-bytes"};
  for (size_t i = 0; i < ids.size(); ++i) pop.Record(ids[i], 1.0 + i, 0);
  for (int i = 0; i < 2000; ++i) pop.Record("filler-item-number-" + std::to_string(i), 0.5, 0);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_NEAR(pop.Score(ids[i]), 1.0 + i, 1e-12) << i;
  EXPECT_EQ(pop.Top(1, nullptr)[0].first, ids.back());
  PopularityTracker copy(86400);
  copy.Import(pop.Export());
  EXPECT_EQ(copy.Top(10, nullptr), pop.Top(10, nullptr));
  copy.Forget(ids[3]);
  EXPECT_EQ(copy.Score(ids[3]), 0.0);
  EXPECT_NEAR(copy.Score(ids[4]), 5.0, 1e-12);
}

TEST(PopularityTrackerTest, TopOfALargeCatalogStaysCorrectWithFilters) {
  PopularityTracker pop(86400);
  for (int i = 0; i < 3000; ++i) pop.Record("i" + std::to_string(i), 1.0 + i, 0);
  auto top = pop.Top(3, nullptr);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, "i2999");
  // A filter rejecting the whole cached head falls back to ranking everything.
  auto low = pop.Top(2, [](std::string_view id) { return id.size() <= 3; });  // i0..i99
  ASSERT_EQ(low.size(), 2u);
  EXPECT_EQ(low[0].first, "i99");
  pop.Forget("i2999");
  EXPECT_EQ(pop.Top(1, nullptr)[0].first, "i2998");
}

}  // namespace
}  // namespace semrec
