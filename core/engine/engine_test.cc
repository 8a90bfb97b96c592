#include "core/engine/engine.h"

#include <algorithm>

#include "core/common/deadline.h"
#include "core/encoder/testing/fake_encoder.h"
#include "core/index/hnsw_index.h"
#include "core/user/in_memory_user_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kDim = 256;
constexpr int64_t kDayUs = 86400LL * 1000000;

std::vector<Item> HandMadeCatalog() {
  return {
      {"scifi-1", "space opera starship fleet galaxy war", {"books", "scifi"}, {{"title", "Starfleet Dawn"}}},
      {"scifi-2", "space opera galaxy empire starship rebels", {"books", "scifi"}, {}},
      {"scifi-3", "starship crew lost in deep space galaxy", {"movies", "scifi"}, {}},
      {"scifi-4", "robot uprising on a space station", {"movies", "scifi"}, {}},
      {"cook-1", "italian pasta tomato basil sauce recipe", {"recipes", "italian"}, {}},
      {"cook-2", "italian pizza tomato mozzarella recipe", {"recipes", "italian"}, {}},
      {"cook-3", "french onion soup recipe with cheese", {"recipes", "french"}, {}},
      {"hike-1", "waterproof hiking boots for mountain trails", {"gear", "hiking"}, {}},
      {"hike-2", "lightweight hiking backpack for mountain trails", {"gear", "hiking"}, {}},
      {"hike-3", "mountain tent for hiking and camping", {"gear", "hiking"}, {}},
  };
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HnswIndex::Options io;
    io.dimension = kDim;
    auto index = HnswIndex::Create(io);
    ASSERT_TRUE(index.ok());
    auto encoder = std::make_unique<FakeEncoder>(kDim);
    encoder_ = encoder.get();
    EngineOptions options;
    options.user.half_life_seconds = 86400;
    auto engine = Engine::Create(options, std::move(encoder), std::move(index).value(),
                                 std::make_unique<InMemoryUserStore>(options.user));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(engine).value();
    auto up = engine_->UpsertItems(HandMadeCatalog());
    ASSERT_TRUE(up.ok()) << up.status();
    ASSERT_EQ(up->created, 10);
  }

  static Event Ev(std::string item, EventType type, int64_t ts = kDayUs, std::string id = "") {
    Event e;
    e.item_id = std::move(item);
    e.type = type;
    e.timestamp_us = ts;
    e.event_id = std::move(id);
    return e;
  }

  std::vector<std::string> Ids(const RecommendRequest& req) {
    auto recs = engine_->Recommend(req);
    EXPECT_TRUE(recs.ok()) << recs.status();
    std::vector<std::string> ids;
    if (recs.ok()) {
      for (const auto& r : *recs) ids.push_back(r.item_id);
    }
    return ids;
  }

  FakeEncoder* encoder_ = nullptr;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, FeedbackChangesTheNextRecommendation) {
  RecommendRequest req;
  req.user_id = "u1";
  req.k = 2;
  auto results = engine_->Feedback("u1", {Ev("scifi-1", EventType::kLike), Ev("scifi-2", EventType::kLike)});
  ASSERT_TRUE(results.ok()) << results.status();
  auto ids = Ids(req);
  ASSERT_EQ(ids.size(), 2u);
  for (const auto& id : ids) EXPECT_EQ(id.rfind("scifi-", 0), 0u) << id;
  EXPECT_THAT(ids, Not(Contains("scifi-1")));  // seen items are excluded by default
  req.filter.include_seen = true;
  req.k = 1;
  EXPECT_THAT(Ids(req), Contains(::testing::StartsWith("scifi-")));

  // The user now likes hiking much more recently: recommendations follow (decay by event time).
  ASSERT_TRUE(engine_->Feedback("u1", {Ev("hike-1", EventType::kPurchase, 10 * kDayUs),
                                       Ev("hike-2", EventType::kLike, 10 * kDayUs)})
                  .ok());
  req.filter.include_seen = false;
  EXPECT_THAT(Ids(req), ::testing::ElementsAre("hike-3"));
}

