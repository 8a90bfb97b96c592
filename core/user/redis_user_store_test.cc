// RedisUserStore against a real redis-server (Debian's, core/redis/testing/redis_server.h);
// skipped with a message when redis-server is not installed.
#include "core/user/redis_user_store.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/redis/testing/redis_server.h"
#include "core/user/in_memory_user_store.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

constexpr int kDim = 8;

std::vector<float> UnitVector(int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(kDim);
  float norm = 0;
  for (float& x : v) {
    x = normal(rng);
    norm += x * x;
  }
  for (float& x : v) x /= std::sqrt(norm);
  return v;
}

ResolvedEvent MakeEvent(const std::string& item, EventType type, int64_t seconds,
                        const std::string& event_id = "", float value = 0, int vector_seed = -1) {
  ResolvedEvent r;
  r.event.item_id = item;
  r.event.type = type;
  r.event.value = value;
  r.event.timestamp_us = seconds * 1'000'000;
  r.event.event_id = event_id;
  if (vector_seed >= 0) r.vector = UnitVector(vector_seed);
  return r;
}

template <typename Set>  // StringSet, SeenSet
std::vector<std::string> Sorted(const Set& set) {
  std::vector<std::string> v(set.begin(), set.end());
  std::sort(v.begin(), v.end());
  return v;
}

void ExpectSameProfile(const UserProfile& a, const UserProfile& b) {
  EXPECT_EQ(a.interest, b.interest);
  EXPECT_EQ(a.positive_mass, b.positive_mass);
  EXPECT_EQ(a.last_event_us, b.last_event_us);
  EXPECT_EQ(a.event_count, b.event_count);
  ASSERT_EQ(a.recent.size(), b.recent.size());
  for (size_t i = 0; i < a.recent.size(); ++i) {
    EXPECT_EQ(a.recent[i].item_id, b.recent[i].item_id);
    EXPECT_EQ(a.recent[i].type, b.recent[i].type);
    EXPECT_EQ(a.recent[i].value, b.recent[i].value);
    EXPECT_EQ(a.recent[i].timestamp_us, b.recent[i].timestamp_us);
  }
  EXPECT_EQ(Sorted(a.seen), Sorted(b.seen));
  EXPECT_EQ(a.event_ids, b.event_ids);
  EXPECT_EQ(Sorted(a.event_id_set), Sorted(b.event_id_set));
  ASSERT_EQ(a.interests.size(), b.interests.size());
  for (size_t i = 0; i < a.interests.size(); ++i) {
    EXPECT_EQ(a.interests[i].vector, b.interests[i].vector);
    EXPECT_EQ(a.interests[i].mass, b.interests[i].mass);
  }
  EXPECT_EQ(a.InterestDirections(), b.InterestDirections());
}

class RedisUserStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (RedisServer::Binary().empty()) return;
    server_ = new RedisServer();
    started_ = server_->Start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (RedisServer::Binary().empty()) {
      GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server)";
    }
    ASSERT_TRUE(started_) << "redis-server did not start";
  }

  // A store with keys of its own (prefix: the test's name), so tests do not see each other.
  static RedisUserStoreOptions Options(const RedisServer& server) {
    RedisUserStoreOptions o;
    o.redis.url = server.url();
    o.key_prefix =
        std::string("t_") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    o.redis.connect_timeout = absl::Milliseconds(300);
    o.redis.command_timeout = absl::Milliseconds(300);
    return o;
  }
  static std::unique_ptr<RedisUserStore> NewStore(const RedisUserStoreOptions& o) {
    auto store = RedisUserStore::Create(UserModelOptions(), o);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  static RedisServer* server_;
  static bool started_;
};

RedisServer* RedisUserStoreTest::server_ = nullptr;
bool RedisUserStoreTest::started_ = false;

