#include "core/user/in_memory_user_store.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <thread>
#include <tuple>

#include "core/user/profile_codec.h"
#include "core/user/testing/dump_profiles.h"
#include "core/user/testing/topic_vectors.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

ResolvedEvent Like(std::string item, std::string event_id = "") {
  ResolvedEvent r;
  r.event.item_id = std::move(item);
  r.event.type = EventType::kLike;
  r.event.event_id = std::move(event_id);
  r.vector = {1, 0};
  return r;
}

TEST(InMemoryUserStoreTest, AppliesDeduplicatesAndDeletes) {
  InMemoryUserStore store{UserModelOptions{}};
  EXPECT_EQ(*store.Get("u"), nullptr);
  std::vector<ResolvedEvent> batch = {Like("a", "e1"), Like("b", "e1"), Like("c")};
  auto applied = store.ApplyEvents("u", batch);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, (std::vector<bool>{true, false, true}));  // e1 repeated inside the batch
  auto again = store.ApplyEvents("u", std::vector<ResolvedEvent>{Like("a", "e1")});
  EXPECT_EQ(*again, (std::vector<bool>{false}));
  auto p = *store.Get("u");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->event_count, 2);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(*store.Delete("u"));
  EXPECT_FALSE(*store.Delete("u"));
  EXPECT_EQ(*store.Get("u"), nullptr);
  EXPECT_EQ(store.size(), 0u);
  // The snapshot taken before the delete is still readable.
  EXPECT_EQ(p->event_count, 2);
}

TEST(InMemoryUserStoreTest, ConcurrentWritersToOneUserLoseNothing) {
  InMemoryUserStore store{UserModelOptions{}};
  constexpr int kThreads = 4, kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::vector<ResolvedEvent> one = {Like("i" + std::to_string(t * kEach + i))};
        ASSERT_TRUE(store.ApplyEvents("shared", one).ok());
        ASSERT_TRUE(store.Get("shared").ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto p = *store.Get("shared");
  EXPECT_EQ(p->event_count, kThreads * kEach);
  EXPECT_EQ(p->seen.size(), static_cast<size_t>(kThreads * kEach));
}

std::vector<std::string> RecentItems(const std::vector<RecentEvent>& recent) {
  std::vector<std::string> items;
  for (const RecentEvent& e : recent) items.push_back(e.item_id);
  return items;
}

// The history the events follow, in the same update: as a Get just before would have seen it,
// for a new user, an fp32 user, a compact one, and when every event is a duplicate.
TEST(InMemoryUserStoreTest, ApplyEventsReportsTheRecentEventsBeforeThem) {
  for (size_t hot : {size_t{50000}, size_t{0}}) {
    SCOPED_TRACE(hot);
    InMemoryUserStoreOptions options;
    options.hot_profiles = hot;
    InMemoryUserStore store(UserModelOptions{}, options);
    std::vector<RecentEvent> before = {{"stale", EventType::kView, 0, 0}};
    ASSERT_TRUE(
        store.ApplyEvents("u", std::vector<ResolvedEvent>{Like("a", "e1")}, {}, &before).ok());
    EXPECT_TRUE(before.empty());  // a new user
    ASSERT_TRUE(store.ApplyEvents("u", std::vector<ResolvedEvent>{Like("b")}, {}, &before).ok());
    EXPECT_EQ(RecentItems(before), std::vector<std::string>{"a"});
    auto got = *store.Get("u");
    auto applied =
        store.ApplyEvents("u", std::vector<ResolvedEvent>{Like("c"), Like("d")}, {}, &before);
    ASSERT_TRUE(applied.ok());
    EXPECT_EQ(RecentItems(before), RecentItems(got->recent));
    EXPECT_EQ(RecentItems(before), (std::vector<std::string>{"b", "a"}));
    applied = store.ApplyEvents("u", std::vector<ResolvedEvent>{Like("a", "e1")}, {}, &before);
    ASSERT_TRUE(applied.ok());
    EXPECT_EQ(*applied, std::vector<bool>{false});
    EXPECT_EQ(RecentItems(before), (std::vector<std::string>{"d", "c", "b", "a"}));
    EXPECT_EQ(store.compact_size(), hot == 0 ? 1u : 0u);
  }
}

// Each writer sees exactly the events of the writers serialized before it: the sizes of the
// reported histories are 0, 1, ..., n - 1, each once.
TEST(InMemoryUserStoreTest, ConcurrentWritersEachSeeTheHistoryBeforeTheirOwnEvents) {
  InMemoryUserStoreOptions options;
  options.hot_profiles = 0;  // every write decodes and re-encodes
  InMemoryUserStore store(UserModelOptions{}, options);
  constexpr int kThreads = 4, kEach = 10;  // 40 events: within max_recent (50)
  std::vector<std::vector<size_t>> sizes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::vector<RecentEvent> before;
        std::vector<ResolvedEvent> one = {Like("i" + std::to_string(t * kEach + i))};
        ASSERT_TRUE(store.ApplyEvents("shared", one, {}, &before).ok());
        sizes[t].push_back(before.size());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<size_t> all;
  for (const auto& s : sizes) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i);
}

