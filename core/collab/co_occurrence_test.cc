#include "core/collab/co_occurrence.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

constexpr int64_t kHourUs = 3600LL * 1000000;

TEST(CoOccurrenceModelTest, ItemsLikedByTheSameUsersBecomeNeighbours) {
  CoOccurrenceModel model({});
  // Three users like "a" then "b"; one likes "a" then "c".
  // (Every item is recorded when its own event comes in, before later events pair with it.)
  for (int u = 0; u < 4; ++u) model.Record("a", 1, 0, {});
  for (int u = 0; u < 3; ++u) model.Record("b", 1, kHourUs, {{"a", 1, 0}});
  model.Record("c", 1, kHourUs, {{"a", 1, 0}});
  auto n = model.Neighbors("a", 10);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].first, "b");
  EXPECT_EQ(n[1].first, "c");
  EXPECT_GT(n[0].second, n[1].second);
  EXPECT_EQ(model.Neighbors("b", 10)[0].first, "a");  // symmetric
}

TEST(CoOccurrenceModelTest, LittleEvidenceGivesALowScore) {
  CoOccurrenceModel model({});  // default shrinkage
  model.Record("a", 1, 0, {});
  model.Record("b", 1, 0, {{"a", 1, 0}});  // one user, once
  for (int u = 0; u < 100; ++u) {
    model.Record("c", 1, 0, {});
    model.Record("d", 1, 0, {{"c", 1, 0}});  // a hundred users
  }
  EXPECT_LT(model.Neighbors("a", 1)[0].second, 0.3f);
  EXPECT_GT(model.Neighbors("c", 1)[0].second, 0.9f);
  EXPECT_TRUE(model.Neighbors("unknown", 10).empty());
}

TEST(CoOccurrenceModelTest, PopularItemsDoNotDominate) {
  CoOccurrenceModel model({});
  // "pop" is paired with everything; "niche" only ever with "x", but every time.
  for (int i = 0; i < 50; ++i) {
    model.Record("other" + std::to_string(i), 1, 0, {});
    model.Record("pop", 1, 0, {{"other" + std::to_string(i), 1, 0}});
  }
  for (int i = 0; i < 3; ++i) {
    model.Record("x", 1, 0, {});
    model.Record("pop", 1, 0, {{"x", 1, 0}});
    model.Record("niche", 1, 0, {{"x", 1, 0}});
  }
  auto n = model.Neighbors("x", 2);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].first, "niche");
}

TEST(CoOccurrenceModelTest, CloserInTimeCountsMore) {
  CoOccurrenceOptions o;
  o.pair_half_life_seconds = 86400;
  CoOccurrenceModel model(o);
  model.Record("a", 1, kHourUs, {});
  model.Record("same-session", 1, kHourUs, {{"a", 1, kHourUs - 60 * 1000000LL}});
  model.Record("weeks-later", 1, kHourUs + 14 * 24 * kHourUs, {{"a", 1, kHourUs}});
  auto n = model.Neighbors("a", 2);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].first, "same-session");
}

TEST(CoOccurrenceModelTest, NeighboursAreBoundedAndForgettingWorks) {
  CoOccurrenceOptions o;
  o.max_neighbors = 5;
  CoOccurrenceModel model(o);
  for (int i = 0; i < 100; ++i) {
    // Neighbour i is paired i+1 times: the strongest are the last ones.
    for (int r = 0; r <= i % 20; ++r) model.Record("hub", 1, 0, {{"n" + std::to_string(i), 1, 0}});
  }
  auto n = model.Neighbors("hub", 100);
  EXPECT_LE(n.size(), 10u);  // pruned back to 5 whenever it passes 10
  model.Forget("n19");
  for (const auto& [id, s] : model.Neighbors("hub", 100)) EXPECT_NE(id, "n19");
  EXPECT_TRUE(model.Neighbors("n19", 5).empty());
}

TEST(CoOccurrenceModelTest, ExportImportRoundTripsTheModel) {
  CoOccurrenceOptions o;
  o.max_neighbors = 3;
  CoOccurrenceModel model(o);
  for (int i = 0; i < 40; ++i) {
    const std::string item = "i" + std::to_string(i % 9);
    model.Record(item, 1 + i % 3, i * kHourUs / 4, {{"i" + std::to_string(i % 4), 1, 0}});
  }
  model.Forget("i2");
  CoOccurrenceModel copy(o);
  ASSERT_TRUE(copy.Import(model.Export()).ok());
  for (int i = 0; i < 9; ++i) {
    const std::string item = "i" + std::to_string(i);
    EXPECT_EQ(copy.Neighbors(item, 10), model.Neighbors(item, 10)) << item;
  }
  EXPECT_EQ(copy.items(), model.items());
}

TEST(CoOccurrenceModelTest, ImportTakesPairsInAnyOrder) {
  // Snapshots written before pairs were kept sorted list them in hash order; a pair listed twice
  // keeps its first weight. "c" is named but has no state of its own.
  CoOccurrenceModel::State state;
  state.names = {"a", "b", "c", "d"};
  state.nodes.push_back({0, 10, false, {{3, 4.0f}, {1, 2.0f}, {3, 1.0f}}});
  state.nodes.push_back({1, 10, false, {{0, 2.0f}}});
  state.nodes.push_back({3, 10, false, {{0, 4.0f}}});
  CoOccurrenceModel model({});
  ASSERT_TRUE(model.Import(state).ok());
  auto n = model.Neighbors("a", 10);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].first, "d");
  EXPECT_FLOAT_EQ(n[0].second, 4.0f / (10 + 5));
  EXPECT_EQ(n[1].first, "b");
  EXPECT_TRUE(model.Neighbors("c", 10).empty());
  EXPECT_EQ(model.Export().nodes.size(), 3u);  // "c" gets none

  // A state naming an item twice is refused and leaves the model as it was.
  CoOccurrenceModel::State twice;
  twice.names = {"x", "x"};
  EXPECT_EQ(model.Import(twice).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model.Neighbors("a", 10), n);
  EXPECT_EQ(model.items(), 4u);
}

TEST(CoOccurrenceModelTest, ConcurrentRecordsAreSafe) {
  CoOccurrenceModel model({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string item = "i" + std::to_string((i * 7 + t) % 50);
        std::string prev = "i" + std::to_string((i * 3 + t) % 50);
        model.Record(item, 1, i, {{prev, 1, i - 1}});
        model.Neighbors(prev, 5);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(model.items(), 50u);
}

}  // namespace
}  // namespace semrec
