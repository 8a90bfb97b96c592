#include "core/user/user_model.h"

#include <cmath>

#include "core/user/testing/test_events.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::FloatNear;
using ::testing::Pointwise;

constexpr int64_t kDayUs = 86400LL * 1000000;

UserModelOptions OneDayHalfLife() {
  UserModelOptions o;
  o.half_life_seconds = 86400;
  return o;
}

TEST(UserModelTest, LikeAddsWeightedVectorAndMarksSeen) {
  UserModelOptions o = OneDayHalfLife();
  UserProfile p;
  ApplyEvent(o, Ev("a", EventType::kLike, 0), std::vector<float>{1, 0}, p);
  EXPECT_THAT(p.interest, Pointwise(FloatNear(1e-6), std::vector<float>{1.0f, 0.0f}));
  EXPECT_TRUE(p.seen.contains("a"));
  EXPECT_EQ(p.event_count, 1);
  EXPECT_THAT(p.InterestDirection(), Pointwise(FloatNear(1e-6), std::vector<float>{1, 0}));
}

TEST(UserModelTest, DecaysByEventTimeBeforeAdding) {
  UserModelOptions o = OneDayHalfLife();
  UserProfile p;
  ApplyEvent(o, Ev("a", EventType::kLike, 0), std::vector<float>{1, 0}, p);
  // Two half-lives later the old like weighs 0.25, the new click 0.3.
  ApplyEvent(o, Ev("b", EventType::kClick, 2 * kDayUs), std::vector<float>{0, 1}, p);
  EXPECT_THAT(p.interest, Pointwise(FloatNear(1e-6), std::vector<float>{0.25f, 0.3f}));
  EXPECT_NEAR(p.positive_mass, 0.55, 1e-6);
  EXPECT_EQ(p.last_event_us, 2 * kDayUs);
  EXPECT_EQ(p.recent.front().item_id, "b");
}

TEST(UserModelTest, LateEventIsDecayedAsIfAppliedInOrder) {
  UserModelOptions o = OneDayHalfLife();
  UserProfile in_order, out_of_order;
  ApplyEvent(o, Ev("a", EventType::kLike, 0), std::vector<float>{1, 0}, in_order);
  ApplyEvent(o, Ev("b", EventType::kLike, kDayUs), std::vector<float>{0, 1}, in_order);
  ApplyEvent(o, Ev("b", EventType::kLike, kDayUs), std::vector<float>{0, 1}, out_of_order);
  ApplyEvent(o, Ev("a", EventType::kLike, 0), std::vector<float>{1, 0}, out_of_order);
  EXPECT_THAT(out_of_order.interest, Pointwise(FloatNear(1e-6), in_order.interest));
}

TEST(UserModelTest, DislikePushesAwayAndAloneGivesNoDirection) {
  UserModelOptions o = OneDayHalfLife();
  UserProfile p;
  ApplyEvent(o, Ev("bad", EventType::kDislike, 0), std::vector<float>{1, 0}, p);
  EXPECT_TRUE(p.InterestDirection().empty());  // nothing liked yet: no direction to follow
  EXPECT_TRUE(p.seen.contains("bad"));
  ApplyEvent(o, Ev("good", EventType::kLike, 0), std::vector<float>{0.6f, 0.8f}, p);
  // interest = -1*(1,0) + (0.6,0.8) = (-0.4, 0.8)
  EXPECT_THAT(p.interest, Pointwise(FloatNear(1e-6), std::vector<float>{-0.4f, 0.8f}));
  auto dir = p.InterestDirection();
  EXPECT_NEAR(dir[0], -0.4 / std::sqrt(0.8), 1e-5);
}

TEST(UserModelTest, RatingWeightFollowsTheScale) {
  UserModelOptions o;
  EXPECT_NEAR(EventWeight(o, Ev("a", EventType::kRating, 0, 5)), 1.0, 1e-6);
  EXPECT_NEAR(EventWeight(o, Ev("a", EventType::kRating, 0, 4)), 0.6, 1e-6);
  EXPECT_NEAR(EventWeight(o, Ev("a", EventType::kRating, 0, 1)), -0.6, 1e-6);
  o.rating_scale = 10;
  EXPECT_NEAR(EventWeight(o, Ev("a", EventType::kRating, 0, 10)), 1.0, 1e-6);
}

