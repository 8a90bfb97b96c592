// Engine under concurrent callers: several threads run every write and read use case at once
// against one Engine, assembled as the server assembles it (a fake encoder behind the batching
// and caching layers, HnswIndex, InMemoryUserStore), and the outcomes are checked: no feedback is
// lost or applied twice, an item is never served once its delete has returned, every caller gets
// its own embedding. .ci/sanitizers.sh also runs these under ThreadSanitizer.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/encoder/batching_encoder.h"
#include "core/encoder/caching_encoder.h"
#include "core/encoder/testing/fake_encoder.h"
#include "core/engine/engine.h"
#include "core/index/hnsw_index.h"
#include "core/user/in_memory_user_store.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

constexpr int kDim = 32;
constexpr int kStableItems = 40;
const char* const kWords[] = {"space", "opera",    "galaxy", "pasta", "tomato", "hiking",
                              "boots", "mountain", "jazz",   "piano", "robot",  "garden"};
const char* const kCategories[] = {"books", "movies", "recipes", "gear"};

std::string StableId(int i) { return "stable-" + std::to_string(i); }
std::string TempId(int i) { return "tmp-" + std::to_string(i); }

// A text of three catalog words, so that queries, items and users overlap.
std::string Text(int i) {
  return std::string(kWords[i % 12]) + " " + kWords[(i / 12 + 3) % 12] + " " +
         kWords[(i * 7 + 5) % 12] + " item " + std::to_string(i);
}

Item MakeItem(std::string id, int i) {
  return Item{
      std::move(id), Text(i), {kCategories[i % 4]}, {{"title", "Item " + std::to_string(i)}}};
}

Event Ev(std::string item, EventType type, std::string event_id = "", std::string text = "") {
  Event e;
  e.item_id = std::move(item);
  e.type = type;
  e.value = type == EventType::kRating ? 4.0f : 0.0f;
  e.timestamp_us = 1'700'000'000'000'000;  // a fixed event time: results do not depend on timing
  e.event_id = std::move(event_id);
  e.text = std::move(text);
  return e;
}

// The first problem seen by any thread, reported once from the test thread (gtest assertions
// from many threads at once would flood the log on a systematic failure).
class Problems {
 public:
  void Add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (count_++ == 0) first_ = what;
  }
  void ExpectNone() const {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(count_, 0) << "first of " << count_ << " problems: " << first_;
  }

 private:
  mutable std::mutex mu_;
  int count_ = 0;
  std::string first_;
};

class EngineConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = std::make_unique<FakeEncoder>(kDim);
    BatchingEncoder::Options batching;
    batching.workers = 2;
    batching.max_batch_size = 8;
    auto batcher = BatchingEncoder::Create(batching, std::move(fake));
    ASSERT_TRUE(batcher.ok()) << batcher.status();
    CachingEncoder::Options caching;
    caching.capacity_bytes = 8 << 10;  // a few dozen entries: evictions happen under load
    auto encoder = std::make_unique<CachingEncoder>(caching, std::move(batcher).value());
    encoder_ = encoder.get();

    HnswIndex::Options io;
    io.dimension = kDim;
    io.initial_capacity = 16;  // grows while searches run
    io.ef_construction = 32;
    auto index = HnswIndex::Create(io);
    ASSERT_TRUE(index.ok()) << index.status();
    EngineOptions options;
    auto engine = Engine::Create(options, std::move(encoder), std::move(index).value(),
                                 std::make_unique<InMemoryUserStore>(options.user));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(engine).value();

    std::vector<Item> items;
    for (int i = 0; i < kStableItems; ++i) items.push_back(MakeItem(StableId(i), i));
    auto up = engine_->UpsertItems(std::move(items));
    ASSERT_TRUE(up.ok()) << up.status();
  }

  // Runs `fn(t)` on `n` threads, released together, and joins them.
  template <typename Fn>
  static void RunThreads(int n, Fn fn) {
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([&, t] {
        ++ready;
        while (ready.load() < n) std::this_thread::yield();
        fn(t);
      });
    }
    for (auto& th : threads) th.join();
  }

  CachingEncoder* encoder_ = nullptr;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineConcurrencyTest, FeedbackFromManyThreadsIsNeitherLostNorAppliedTwice) {
  constexpr int kWriters = 6;
  constexpr int kRequests = 60;
  const EventType kTypes[] = {EventType::kView,     EventType::kClick,    EventType::kLike,
                              EventType::kRating,   EventType::kDislike,  EventType::kSkip,
                              EventType::kPurchase, EventType::kAddToCart};
  // Events each user should end up with, and the outcomes the writers saw.
  std::mutex sent_mu;
  std::map<std::string, int64_t> unique_events_per_user;
  std::atomic<int64_t> applied{0}, duplicates{0}, not_found{0};
  std::map<int, std::atomic<int>> race_applied;  // event "race-<r>", sent by every writer
  for (int r = 0; r < kRequests; r += 7) race_applied[r] = 0;
  std::atomic<bool> writers_done{false};
  Problems problems;

  auto count = [&](const absl::StatusOr<std::vector<EventResult>>& results, int* applied_here) {
    if (!results.ok()) {
      problems.Add("Feedback failed: " + results.status().ToString());
      return;
    }
    for (const EventResult& r : *results) {
      switch (r.outcome) {
        case EventOutcome::kApplied:
          ++applied;
          ++*applied_here;
          break;
        case EventOutcome::kDuplicate:
          ++duplicates;
          break;
        case EventOutcome::kItemNotFound:
          ++not_found;
          break;
      }
    }
  };

  std::thread readers[2];
  for (int i = 0; i < 2; ++i) {
    readers[i] = std::thread([&, i] {
      for (int n = 0; !writers_done.load(); ++n) {
        const std::string user = "shared-" + std::to_string((n + i) % 2);
        RecommendRequest req;
        req.user_id = user;
        req.k = 5;
        req.explain = n % 2 == 0;
        if (!engine_->Recommend(req).ok()) problems.Add("Recommend failed for " + user);
        auto summary = engine_->GetUser(user, 3);
        if (!summary.ok() && !absl::IsNotFound(summary.status())) {
          problems.Add("GetUser failed: " + summary.status().ToString());
        }
        if (!engine_->SimilarItems({StableId(n % kStableItems), 4}).ok()) {
          problems.Add("SimilarItems failed");
        }
      }
    });
  }

  RunThreads(kWriters, [&](int t) {
    for (int r = 0; r < kRequests; ++r) {
      // A third of the requests to each of two users every writer shares, a third to its own.
      const std::string user =
          r % 3 == 2 ? "own-" + std::to_string(t) : "shared-" + std::to_string(r % 3);
      std::vector<Event> events;
      const int n = 1 + (r + t) % 3;
      for (int j = 0; j < n; ++j) {
        const int item = (t * 31 + r * 7 + j * 3) % kStableItems;
        const std::string id =
            "w" + std::to_string(t) + "-" + std::to_string(r) + "-" + std::to_string(j);
        events.push_back(Ev(StableId(item), kTypes[(r + j) % 8], id));
      }
      if (r % 4 == 0) {  // a search: embedded through the batching and caching layers
        events.push_back(Ev("", EventType::kSearch,
                            "w" + std::to_string(t) + "-" + std::to_string(r) + "-s",
                            std::string(kWords[r % 12]) + " " + kWords[t % 12]));
      }
      int applied_here = 0;
      count(engine_->Feedback(user, events), &applied_here);
      if (applied_here != static_cast<int>(events.size())) {
        problems.Add("a first delivery was not applied whole for " + user);
      }
      {
        std::lock_guard<std::mutex> lock(sent_mu);
        unique_events_per_user[user] += static_cast<int64_t>(events.size());
      }
      if (r % 5 == 0) {  // a client retry of the same request: nothing is applied twice
        int again = 0;
        count(engine_->Feedback(user, events), &again);
        if (again != 0) problems.Add("a retried event was applied again for " + user);
      }
      if (r % 7 == 0) {  // every writer delivers the same event at about the same time
        int raced = 0;
        count(engine_->Feedback("shared-0", {Ev(StableId(r % kStableItems), EventType::kLike,
                                                "race-" + std::to_string(r))}),
              &raced);
        race_applied.at(r) += raced;
      }
    }
  });
  writers_done = true;
  for (auto& reader : readers) reader.join();
  problems.ExpectNone();

  int64_t races = 0;
  for (auto& [r, n] : race_applied) {
    EXPECT_EQ(n.load(), 1) << "race-" << r << " applied " << n.load() << " times";
    ++races;
  }
  unique_events_per_user["shared-0"] += races;

  int64_t total = 0;
  for (const auto& [user, sent] : unique_events_per_user) {
    auto summary = engine_->GetUser(user, 0);
    ASSERT_TRUE(summary.ok()) << user << ": " << summary.status();
    EXPECT_EQ(summary->profile->event_count, sent) << user;
    total += sent;
  }
  EXPECT_EQ(applied.load(), total);
  EXPECT_EQ(not_found.load(), 0);
  // Retries (every fifth request) and the losing deliveries of each raced event.
  int64_t retried = 0;
  for (int t = 0; t < kWriters; ++t) {
    for (int r = 0; r < kRequests; r += 5) retried += 1 + (r + t) % 3 + (r % 4 == 0 ? 1 : 0);
  }
  EXPECT_EQ(duplicates.load(), retried + races * (kWriters - 1));
  EXPECT_EQ(engine_->Stats().events_applied, total);
  EXPECT_EQ(engine_->Stats().users, unique_events_per_user.size());
}