TEST_F(RedisUserStoreTest, ProfilesMatchTheInMemoryStoreForTheSameEvents) {
  auto redis = NewStore(Options(*server_));
  ASSERT_NE(redis, nullptr);
  InMemoryUserStore memory((UserModelOptions()));
  const std::vector<std::vector<ResolvedEvent>> batches = {
      {MakeEvent("book-1", EventType::kLike, 1000, "", 0, 1),
       MakeEvent("book-2", EventType::kView, 1010, "", 0, 2)},
      {MakeEvent("", EventType::kSearch, 1020, "", 0, 3),
       MakeEvent("movie-1", EventType::kRating, 1030, "r-1", 4, 4),
       MakeEvent("movie-2", EventType::kDislike, 1040, "", 0, 5),
       MakeEvent("gear-1", EventType::kSkip, 1050)},                 // no vector: history only
      {MakeEvent("book-3", EventType::kPurchase, 900, "p-1", 0, 6),  // late: decayed weight
       MakeEvent("movie-1", EventType::kRating, 1030, "r-1", 4, 4),  // duplicate
       MakeEvent("hike-1", EventType::kLike, 2000000, "", 0, 7)},    // a second taste
  };
  for (const auto& batch : batches) {
    auto from_redis = redis->ApplyEvents("alice", batch);
    auto from_memory = memory.ApplyEvents("alice", batch);
    ASSERT_TRUE(from_redis.ok()) << from_redis.status();
    ASSERT_TRUE(from_memory.ok());
    EXPECT_EQ(*from_redis, *from_memory);
  }
  auto a = redis->Get("alice");
  auto b = memory.Get("alice");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_NE(*a, nullptr);
  ExpectSameProfile(**a, **b);
  EXPECT_EQ((*a)->event_count, 8);
  EXPECT_FALSE((*a)->interest.empty());

  auto unknown = redis->Get("nobody");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(*unknown, nullptr);
}

TEST_F(RedisUserStoreTest, EventIdsMakeRetriesIdempotent) {
  auto store = NewStore(Options(*server_));
  ASSERT_NE(store, nullptr);
  const std::vector<ResolvedEvent> events = {MakeEvent("i1", EventType::kClick, 100, "e1", 0, 1),
                                             MakeEvent("i2", EventType::kClick, 101, "e2", 0, 2)};
  auto first = store->ApplyEvents("u", events);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, std::vector<bool>({true, true}));
  auto again = store->ApplyEvents("u", events);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, std::vector<bool>({false, false}));
  auto within = store->ApplyEvents("u", {MakeEvent("i3", EventType::kClick, 102, "e3"),
                                         MakeEvent("i3", EventType::kClick, 102, "e3")});
  ASSERT_TRUE(within.ok()) << within.status();
  EXPECT_EQ(*within, std::vector<bool>({true, false}));
  auto p = store->Get("u");
  ASSERT_TRUE(p.ok() && *p != nullptr);
  EXPECT_EQ((*p)->event_count, 3);
  EXPECT_EQ((*p)->event_ids, std::vector<std::string>({"e1", "e2", "e3"}));
}

TEST_F(RedisUserStoreTest, DeleteForgetsTheUserAndSizeCountsUsers) {
  auto store = NewStore(Options(*server_));
  ASSERT_NE(store, nullptr);
  for (const char* user : {"a", "b", "c"}) {
    ASSERT_TRUE(store->ApplyEvents(user, {MakeEvent("i", EventType::kView, 1)}).ok());
  }
  ASSERT_TRUE(store->ApplyEvents("a", {MakeEvent("j", EventType::kView, 2)}).ok());
  EXPECT_EQ(store->size(), 3u);
  auto deleted = store->Delete("b");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  auto again = store->Delete("b");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto gone = store->Get("b");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, nullptr);
  EXPECT_EQ(store->size(), 2u);
  // The key is the documented one, hash-tagged by user.
  EXPECT_EQ(server_->Command({"EXISTS", "t_DeleteForgetsTheUserAndSizeCountsUsers:u:{a}"}), "1");
}