TEST_F(EngineTest, DislikePushesSimilarItemsDown) {
  ASSERT_TRUE(engine_->Feedback("u2", {Ev("scifi-3", EventType::kLike)}).ok());
  RecommendRequest req;
  req.user_id = "u2";
  req.k = 9;
  auto before = engine_->Recommend(req);
  ASSERT_TRUE(before.ok());
  auto score_of = [](const std::vector<Recommendation>& recs, const std::string& id) {
    for (const auto& r : recs) {
      if (r.item_id == id) return r.score;
    }
    return -2.0f;
  };
  ASSERT_TRUE(engine_->Feedback("u2", {Ev("scifi-1", EventType::kDislike)}).ok());
  auto after = engine_->Recommend(req);
  ASSERT_TRUE(after.ok());
  EXPECT_LT(score_of(*after, "scifi-2"), score_of(*before, "scifi-2"));
  EXPECT_THAT(Ids(req), Not(Contains("scifi-1")));
}

TEST_F(EngineTest, ColdItemIsFoundByItsTextAndNoSignalMeansPopular) {
  ASSERT_TRUE(engine_->UpsertItems({{"new-1", "handmade ceramic teapot glaze", {"home"}, {}}}).ok());
  RecommendRequest req;
  req.query = "ceramic teapot";
  req.k = 1;
  EXPECT_THAT(Ids(req), ::testing::ElementsAre("new-1"));

  ASSERT_TRUE(engine_->Feedback("a", {Ev("cook-3", EventType::kView), Ev("hike-3", EventType::kView)}).ok());
  ASSERT_TRUE(engine_->Feedback("b", {Ev("cook-3", EventType::kClick)}).ok());
  RecommendRequest popular;
  popular.k = 3;
  popular.explain = true;
  auto recs = engine_->Recommend(popular);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 3u);
  EXPECT_EQ((*recs)[0].item_id, "cook-3");
  EXPECT_EQ((*recs)[1].item_id, "hike-3");
  EXPECT_EQ((*recs)[0].reason, Reason::kPopular);
  EXPECT_EQ((*recs)[0].explanation, "popular now");
  // An unknown user is a cold user: popular items too.
  popular.user_id = "nobody";
  EXPECT_EQ(Ids(popular)[0], "cook-3");
}

TEST_F(EngineTest, FiltersApply) {
  RecommendRequest req;
  req.query = "space galaxy starship";
  req.k = 10;
  req.filter.include_categories = {"movies"};
  auto ids = Ids(req);
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre("scifi-3", "scifi-4"));
  req.filter = ItemFilter{};
  req.filter.exclude_categories = {"scifi"};
  req.filter.exclude_item_ids = {"cook-1"};
  ids = Ids(req);
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_THAT(ids, Not(Contains("cook-1")));
  for (const auto& id : ids) EXPECT_EQ(id.find("scifi"), std::string::npos);
}

TEST_F(EngineTest, DiversityReducesNearDuplicates) {
  std::vector<Item> shoes;
  for (int i = 0; i < 5; ++i) {
    shoes.push_back({"dup-" + std::to_string(i), "red running shoes size " + std::to_string(40 + i), {"shoes"}, {}});
  }
  shoes.push_back({"trail", "trail running shoes for mud", {"shoes"}, {}});
  shoes.push_back({"sandal", "running sandals summer", {"shoes"}, {}});
  ASSERT_TRUE(engine_->UpsertItems(shoes).ok());
  RecommendRequest req;
  req.query = "red running shoes";
  req.k = 3;
  req.filter.include_categories = {"shoes"};
  auto count_dups = [](const std::vector<std::string>& ids) {
    return std::count_if(ids.begin(), ids.end(), [](const std::string& id) { return id.rfind("dup-", 0) == 0; });
  };
  EXPECT_EQ(count_dups(Ids(req)), 3);
  req.diversity = 0.8f;
  EXPECT_LE(count_dups(Ids(req)), 1);
}