// Also guards Engine::PopularItems walking the catalog's id listing while writes replace it (a
// use-after-free ASan caught here once).
TEST_F(EngineConcurrencyTest, DeletedItemsAreNeverServedOnceTheirDeleteReturned) {
  constexpr int kTempItems = 200;
  constexpr int kLag = 6;  // items live while the next kLag are upserted
  // Every tmp-<i> with i < deleted_below has been deleted (its DeleteItems call returned).
  std::atomic<int> deleted_below{0};
  std::atomic<int> upserted_below{0};
  std::atomic<bool> writers_done{false};
  std::atomic<int> live_tmp_served{0};
  Problems problems;

  // Checks an answer given to a request that started when `floor` items were deleted.
  auto check = [&](const absl::StatusOr<std::vector<Recommendation>>& recs, int floor,
                   const char* what) {
    if (!recs.ok()) {
      problems.Add(std::string(what) + " failed: " + recs.status().ToString());
      return;
    }
    std::set<std::string> ids;
    for (const Recommendation& r : *recs) {
      if (!ids.insert(r.item_id).second) problems.Add(std::string(what) + " repeated " + r.item_id);
      if (r.item == nullptr || r.item->id != r.item_id) {
        problems.Add(std::string(what) + " returned no item for " + r.item_id);
      }
      if (r.item_id.rfind("tmp-", 0) != 0) continue;
      if (std::stoi(r.item_id.substr(4)) < floor) {
        problems.Add(std::string(what) + " returned " + r.item_id + " after its delete returned");
      } else {
        ++live_tmp_served;
      }
    }
  };

  std::thread writer([&] {
    for (int i = 0; i < kTempItems + kLag; ++i) {
      if (i < kTempItems) {
        auto up = engine_->UpsertItems({MakeItem(TempId(i), i)});
        if (!up.ok() || up->created != 1) problems.Add("upsert of " + TempId(i) + " failed");
        upserted_below = i + 1;
      }
      if (i >= kLag) {
        const int gone = i - kLag;
        auto del = engine_->DeleteItems({TempId(gone)});
        if (!del.ok() || del->deleted != 1) problems.Add("delete of " + TempId(gone) + " failed");
        deleted_below = gone + 1;
      }
    }
  });
  // Re-embeds stable items (text changes) while they are searched.
  std::thread updater([&] {
    for (int n = 0; !writers_done.load(); ++n) {
      const int i = n % kStableItems;
      Item item = MakeItem(StableId(i), i);
      item.text += " edition " + std::to_string(n);
      if (!engine_->UpsertItems({item}).ok()) problems.Add("update of " + StableId(i) + " failed");
    }
  });
  // Users who consume tmp items: they become popular and collaborative neighbours, the sources
  // a deleted item could come back from.
  std::thread feeder([&] {
    for (int n = 0; !writers_done.load(); ++n) {
      const int newest = upserted_below.load();
      if (newest == 0) continue;
      const std::string user = "fan-" + std::to_string(n % 4);
      auto results =
          engine_->Feedback(user, {Ev(TempId(newest - 1), EventType::kLike),
                                   Ev(TempId(std::max(0, newest - 3)), EventType::kPurchase),
                                   Ev(StableId(n % kStableItems), EventType::kClick)});
      if (!results.ok()) problems.Add("Feedback failed: " + results.status().ToString());
    }
  });
  auto reader = [&](int t) {
    const Strategy kStrategies[] = {Strategy::kHybrid, Strategy::kCollaborative, Strategy::kPopular,
                                    Strategy::kContent};
    for (int n = 0; !writers_done.load(); ++n) {
      const int floor = deleted_below.load();
      RecommendRequest req;
      req.user_id = "fan-" + std::to_string((n + t) % 4);
      req.k = 10;
      req.strategy = kStrategies[n % 4];
      req.explain = n % 3 == 0;
      req.diversity = n % 5 == 0 ? 0.5f : 0.0f;
      if (n % 2 == 1) req.query = std::string(kWords[n % 12]) + " item";
      if (n % 3 == 1) req.context_item_ids = {TempId(std::max(0, upserted_below.load() - 1))};
      check(engine_->Recommend(req), floor, "Recommend");
      const int live = std::max(floor, upserted_below.load() - 1);
      auto similar = engine_->SimilarItems({TempId(live), 8});
      if (similar.ok()) {
        check(similar, floor, "SimilarItems");
      } else if (!absl::IsNotFound(similar.status())) {
        problems.Add("SimilarItems failed: " + similar.status().ToString());
      }
      if (floor > 0 && !absl::IsNotFound(engine_->GetItem(TempId(floor - 1)).status())) {
        problems.Add("GetItem found " + TempId(floor - 1) + " after its delete returned");
      }
      auto user = engine_->GetUser(req.user_id, 5);
      if (user.ok()) {
        for (const Recommendation& r : user->nearest_items) {
          if (r.item_id.rfind("tmp-", 0) == 0 && std::stoi(r.item_id.substr(4)) < floor) {
            problems.Add("GetUser's nearest items hold deleted " + r.item_id);
          }
        }
      }
    }
  };
  std::thread readers[3] = {std::thread(reader, 0), std::thread(reader, 1), std::thread(reader, 2)};
  writer.join();
  writers_done = true;
  updater.join();
  feeder.join();
  for (auto& r : readers) r.join();
  problems.ExpectNone();
  EXPECT_GT(live_tmp_served.load(), 0);  // the checks above had items to check

  // Quiescent: every tmp item is gone from the catalog, the index and every answer.
  EXPECT_EQ(engine_->Stats().items, static_cast<size_t>(kStableItems));
  for (int i = 0; i < kTempItems; ++i) {
    EXPECT_TRUE(absl::IsNotFound(engine_->GetItem(TempId(i)).status())) << TempId(i);
    EXPECT_TRUE(absl::IsNotFound(engine_->SimilarItems({TempId(i), 5}).status())) << TempId(i);
  }
  for (int u = 0; u < 4; ++u) {
    for (Strategy s : {Strategy::kHybrid, Strategy::kCollaborative, Strategy::kPopular}) {
      RecommendRequest req;
      req.user_id = "fan-" + std::to_string(u);
      req.k = 1000;
      req.strategy = s;
      req.filter.include_seen = true;
      auto recs = engine_->Recommend(req);
      ASSERT_TRUE(recs.ok()) << recs.status();
      EXPECT_EQ(recs->size(), static_cast<size_t>(kStableItems));
      check(recs, kTempItems, "final Recommend");
    }
  }
  problems.ExpectNone();
}