TEST_F(RedisUserStoreTest, ConcurrentWritersInTwoReplicasLoseNoUpdate) {
  // Two stores stand for two replicas: neither's in-process turn-taking protects the other.
  auto a = NewStore(Options(*server_));
  auto b = NewStore(Options(*server_));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kThreadsPerReplica = 8;
  constexpr int kWritesPerThread = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 2 * kThreadsPerReplica; ++t) {
    RedisUserStore* store = t % 2 == 0 ? a.get() : b.get();
    threads.emplace_back([store, t, &failures] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        auto r = store->ApplyEvents(
            "hot", {MakeEvent("item-" + std::to_string(t), EventType::kClick, 1000 + i, "", 0, t)});
        if (!r.ok() || r->size() != 1 || !(*r)[0]) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto p = a->Get("hot");
  ASSERT_TRUE(p.ok() && *p != nullptr) << p.status();
  EXPECT_EQ((*p)->event_count, 2 * kThreadsPerReplica * kWritesPerThread);
  EXPECT_EQ((*p)->seen.size(), 2u * kThreadsPerReplica);
  EXPECT_EQ(a->size(), 1u);
  std::printf("optimistic conflicts (retried): %lld + %lld\n",
              static_cast<long long>(a->conflicts()), static_cast<long long>(b->conflicts()));
}

// The history before a write's events comes from the transaction that wrote them, after any
// retries: over two replicas writing one user, the reported histories have 0, 1, ..., n - 1
// events, each once, each the newest-first list of the writes before it.
TEST_F(RedisUserStoreTest, ApplyEventsReportsTheRecentEventsOfTheCommittedRead) {
  auto a = NewStore(Options(*server_));
  auto b = NewStore(Options(*server_));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::vector<RecentEvent> before = {{"stale", EventType::kView, 0, 0}};
  ASSERT_TRUE(a->ApplyEvents("solo", {MakeEvent("x", EventType::kView, 1)}, {}, &before).ok());
  EXPECT_TRUE(before.empty());  // a new user
  ASSERT_TRUE(a->ApplyEvents("solo", {MakeEvent("y", EventType::kView, 2)}, {}, &before).ok());
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].item_id, "x");

  constexpr int kThreadsPerReplica = 4, kWritesPerThread = 5;  // 40 events: within max_recent
  std::vector<std::vector<std::vector<RecentEvent>>> seen(2 * kThreadsPerReplica);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerReplica; ++t) {
    RedisUserStore* store = t % 2 == 0 ? a.get() : b.get();
    threads.emplace_back([store, t, &seen] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        std::vector<RecentEvent> history;
        auto r = store->ApplyEvents("shared",
                                    {MakeEvent("t" + std::to_string(t) + "-" + std::to_string(i),
                                               EventType::kClick, 1000 + t * kWritesPerThread + i)},
                                    {}, &history);
        ASSERT_TRUE(r.ok()) << r.status();
        seen[t].push_back(std::move(history));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::vector<RecentEvent>> all;
  for (auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end(),
            [](const auto& x, const auto& y) { return x.size() < y.size(); });
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].size(), i);
  // Each history is the one before it with one event in front.
  for (size_t i = 1; i < all.size(); ++i) {
    for (size_t j = 0; j + 1 < all[i].size(); ++j) {
      EXPECT_EQ(all[i][j + 1].item_id, all[i - 1][j].item_id);
    }
  }
}

TEST_F(RedisUserStoreTest, ReadsItsOwnAndOtherReplicasWrites) {
  auto a = NewStore(Options(*server_));
  auto b = NewStore(Options(*server_));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 20; ++i) {
    RedisUserStore& writer = i % 2 == 0 ? *a : *b;
    RedisUserStore& reader = i % 2 == 0 ? *b : *a;
    ASSERT_TRUE(
        writer
            .ApplyEvents("bob", {MakeEvent("i" + std::to_string(i), EventType::kLike, i, "", 0, i)})
            .ok());
    auto p = reader.Get("bob");
    ASSERT_TRUE(p.ok() && *p != nullptr) << p.status();
    EXPECT_EQ((*p)->event_count, i + 1);
    EXPECT_EQ((*p)->recent.front().item_id, "i" + std::to_string(i));
  }
  ASSERT_TRUE(a->Delete("bob").ok());
  auto gone = b->Get("bob");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, nullptr);
}

TEST_F(RedisUserStoreTest, ProfilesExpireAfterTheirTtl) {
  RedisUserStoreOptions o = Options(*server_);
  o.profile_ttl = absl::Milliseconds(300);
  auto store = NewStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->ApplyEvents("short", {MakeEvent("i", EventType::kView, 1)}).ok());
  auto p = store->Get("short");
  ASSERT_TRUE(p.ok() && *p != nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  p = store->Get("short");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, nullptr);
}

TEST_F(RedisUserStoreTest, MalformedValueIsDataLossNotACrash) {
  RedisUserStoreOptions o = Options(*server_);
  auto store = NewStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(server_->Command({"SET", o.key_prefix + ":u:{bad}", "\x01garbage"}), "OK");
  auto p = store->Get("bad");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kDataLoss) << p.status();
  auto w = store->ApplyEvents("bad", {MakeEvent("i", EventType::kView, 1)});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kDataLoss) << w.status();
  // The store still works for everyone else.
  EXPECT_TRUE(store->ApplyEvents("good", {MakeEvent("i", EventType::kView, 1)}).ok());
}

