#include "client/eval.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

UserEvent Rated(const std::string& user, const std::string& item, int64_t ts) {
  UserEvent e;
  e.user_id = user;
  e.event.set_item_id(item);
  e.event.set_type(v1::RATING);
  e.event.set_value(4);
  e.event.mutable_timestamp()->set_seconds(ts);
  return e;
}

std::vector<std::string> Items(const std::vector<UserEvent>& events) {
  std::vector<std::string> ids;
  for (const UserEvent& e : events) ids.push_back(e.user_id + ":" + e.event.item_id());
  return ids;
}

TEST(LeaveLastOutTest, HoldsOutEachUsersLastEventWithTiesToTheLastInFileOrder) {
  UserEvent search;
  search.user_id = "u2";
  search.event.set_type(v1::SEARCH);
  search.event.set_text("space opera");
  search.event.mutable_timestamp()->set_seconds(9);
  const LeaveLastOutSplit split = SplitLeaveLastOut({
      Rated("u1", "a", 1), Rated("u2", "d", 5),  // u2's last by time, though not last in the file
      Rated("u1", "b", 3), Rated("u1", "c", 3),  // same time as b, later in the file: held out
      Rated("u3", "x", 4),                       // the only event of u3: no test case
      Rated("u2", "e", 2),
      search,  // no item: stays in training even though it is u2's latest event
  });
  EXPECT_EQ(split.users, 3);
  EXPECT_EQ(split.single_event_users, 1);
  ASSERT_EQ(split.test.size(), 2u);
  EXPECT_EQ(split.test[0].user_id, "u1");
  EXPECT_EQ(split.test[0].item_id, "c");
  EXPECT_EQ(split.test[1].user_id, "u2");
  EXPECT_EQ(split.test[1].item_id, "d");
  // Training in time order, the file's order among equal times.
  EXPECT_THAT(Items(split.train), ElementsAre("u1:a", "u2:e", "u1:b", "u3:x", "u2:"));
}

TEST(LeaveLastOutTest, EmptyInputGivesNothing) {
  const LeaveLastOutSplit split = SplitLeaveLastOut({});
  EXPECT_EQ(split.users, 0);
  EXPECT_TRUE(split.test.empty());
  EXPECT_TRUE(split.train.empty());
}

TEST(MetricsTest, HitRateAndNdcgWithHitsAtRankZeroAndThree) {
  const std::vector<HeldOutCase> cases = {{"u1", "a"}, {"u2", "b"}, {"u3", "c"}, {"u4", "d"}};
  const std::vector<std::vector<std::string>> lists = {
      {"a", "x", "y"},       // hit at rank 0: gain 1
      {"x", "y", "z", "b"},  // hit at rank 3: gain 1/log2(5)
      {"x", "y"},            // miss
      {},                    // nothing recommended: miss
  };
  const std::unordered_set<std::string> catalog = {"a", "b", "c", "d", "x", "y", "z"};
  const RankingMetrics m = ScoreLists(cases, lists, catalog, /*popular_head=*/{});
  EXPECT_EQ(m.test_cases, 4);
  EXPECT_EQ(m.hits, 2);
  EXPECT_DOUBLE_EQ(m.hit_rate, 0.5);
  EXPECT_NEAR(m.ndcg, (1.0 + 1.0 / std::log2(5.0)) / 4, 1e-12);
  EXPECT_NEAR(m.ndcg, 0.357670, 1e-6);
  EXPECT_EQ(m.empty_lists, 1);
}

TEST(MetricsTest, CoverageCountsDistinctCatalogItems) {
  const std::vector<HeldOutCase> cases = {{"u1", "a"}, {"u2", "a"}};
  // Four distinct catalog items (a, b, c, d) over ten in the catalog; "ghost" is not in it.
  const std::vector<std::vector<std::string>> lists = {{"a", "b", "c"}, {"b", "d", "ghost"}};
  const std::unordered_set<std::string> catalog = {"a", "b", "c", "d", "e",
                                                   "f", "g", "h", "i", "j"};
  const RankingMetrics m = ScoreLists(cases, lists, catalog, {});
  EXPECT_EQ(m.distinct_items, 4);
  EXPECT_DOUBLE_EQ(m.coverage, 0.4);
  EXPECT_EQ(m.slots, 6);
  EXPECT_EQ(m.outside_catalog, 1);
}

TEST(MetricsTest, MostPopularTwentyPercentBreaksTiesById) {
  const std::vector<std::string> catalog = {"i1", "i2", "i3", "i4", "i5",
                                            "i6", "i7", "i8", "i9", "i10"};
  // i7: 3 events; i2, i5 and i9: 2 each (the tie goes to the smallest id, i2); i1: 1.
  std::vector<UserEvent> events;
  for (const char* item : {"i7", "i7", "i7", "i9", "i9", "i5", "i5", "i2", "i2", "i1", "zz"}) {
    events.push_back(Rated("u", item, 0));
  }
  EXPECT_THAT(MostPopularItems(catalog, events, 0.2), UnorderedElementsAre("i7", "i2"));
  EXPECT_THAT(MostPopularItems(catalog, events, 0.3), UnorderedElementsAre("i7", "i2", "i5"));
  // ceil(0.2 * 6) = 2 of six items.
  EXPECT_EQ(MostPopularItems({"a", "b", "c", "d", "e", "f"}, {}, 0.2).size(), 2u);
  EXPECT_TRUE(MostPopularItems(catalog, events, 0).empty());
}

TEST(MetricsTest, LongTailShareIsTheShareOfSlotsOutsideThePopularHead) {
  const std::unordered_set<std::string> head = {"i7", "i2"};
  const std::vector<HeldOutCase> cases = {{"u1", "i7"}, {"u2", "i3"}};
  // Ten slots, three of them head items (i7, i2, i7): 70% long tail.
  const std::vector<std::vector<std::string>> lists = {{"i7", "i2", "i3", "i4", "i5"},
                                                       {"i6", "i7", "i8", "i9", "i10"}};
  const std::unordered_set<std::string> catalog = {"i1", "i2", "i3", "i4", "i5",
                                                   "i6", "i7", "i8", "i9", "i10"};
  const RankingMetrics m = ScoreLists(cases, lists, catalog, head);
  EXPECT_EQ(m.slots, 10);
  EXPECT_DOUBLE_EQ(m.long_tail_share, 0.7);
  EXPECT_DOUBLE_EQ(m.coverage, 0.9);  // all but i1
  EXPECT_DOUBLE_EQ(m.hit_rate, 0.5);
}

TEST(MetricsTest, NothingToScoreGivesZeros) {
  const RankingMetrics m = ScoreLists({}, {}, {}, {});
  EXPECT_EQ(m.hit_rate, 0);
  EXPECT_EQ(m.ndcg, 0);
  EXPECT_EQ(m.coverage, 0);
  EXPECT_EQ(m.long_tail_share, 0);
}

TEST(MetricsTest, PercentileIsTheNearestRank) {
  std::vector<double> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  EXPECT_EQ(Percentile(values, 0.5), 50);
  EXPECT_EQ(Percentile(values, 0.99), 99);
  EXPECT_EQ(Percentile(values, 1.0), 100);
  EXPECT_EQ(Percentile({7}, 0.99), 7);
  EXPECT_EQ(Percentile({}, 0.5), 0);
}

}  // namespace
}  // namespace semrec