TEST(UserModelTest, HistoryIsBounded) {
  UserModelOptions o;
  o.max_recent = 3;
  o.max_event_ids = 2;
  UserProfile p;
  for (int i = 0; i < 10; ++i) {
    ApplyEvent(o, Ev("i" + std::to_string(i), EventType::kView, i, 0, "e" + std::to_string(i)), {}, p);
  }
  EXPECT_EQ(p.recent.size(), 3u);
  EXPECT_EQ(p.recent.front().item_id, "i9");
  EXPECT_TRUE(p.HasEventId("e9"));
  EXPECT_TRUE(p.HasEventId("e8"));
  EXPECT_FALSE(p.HasEventId("e7"));
  EXPECT_EQ(p.seen.size(), 10u);
  EXPECT_TRUE(p.interest.empty());
}

TEST(UserModelTest, OptionsAreValidated) {
  UserModelOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.half_life_seconds = 0;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace semrec

namespace semrec {
namespace {

TEST(UserModelMultiInterestTest, DistinctTastesGetTheirOwnClusters) {
  UserModelOptions o;
  o.half_life_seconds = 86400;
  UserProfile p;
  ApplyEvent(o, Event{"space-1", EventType::kLike, 0, 0}, std::vector<float>{1, 0, 0}, p);
  ApplyEvent(o, Event{"space-2", EventType::kLike, 0, 0}, std::vector<float>{0.9f, 0.436f, 0}, p);
  ApplyEvent(o, Event{"pasta-1", EventType::kLike, 0, 0}, std::vector<float>{0, 0, 1}, p);
  ASSERT_EQ(p.interests.size(), 2u);
  EXPECT_NEAR(p.interests[0].mass, 2.0, 1e-6);
  EXPECT_NEAR(p.interests[1].mass, 1.0, 1e-6);
  auto dirs = p.InterestDirections();
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_GT(dirs[0][0], 0.9f);  // the stronger taste first
  EXPECT_NEAR(dirs[1][2], 1.0f, 1e-6);
  // The single average direction would sit between both tastes.
  EXPECT_LT(p.InterestDirection()[2], 0.5f);
}

TEST(UserModelMultiInterestTest, AFadedTasteIsReplacedAndOneClusterMeansOneVector) {
  UserModelOptions o;
  o.half_life_seconds = 86400;
  o.max_interests = 2;
  UserProfile p;
  ApplyEvent(o, Event{"a", EventType::kLike, 0, 0}, std::vector<float>{1, 0, 0}, p);
  ApplyEvent(o, Event{"b", EventType::kLike, 0, 0}, std::vector<float>{0, 1, 0}, p);
  // Ten days later the old tastes weigh ~0.001: a third taste replaces the faintest.
  ApplyEvent(o, Event{"c", EventType::kLike, 0, 10 * 86400LL * 1000000}, std::vector<float>{0, 0, 1}, p);
  ASSERT_EQ(p.interests.size(), 2u);
  auto dirs = p.InterestDirections();
  ASSERT_EQ(dirs.size(), 1u);  // the faded one is below the share threshold
  EXPECT_NEAR(dirs[0][2], 1.0f, 1e-5);

  o.max_interests = 1;
  UserProfile single;
  ApplyEvent(o, Event{"a", EventType::kLike, 0, 0}, std::vector<float>{1, 0, 0}, single);
  ApplyEvent(o, Event{"b", EventType::kLike, 0, 0}, std::vector<float>{0, 1, 0}, single);
  EXPECT_EQ(single.interests.size(), 1u);
  EXPECT_EQ(single.InterestDirections().size(), 1u);
}

}  // namespace
}  // namespace semrec