TEST_F(RedisUserStoreTest, CreateChecksTheUrlAndThatRedisAnswers) {
  for (const char* url : {"", "http://127.0.0.1:6379", "redis://", "redis://host:notaport",
                          "redis://host:70000", "redis://host:1/x", "redis://pw@host"}) {
    RedisUserStoreOptions o;
    o.redis.url = url;
    EXPECT_EQ(RedisUserStore::Create(UserModelOptions(), o).status().code(),
              absl::StatusCode::kInvalidArgument)
        << url;
  }
  RedisUserStoreOptions o;
  o.redis.url = "redis://127.0.0.1:" + std::to_string(testing_redis::FreeLoopbackPort());
  auto s = RedisUserStore::Create(UserModelOptions(), o);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
  o.redis.url = server_->url() + "/3";  // a database number
  o.key_prefix = "t_db";
  auto db3 = RedisUserStore::Create(UserModelOptions(), o);
  ASSERT_TRUE(db3.ok()) << db3.status();
  ASSERT_TRUE((*db3)->ApplyEvents("u", {MakeEvent("i", EventType::kView, 1)}).ok());
  EXPECT_EQ(server_->Command({"EXISTS", "t_db:u:{u}"}), "0");  // not in database 0
}

// Redis on a server of its own: this test stops and restarts it.
TEST_F(RedisUserStoreTest, UnavailableWhileRedisIsDownAndWorksAgainWhenItIsBack) {
  RedisServer own;
  ASSERT_TRUE(own.Start());
  auto store = NewStore(Options(own));
  ASSERT_NE(store, nullptr);
  const auto event = MakeEvent("i", EventType::kLike, 1, "", 0, 1);
  ASSERT_TRUE(store->ApplyEvents("carol", {event}).ok());

  // Killed and back before anyone noticed: pooled connections are dead, the next call still works.
  own.Stop();
  ASSERT_TRUE(own.Start());
  auto after_restart = store->ApplyEvents("carol", {event});
  EXPECT_TRUE(after_restart.ok()) << after_restart.status();

  // Down: every call answers UNAVAILABLE, fast.
  own.Stop();
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto get = store->Get("carol");
    auto apply = store->ApplyEvents("carol", {event});
    auto del = store->Delete("carol");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(get.status().code(), absl::StatusCode::kUnavailable) << get.status();
    EXPECT_EQ(apply.status().code(), absl::StatusCode::kUnavailable) << apply.status();
    EXPECT_EQ(del.status().code(), absl::StatusCode::kUnavailable) << del.status();
    EXPECT_LT(elapsed, std::chrono::seconds(2));
    if (i == 0) std::printf("while down: %s\n", std::string(get.status().message()).c_str());
  }
  (void)store->size();  // no crash, last known value

  // Back (empty: no persistence in this test): the same store object works again.
  ASSERT_TRUE(own.Start());
  auto apply = store->ApplyEvents("carol", {event});
  ASSERT_TRUE(apply.ok()) << apply.status();
  auto p = store->Get("carol");
  ASSERT_TRUE(p.ok() && *p != nullptr) << p.status();
  EXPECT_EQ((*p)->event_count, 1);
}

TEST_F(RedisUserStoreTest, HungRedisTimesOutInsteadOfHanging) {
  RedisServer own;
  ASSERT_TRUE(own.Start());
  auto store = NewStore(Options(own));  // 300 ms per command
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->ApplyEvents("dave", {MakeEvent("i", EventType::kView, 1)}).ok());
  own.Pause();  // SIGSTOP: connections accepted by the kernel, no replies
  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto get = store->Get("dave");
    auto apply = store->ApplyEvents("dave", {MakeEvent("j", EventType::kView, 2)});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(get.status().code(), absl::StatusCode::kUnavailable) << get.status();
    EXPECT_EQ(apply.status().code(), absl::StatusCode::kUnavailable) << apply.status();
    EXPECT_LT(elapsed, std::chrono::milliseconds(1500));  // two calls of at most ~300 ms each
    if (i == 0) std::printf("while hung: %s\n", std::string(apply.status().message()).c_str());
  }
  own.Resume();
  auto p = store->Get("dave");
  ASSERT_TRUE(p.ok() && *p != nullptr) << p.status();
  EXPECT_EQ((*p)->event_count, 1);
}

}  // namespace
}  // namespace semrec