// --- Two tiers: fp32 hot profiles, compact cold ones ---------------------------------------

constexpr size_t kAllHot = std::numeric_limits<size_t>::max();

InMemoryUserStore StoreWithHot(size_t hot_profiles, UserModelOptions model = {}) {
  InMemoryUserStoreOptions options;
  options.hot_profiles = hot_profiles;
  return InMemoryUserStore(std::move(model), options);
}

std::string UserId(int u) { return "user-" + std::to_string(u); }

// Users enough that each of the store's 64 shards holds some, whatever the process's hash seed,
// so a hot tier of 64 (one a shard) fills exactly: with 400 users a shard was left empty in about
// one process in nine (64 x (63/64)^400 = 0.12), and one hot slot with it; with 2,000, 1e-12.
constexpr int kUsersForEveryShard = 2000;

ResolvedEvent Click(TopicVectors& topics, int topic, int64_t t, std::string item) {
  ResolvedEvent r;
  r.event.item_id = std::move(item);
  r.event.type = EventType::kClick;
  r.event.timestamp_us = t;
  r.vector = topics.Next(topic);
  return r;
}

// Applies the same events to `stores`, one event per call, round after round over the users: with
// more users than hot profiles, every write after a user's first finds it compact.
void WriteRounds(std::vector<InMemoryUserStore*> stores, int users, int rounds, uint32_t seed,
                 int64_t spacing_us = 3600'000'000) {
  TopicVectors topics(30, seed);
  std::mt19937 rng(seed);
  std::vector<int> taste(users * 3);
  for (int& t : taste) t = static_cast<int>(rng() % topics.topics());
  for (int r = 0; r < rounds; ++r) {
    for (int u = 0; u < users; ++u) {
      // A user's events come from its three tastes in turn, an hour apart.
      const std::vector<ResolvedEvent> one = {
          Click(topics, taste[u * 3 + r % 3], r * spacing_us, "i" + std::to_string(r))};
      for (InMemoryUserStore* store : stores) ASSERT_TRUE(store->ApplyEvents(UserId(u), one).ok());
    }
  }
}

// The worst cosine between the two stores' interest directions; the history must match exactly.
double WorstDirectionCosine(const UserStore& want, const UserStore& got, int users) {
  double worst = 1;
  for (int u = 0; u < users; ++u) {
    auto a = *want.Get(UserId(u));
    auto b = *got.Get(UserId(u));
    EXPECT_TRUE(a && b);
    if (!a || !b) return 0;
    EXPECT_EQ(a->event_count, b->event_count);
    EXPECT_EQ(a->seen, b->seen);
    EXPECT_EQ(a->recent.size(), b->recent.size());
    EXPECT_EQ(a->positive_mass, b->positive_mass);
    worst = std::min(worst, Cosine(a->InterestDirection(), b->InterestDirection()));
  }
  return worst;
}

TEST(InMemoryUserStoreTiersTest, KeepsAtMostTheHotCapInFp32) {
  for (size_t cap : {size_t{0}, size_t{64}, size_t{100}}) {
    SCOPED_TRACE(cap);
    InMemoryUserStore store = StoreWithHot(cap);
    TopicVectors topics(3);
    constexpr int kUsers = 1000;
    for (int u = 0; u < kUsers; ++u) {
      ASSERT_TRUE(store.ApplyEvents(UserId(u), {Click(topics, u % 3, 0, "i")}).ok());
      ASSERT_LE(store.size() - store.compact_size(), cap);
    }
    EXPECT_EQ(store.size(), static_cast<size_t>(kUsers));
    // 1000 users over 64 shards fill every shard's share.
    EXPECT_EQ(store.size() - store.compact_size(), cap);
    for (int u = 0; u < kUsers; ++u) {
      auto p = *store.Get(UserId(u));
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(p->event_count, 1);
      EXPECT_TRUE(p->seen.contains("i"));
    }
  }
}