TEST_F(EngineTest, ExplanationsNameTheRightSource) {
  ASSERT_TRUE(engine_->Feedback("u3", {Ev("scifi-1", EventType::kLike), Ev("cook-1", EventType::kLike)}).ok());
  RecommendRequest req;
  req.user_id = "u3";
  req.k = 8;
  req.explain = true;
  auto recs = engine_->Recommend(req);
  ASSERT_TRUE(recs.ok());
  for (const auto& r : *recs) {
    if (r.item_id == "scifi-2") {
      EXPECT_EQ(r.reason, Reason::kUserInterest);
      EXPECT_EQ(r.source_item_id, "scifi-1");
      EXPECT_EQ(r.explanation, "because you liked 'Starfleet Dawn'");
    }
    if (r.item_id == "cook-2") EXPECT_EQ(r.source_item_id, "cook-1");
  }
  RecommendRequest q;
  q.query = "mountain tent camping hiking";
  q.context_item_ids = {"cook-1"};
  q.k = 1;
  q.explain = true;
  recs = engine_->Recommend(q);
  ASSERT_TRUE(recs.ok());
  EXPECT_EQ((*recs)[0].item_id, "hike-3");
  EXPECT_EQ((*recs)[0].explanation, "matches your search 'mountain tent camping hiking'");
}

// A user with two tastes gets both in the top of the list, not only the dominant one.
TEST_F(EngineTest, MultiInterestUserGetsEveryTaste) {
  ASSERT_TRUE(engine_->Feedback("multi", {Ev("scifi-1", EventType::kLike), Ev("scifi-2", EventType::kLike),
                                          Ev("scifi-3", EventType::kLike), Ev("hike-1", EventType::kLike)})
                  .ok());
  RecommendRequest req;
  req.user_id = "multi";
  req.k = 3;
  req.strategy = Strategy::kContent;
  auto ids = Ids(req);
  EXPECT_THAT(ids, Contains("scifi-4"));
  EXPECT_THAT(ids, Contains(::testing::StartsWith("hike-")));
}

// "People who liked X also liked Y", learned online: three users watch cook-3 then hike-2 in
// one session; a fourth who just watched cook-3 gets hike-2 from COLLABORATIVE and HYBRID,
// although the two texts share no word.
TEST_F(EngineTest, CollaborativeSignalIsLearnedOnlineAndExplained) {
  for (const char* user : {"c1", "c2", "c3"}) {
    ASSERT_TRUE(engine_->Feedback(user, {Ev("cook-3", EventType::kPurchase, kDayUs),
                                         Ev("hike-2", EventType::kPurchase, kDayUs + 60'000'000)})
                    .ok());
  }
  ASSERT_TRUE(engine_->Feedback("c4", {Ev("cook-3", EventType::kLike, 2 * kDayUs)}).ok());
  RecommendRequest req;
  req.user_id = "c4";
  req.k = 1;
  req.explain = true;
  req.strategy = Strategy::kCollaborative;
  auto recs = engine_->Recommend(req);
  ASSERT_TRUE(recs.ok()) << recs.status();
  ASSERT_EQ(recs->size(), 1u);
  EXPECT_EQ((*recs)[0].item_id, "hike-2");
  EXPECT_EQ((*recs)[0].reason, Reason::kCollaborative);
  EXPECT_EQ((*recs)[0].source_item_id, "cook-3");
  EXPECT_EQ((*recs)[0].explanation,
            "people who liked 'french onion soup recipe with cheese' also liked this");
  req.strategy = Strategy::kHybrid;
  EXPECT_THAT(Ids(req), ::testing::ElementsAre("hike-2"));
  // CONTENT ignores co-occurrence: the soup's lexical neighbours come first.
  req.strategy = Strategy::kContent;
  EXPECT_THAT(Ids(req), ::testing::ElementsAre(::testing::StartsWith("cook-")));
  // POPULAR: hike-2 and cook-3 have the most interactions; cook-3 is seen.
  req.strategy = Strategy::kPopular;
  EXPECT_THAT(Ids(req), ::testing::ElementsAre("hike-2"));
}