TEST_F(EngineConcurrencyTest, UsersDeletedWhileTheyAreWrittenAndRead) {
  constexpr int kUsers = 4;
  constexpr int kRequests = 80;
  std::atomic<bool> writers_done{false};
  Problems problems;
  std::thread deleter([&] {
    for (int n = 0; !writers_done.load(); ++n) {
      if (!engine_->DeleteUser("churn-" + std::to_string(n % kUsers)).ok()) {
        problems.Add("DeleteUser failed");
      }
    }
  });
  std::thread reader([&] {
    for (int n = 0; !writers_done.load(); ++n) {
      const std::string user = "churn-" + std::to_string(n % kUsers);
      auto summary = engine_->GetUser(user, 3);
      if (summary.ok()) {
        if (summary->profile->event_count < 1) problems.Add("a known user without events");
      } else if (!absl::IsNotFound(summary.status())) {
        problems.Add("GetUser failed: " + summary.status().ToString());
      }
      RecommendRequest req;
      req.user_id = user;
      req.k = 5;
      req.filter.include_seen = true;
      auto recs = engine_->Recommend(req);
      if (!recs.ok() || recs->size() != 5u) problems.Add("Recommend for a churning user failed");
    }
  });
  RunThreads(3, [&](int t) {
    for (int r = 0; r < kRequests; ++r) {
      const std::string user = "churn-" + std::to_string((r + t) % kUsers);
      auto results =
          engine_->Feedback(user, {Ev(StableId((r * 3 + t) % kStableItems), EventType::kLike),
                                   Ev(StableId((r * 5 + t) % kStableItems), EventType::kView)});
      if (!results.ok()) problems.Add("Feedback failed: " + results.status().ToString());
    }
  });
  writers_done = true;
  deleter.join();
  reader.join();
  problems.ExpectNone();

  // The user count follows the profiles exactly, whatever the interleaving was.
  int known = 0;
  for (int u = 0; u < kUsers; ++u) {
    known += engine_->GetUser("churn-" + std::to_string(u), 0).ok() ? 1 : 0;
  }
  EXPECT_EQ(engine_->Stats().users, static_cast<size_t>(known));
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "churn-" + std::to_string(u);
    ASSERT_TRUE(engine_->Feedback(user, {Ev(StableId(u), EventType::kLike, "last")}).ok());
    auto deleted = engine_->DeleteUser(user);
    ASSERT_TRUE(deleted.ok());
    EXPECT_TRUE(deleted->deleted) << user;
    EXPECT_TRUE(absl::IsNotFound(engine_->GetUser(user, 0).status())) << user;
  }
  EXPECT_EQ(engine_->Stats().users, 0u);
}