TEST(InMemoryUserStoreTiersTest, EventsOnCompactUsersApplyAsOnFp32Ones) {
  InMemoryUserStore fp32 = StoreWithHot(kAllHot);
  InMemoryUserStore some_hot = StoreWithHot(64);
  InMemoryUserStore all_compact = StoreWithHot(0);
  constexpr int kUsers = 300;
  WriteRounds({&fp32, &some_hot, &all_compact}, kUsers, /*rounds=*/5, /*seed=*/11);
  EXPECT_EQ(fp32.compact_size(), 0u);
  EXPECT_EQ(all_compact.compact_size(), static_cast<size_t>(kUsers));
  EXPECT_GE(WorstDirectionCosine(fp32, some_hot, kUsers), 0.999);
  EXPECT_GE(WorstDirectionCosine(fp32, all_compact, kUsers), 0.999);
}

// A write to a compact user decodes it, and pushing it out again re-encodes the vector the
// event moved, with fresh rounding error. Here every write after a user's first finds it compact
// (three users per shard, one hot profile each). A returning user, one visit a day: the errors
// of old encodings decay with the interest (30-day half-life), so 300 visits stay as close to
// fp32 as 30 do. Back-to-back writes, an hour apart, have no time to decay: the error grows
// like the square root of the encodings (0.9992 after 100, 0.998 after 300), which is what the
// hot tier is for: a user's writes within a session add up in fp32.
TEST(InMemoryUserStoreTiersTest, RepeatedHotColdCyclesDoNotDrift) {
  constexpr int kUsers = 192;
  constexpr int64_t kHourUs = 3600'000'000;
  for (auto [rounds, spacing_us, bound] :
       {std::tuple{300, 24 * kHourUs, 0.999}, std::tuple{100, kHourUs, 0.999}}) {
    InMemoryUserStore fp32 = StoreWithHot(kAllHot);
    InMemoryUserStore cycling = StoreWithHot(64);
    WriteRounds({&fp32, &cycling}, kUsers, rounds, /*seed=*/5, spacing_us);
    EXPECT_GE(cycling.compact_size(), static_cast<size_t>(kUsers - 64));
    const double worst = WorstDirectionCosine(fp32, cycling, kUsers);
    std::printf("%d writes %lld h apart, each re-encoding: worst direction cosine %.6f\n", rounds,
                static_cast<long long>(spacing_us / kHourUs), worst);
    EXPECT_GE(worst, bound);
  }
}

TEST(InMemoryUserStoreTiersTest, DeletesHotAndCompactUsers) {
  InMemoryUserStore store = StoreWithHot(64);
  TopicVectors topics(3);
  constexpr int kUsers = 500;
  for (int u = 0; u < kUsers; ++u) {
    ASSERT_TRUE(store.ApplyEvents(UserId(u), {Click(topics, 0, 0, "i")}).ok());
  }
  ASSERT_EQ(store.compact_size(), static_cast<size_t>(kUsers - 64));
  for (int u = 0; u < kUsers; ++u) {
    EXPECT_TRUE(*store.Delete(UserId(u)));
    EXPECT_FALSE(*store.Delete(UserId(u)));
    EXPECT_EQ(*store.Get(UserId(u)), nullptr);
  }
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.compact_size(), 0u);
  // The hot tier has room again.
  ASSERT_TRUE(store.ApplyEvents(UserId(0), {Click(topics, 0, 0, "i")}).ok());
  EXPECT_EQ(store.compact_size(), 0u);
}