TEST_F(EngineTest, NoveltyPrefersTheLongTail) {
  // Make scifi-2 far more popular than scifi-3; both are close to the query.
  for (int u = 0; u < 20; ++u) {
    ASSERT_TRUE(engine_->Feedback("fan" + std::to_string(u), {Ev("scifi-2", EventType::kClick)}).ok());
  }
  RecommendRequest req;
  req.query = "starship galaxy space";
  req.k = 1;
  req.filter.exclude_item_ids = {"scifi-1"};
  const std::string plain = Ids(req)[0];
  req.novelty = 1.0f;
  const std::string novel = Ids(req)[0];
  EXPECT_EQ(plain, "scifi-2");
  EXPECT_NE(novel, "scifi-2");
}

TEST_F(EngineTest, FeedbackReportsUnknownItemsAndDuplicatesPerEvent) {
  auto r = engine_->Feedback("u4", {Ev("cook-1", EventType::kClick, kDayUs, "e1"),
                                    Ev("missing", EventType::kClick), Ev("cook-2", EventType::kLike)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].outcome, EventOutcome::kApplied);
  EXPECT_EQ((*r)[1].outcome, EventOutcome::kItemNotFound);
  EXPECT_THAT((*r)[1].message, HasSubstr("missing"));
  EXPECT_EQ((*r)[2].outcome, EventOutcome::kApplied);
  auto again = engine_->Feedback("u4", {Ev("cook-1", EventType::kClick, kDayUs, "e1")});
  EXPECT_EQ((*again)[0].outcome, EventOutcome::kDuplicate);
  EXPECT_EQ(engine_->Stats().events_applied, 2);
  auto user = engine_->GetUser("u4", 3);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->profile->event_count, 2);
  EXPECT_EQ(user->nearest_items.size(), 3u);

  Event search;
  search.type = EventType::kSearch;
  search.text = "hiking boots";
  search.timestamp_us = 2 * kDayUs;
  const int calls = encoder_->calls();
  ASSERT_TRUE(engine_->Feedback("u5", {search}).ok());
  EXPECT_EQ(encoder_->calls(), calls + 1);
  RecommendRequest req;
  req.user_id = "u5";
  req.k = 1;
  EXPECT_THAT(Ids(req), ::testing::ElementsAre("hike-1"));
}