TEST_F(EngineConcurrencyTest, EveryCallerGetsItsOwnEmbeddingThroughBatchingAndCaching) {
  constexpr int kCallers = 8;
  constexpr int kCalls = 40;
  FakeEncoder reference(kDim);
  const EncoderStats before = encoder_->stats();
  std::atomic<int64_t> query_texts{0}, document_texts{0};
  Problems problems;
  RunThreads(kCallers, [&](int t) {
    for (int n = 0; n < kCalls; ++n) {
      // 30 distinct queries over 8 callers: hits, misses, concurrent misses of one text, and
      // evictions (the cache holds a few dozen entries).
      const std::string query = std::string(kWords[(n + t) % 12]) + " " + kWords[(n * 5 + t) % 12] +
                                " " + std::to_string((n + t) % 3);
      const TextKind kind = n % 4 == 3 ? TextKind::kDocument : TextKind::kQuery;
      std::vector<std::string> texts = {query};
      if (kind == TextKind::kDocument) texts.push_back(Text(t * kCalls + n));
      auto embedded = engine_->Embed(texts, kind, /*return_tokens=*/n % 2 == 0);
      (kind == TextKind::kQuery ? query_texts : document_texts) +=
          static_cast<int64_t>(texts.size());
      if (!embedded.ok() || embedded->size() != texts.size()) {
        problems.Add("Embed failed");
        continue;
      }
      for (size_t i = 0; i < texts.size(); ++i) {
        if ((*embedded)[i].values != reference.Embed(texts[i])) {
          problems.Add("caller " + std::to_string(t) + " got another text's vector for '" +
                       texts[i] + "'");
        }
      }
      if (n % 5 == 0) {  // a typed query goes through the same layers
        RecommendRequest req;
        req.query = query;
        req.k = 3;
        req.strategy = Strategy::kContent;
        auto recs = engine_->Recommend(req);
        ++query_texts;
        if (!recs.ok() || recs->size() != 3u) problems.Add("query Recommend failed");
      }
    }
  });
  problems.ExpectNone();
  const EncoderStats after = encoder_->stats();
  // Every query text was answered by the cache or by the model, once; documents bypass the cache.
  EXPECT_EQ((after.cache_hits - before.cache_hits) + (after.cache_misses - before.cache_misses),
            query_texts.load());
  EXPECT_EQ(after.batched_texts - before.batched_texts,
            (after.cache_misses - before.cache_misses) + document_texts.load());
  EXPECT_GT(after.cache_hits - before.cache_hits, 0);
  EXPECT_EQ(after.queued_texts, 0);
}

}  // namespace
}  // namespace semrec