// A snapshot's round trip: profiles restored in the form ForEachProfile gave them come back in
// the same tier with the same bytes, and the hot tier in the same order.
TEST(InMemoryUserStoreTiersTest, RestoringWhatForEachProfileGaveKeepsTheStoreExactly) {
  InMemoryUserStore store = StoreWithHot(64);
  constexpr int kUsers = kUsersForEveryShard;
  WriteRounds({&store}, kUsers, /*rounds=*/4, /*seed=*/3);
  InMemoryUserStore restored = StoreWithHot(64);
  size_t visited = 0, compact = 0;
  ASSERT_TRUE(store
                  .ForEachProfile([&](const std::string& id, StoredProfile stored) {
                    ++visited;
                    compact += stored.is_compact();
                    ASSERT_TRUE(restored.RestoreProfile(id, std::move(stored)).ok());
                  })
                  .ok());
  EXPECT_EQ(visited, static_cast<size_t>(kUsers));
  EXPECT_EQ(compact, static_cast<size_t>(kUsers - 64));
  EXPECT_EQ(restored.size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(restored.compact_size(), static_cast<size_t>(kUsers - 64));
  EXPECT_EQ(DumpProfiles(restored), DumpProfiles(store));
  // Restoring a user again replaces it.
  ASSERT_TRUE(restored.RestoreProfile(UserId(0), StoredProfile(*store.Get(UserId(0)))).ok());
  EXPECT_EQ(restored.size(), static_cast<size_t>(kUsers));
}

// A compact profile stays compact even where the hot tier has room: it was cold, and decoding
// every one at start-up is what restoring it as it is avoids.
TEST(InMemoryUserStoreTiersTest, RestoredCompactProfilesStayCompact) {
  InMemoryUserStore store = StoreWithHot(0);
  constexpr int kUsers = 100;
  WriteRounds({&store}, kUsers, /*rounds=*/2, /*seed=*/4);
  InMemoryUserStore restored = StoreWithHot(kAllHot);
  ASSERT_TRUE(store
                  .ForEachProfile([&](const std::string& id, StoredProfile stored) {
                    ASSERT_TRUE(restored.RestoreProfile(id, std::move(stored)).ok());
                  })
                  .ok());
  EXPECT_EQ(restored.compact_size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(DumpProfiles(restored), DumpProfiles(store));
  EXPECT_EQ(restored.RestoreProfile("", StoredProfile()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(restored.RestoreProfile("x", StoredProfile()).code(),
            absl::StatusCode::kInvalidArgument);
}

// Fp32 profiles (an old snapshot holds nothing else) fill each shard's hot tier; the rest are
// encoded, and a compact profile decoded and encoded again keeps its codes.
TEST(InMemoryUserStoreTiersTest, RestoredFp32ProfilesFillTheHotTierThenGoCompact) {
  InMemoryUserStore store = StoreWithHot(64);
  constexpr int kUsers = kUsersForEveryShard;
  WriteRounds({&store}, kUsers, /*rounds=*/4, /*seed=*/3);
  InMemoryUserStore restored = StoreWithHot(64);
  ASSERT_TRUE(store
                  .ForEachProfile([&](const std::string& id, StoredProfile stored) {
                    auto profile = stored.Load();
                    ASSERT_TRUE(profile.ok());
                    ASSERT_TRUE(restored.RestoreProfile(id, StoredProfile(*profile)).ok());
                  })
                  .ok());
  EXPECT_EQ(restored.size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(restored.compact_size(), static_cast<size_t>(kUsers - 64));
  EXPECT_GE(WorstDirectionCosine(store, restored, kUsers), 0.999999);
}

// Writers, readers and a snapshot-like visitor over few hot profiles, so users move between
// the tiers all the time (also run under ThreadSanitizer: .ci/sanitizers.sh).
TEST(InMemoryUserStoreTiersTest, ConcurrentWritersAndReadersAcrossTiers) {
  InMemoryUserStore store = StoreWithHot(4);
  constexpr int kThreads = 4, kWrites = 300, kUsers = 24;
  std::vector<std::vector<int>> written(kThreads, std::vector<int>(kUsers, 0));
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      TopicVectors topics(3, t + 1, /*dim=*/32);
      std::mt19937 rng(t);
      for (int i = 0; i < kWrites; ++i) {
        const int u = static_cast<int>(rng() % kUsers);
        ResolvedEvent e =
            Click(topics, i % 3, i, "t" + std::to_string(t) + "-" + std::to_string(i));
        ASSERT_TRUE(store.ApplyEvents(UserId(u), {e}).ok());
        ++written[t][u];
        auto p = store.Get(UserId(static_cast<int>(rng() % kUsers)));
        ASSERT_TRUE(p.ok());
        if (*p) ASSERT_FALSE((*p)->InterestDirection().empty());
      }
    });
  }
  std::thread visitor([&] {
    while (!done.load()) {
      ASSERT_TRUE(store
                      .ForEachProfile([](const std::string&, StoredProfile stored) {
                        ASSERT_TRUE(stored.Load().ok());
                      })
                      .ok());
    }
  });
  for (auto& t : threads) t.join();
  done.store(true);
  visitor.join();
  for (int u = 0; u < kUsers; ++u) {
    int events = 0;
    for (int t = 0; t < kThreads; ++t) events += written[t][u];
    auto p = *store.Get(UserId(u));
    if (events == 0) {
      EXPECT_EQ(p, nullptr);
      continue;
    }
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->event_count, events);
    EXPECT_EQ(p->seen.size(), static_cast<size_t>(events));
  }
  EXPECT_LE(store.size() - store.compact_size(), 4u);
}

}  // namespace
}  // namespace semrec