TEST_F(EngineTest, BadInputIsInvalidArgumentWithAClearMessage) {
  RecommendRequest req;
  req.k = 0;
  EXPECT_EQ(engine_->Recommend(req).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(engine_->Recommend(req).status().message(), HasSubstr("k must be between 1 and 1000"));
  req.k = 1001;
  EXPECT_EQ(engine_->Recommend(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.k = 5;
  req.diversity = 1.5f;
  EXPECT_THAT(engine_->Recommend(req).status().message(), HasSubstr("diversity"));

  EXPECT_THAT(engine_->Feedback("", {Ev("cook-1", EventType::kLike)}).status().message(),
              HasSubstr("user_id is empty"));
  EXPECT_EQ(engine_->Feedback("u", {}).status().code(), absl::StatusCode::kInvalidArgument);
  auto s = engine_->Feedback("u", {Ev("cook-1", EventType::kLike), Ev("", EventType::kClick)}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("events[1] (CLICK): item_id is empty"));
  EXPECT_EQ(engine_->GetUser("u", 5).status().code(), absl::StatusCode::kNotFound);  // nothing applied
  Event rating = Ev("cook-1", EventType::kRating);
  rating.value = 7;
  EXPECT_THAT(engine_->Feedback("u", {rating}).status().message(), HasSubstr("rating between 0 and 5"));

  EXPECT_EQ(engine_->SimilarItems({"nope", 5, {}, false}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->UpsertItems({{"x", "", {}, {}}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(engine_->UpsertItems({{"x", "a", {}, {}}, {"x", "b", {}, {}}}).status().message(),
              HasSubstr("appears twice"));
  EXPECT_EQ(engine_->GetItem("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, AnExpiredDeadlineStopsWorkAndAppliesNothing) {
  {
    ScopedDeadline expired(absl::Now() - absl::Milliseconds(1));
    RecommendRequest req;
    req.context_item_ids = {"scifi-1"};
    auto recs = engine_->Recommend(req);
    EXPECT_EQ(recs.status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_THAT(recs.status().message(), HasSubstr("before ann"));
    auto similar = engine_->SimilarItems({"scifi-1", 3, {}, false});
    EXPECT_EQ(similar.status().code(), absl::StatusCode::kDeadlineExceeded);
    auto fed = engine_->Feedback("late-user", {Ev("scifi-1", EventType::kLike)});
    EXPECT_EQ(fed.status().code(), absl::StatusCode::kDeadlineExceeded);
    auto up = engine_->UpsertItems({{"late-item", "arrives too late", {}, {}}});
    EXPECT_EQ(up.status().code(), absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_TRUE(absl::IsNotFound(engine_->GetUser("late-user", 0).status()));
  EXPECT_TRUE(absl::IsNotFound(engine_->GetItem("late-item").status()));
  {
    ScopedDeadline cancelled(absl::InfiniteFuture(), [] { return true; });
    EXPECT_EQ(engine_->SimilarItems({"scifi-1", 3, {}, false}).status().code(),
              absl::StatusCode::kCancelled);
  }
  EXPECT_TRUE(engine_->SimilarItems({"scifi-1", 3, {}, false}).ok());
}

TEST_F(EngineTest, UpsertReEmbedsOnlyChangedTextAndDeleteForgets) {
  const int calls = encoder_->calls();
  auto r = engine_->UpsertItems({{"cook-1", "italian pasta tomato basil sauce recipe", {"recipes"}, {}},
                                 {"cook-2", "completely different text now", {"recipes"}, {}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unchanged, 1);
  EXPECT_EQ(r->updated, 1);
  EXPECT_EQ(encoder_->calls(), calls + 1);
  EXPECT_THAT(engine_->GetItem("cook-1")->item->categories, ::testing::ElementsAre("recipes"));

  auto sim = engine_->SimilarItems({"hike-1", 2, {}, true});
  ASSERT_TRUE(sim.ok());
  EXPECT_THAT((*sim)[0].item_id, ::testing::StartsWith("hike-"));
  EXPECT_NE((*sim)[0].item_id, "hike-1");

  auto d = engine_->DeleteItems({"hike-2", "nope"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->deleted, 1);
  EXPECT_THAT(d->not_found, ::testing::ElementsAre("nope"));
  RecommendRequest req;
  req.query = "hiking backpack";
  req.k = 10;
  EXPECT_THAT(Ids(req), Not(Contains("hike-2")));
  EXPECT_EQ(engine_->Stats().items, 9u);
  auto nobody = engine_->DeleteUser("nobody");
  ASSERT_TRUE(nobody.ok());
  EXPECT_FALSE(nobody->deleted);
}

}  // namespace
}  // namespace semrec

namespace semrec {
namespace {

TEST(EngineStageMetricsTest, EveryStageIsTimed) {
  HnswIndex::Options io;
  io.dimension = 32;
  auto engine = Engine::Create(EngineOptions{}, std::make_unique<FakeEncoder>(32),
                               std::move(HnswIndex::Create(io)).value(),
                               std::make_unique<InMemoryUserStore>(UserModelOptions{}));
  ASSERT_TRUE(engine.ok());
  metrics::Registry registry;
  (*engine)->ExportStageMetrics(registry);
  ASSERT_TRUE((*engine)->UpsertItems({{"a", "red shoes", {}, {}}, {"b", "blue hat", {}, {}}}).ok());
  Event e;
  e.item_id = "a";
  e.type = EventType::kLike;
  ASSERT_TRUE((*engine)->Feedback("u", {e}).ok());
  RecommendRequest req;
  req.user_id = "u";
  req.query = "hat";
  req.k = 1;
  ASSERT_TRUE((*engine)->Recommend(req).ok());
  const std::string text = registry.Serialize();
  for (const char* line : {"semrec_stage_duration_seconds_count{stage=\"encode\"} 2",
                           "semrec_stage_duration_seconds_count{stage=\"index_write\"} 1",
                           "semrec_stage_duration_seconds_count{stage=\"store\"} 2",
                           "semrec_stage_duration_seconds_count{stage=\"rank\"} 1"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_NE(text.find("semrec_stage_duration_seconds_count{stage=\"ann\"}"), std::string::npos);
}

}  // namespace
}  // namespace semrec

namespace semrec {
namespace {

TEST_F(EngineTest, PrecomputedEmbeddingsSkipTheEncoderAndAreValidated) {
  std::vector<float> e(kDim, 0.0f);
  e[3] = 2.0f;  // normalized by the engine
  std::vector<Item> items = {{"pre-1", "any text at all", {}, {}}, {"pre-2", "other text", {}, {}}};
  const int calls_before = encoder_->calls();
  auto up = engine_->UpsertItems(items, {e, e});
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->created, 2);
  EXPECT_EQ(encoder_->calls(), calls_before) << "the texts were embedded anyway";
  auto similar = engine_->SimilarItems({.item_id = "pre-1", .k = 1});
  ASSERT_TRUE(similar.ok()) << similar.status();
  ASSERT_EQ(similar->size(), 1u);
  EXPECT_EQ((*similar)[0].item_id, "pre-2");
  EXPECT_NEAR((*similar)[0].score, 1.0f, 1e-5);
  auto again = engine_->UpsertItems(items, {e, e});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->unchanged, 2);

  EXPECT_EQ(engine_->UpsertItems(items, {e}).status().code(), absl::StatusCode::kInvalidArgument);
  auto short_vector = engine_->UpsertItems(items, {std::vector<float>(3, 1.0f), {}});
  EXPECT_EQ(short_vector.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(short_vector.status().message()), ::testing::HasSubstr("dimension"));
  auto zero = engine_->UpsertItems(items, {std::vector<float>(kDim, 0.0f), {}});
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
}

// New items of one write go into the index together on several insert threads; a changed vector
// of an existing item in the same write is applied on its own. Every item must end up findable
// with its latest vector, in the catalog, and counted once.
TEST(EngineUpsertTest, NewItemsInsertTogetherOnSeveralThreadsBesideUpdates) {
  HnswIndex::Options io;
  io.dimension = kDim;
  io.insert_threads = 2;
  auto index = HnswIndex::Create(io);
  ASSERT_TRUE(index.ok());
  EngineOptions options;
  auto created = Engine::Create(options, std::make_unique<FakeEncoder>(kDim), std::move(index).value(),
                                std::make_unique<InMemoryUserStore>(options.user));
  ASSERT_TRUE(created.ok()) << created.status();
  Engine& engine = **created;
  auto unit = [](int axis) {
    std::vector<float> v(kDim, 0.01f);
    v[axis % kDim] = 1.0f;
    return v;
  };
  constexpr int kItems = 240;
  for (int first = 0; first < kItems; first += 60) {
    std::vector<Item> items;
    std::vector<std::vector<float>> vectors;
    for (int i = first; i < first + 60; ++i) {
      items.push_back({"n" + std::to_string(i), "text " + std::to_string(i), {}, {}});
      vectors.push_back(unit(i));
    }
    if (first > 0) {  // an existing item moves to a new axis in the same write
      items.push_back({"n0", "text 0 moved", {}, {}});
      vectors.push_back(unit(first + 1));
    }
    auto up = engine.UpsertItems(items, vectors);
    ASSERT_TRUE(up.ok()) << up.status();
    EXPECT_EQ(up->created, 60);
    EXPECT_EQ(up->updated, first > 0 ? 1 : 0);
  }
  EXPECT_EQ(engine.Stats().items, static_cast<size_t>(kItems));
  for (int i = 1; i < kItems; ++i) {
    const std::string id = "n" + std::to_string(i);
    ASSERT_TRUE(engine.GetItem(id).ok()) << id;
  }
  // n0 last moved to the axis of n181: they are each other's nearest item now.
  auto similar = engine.SimilarItems({.item_id = "n0", .k = 1});
  ASSERT_TRUE(similar.ok()) << similar.status();
  ASSERT_EQ(similar->size(), 1u);
  EXPECT_EQ((*similar)[0].item_id, "n181");
  EXPECT_EQ(engine.GetItem("n0")->item->text, "text 0 moved");
}

}  // namespace
}  // namespace semrec
