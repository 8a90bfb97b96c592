// Scale-out, end to end: a real redis-server (Debian's) and several real semrec-server processes
// sharing it (--user_store=redis://...). Checks read-your-writes across replicas, no lost updates
// under concurrent Feedback for one user through several replicas, catalog writes and learned
// signals reaching every replica (a replica started later loads them from the published
// snapshot), and the failure behaviour while Redis is down and after it comes back. Skipped with
// a message when redis-server is not installed.
#include <atomic>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/catalog/catalog_io.h"
#include "core/redis/testing/redis_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "semrec/v1/semrec.grpc.pb.h"
#include "tests/testing/server_process.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

struct Replica {
  std::unique_ptr<ServerProcess> process;
  std::unique_ptr<v1::Recommender::Stub> recommender;
  std::unique_ptr<v1::Catalog::Stub> catalog;
};

class ReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RedisServer::Binary().empty()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(redis_.Start()) << "redis-server did not start";
    auto items = ReadItemsJsonl(TestSourceDir() + "/examples/catalog.jsonl");
    ASSERT_TRUE(items.ok()) << items.status();
    for (const auto& item : *items) ids_.push_back(item.id);
  }

  // Item i of the demo catalog.
  const std::string& Id(int i) const { return ids_[static_cast<size_t>(i) % ids_.size()]; }

  // `redis_timeout`: short where a test stops Redis; generous elsewhere, since CI machines are
  // loaded and a Feedback that times out is not what those tests check.
  Replica StartReplica(std::vector<std::string> flags = {},
                       const std::string& redis_timeout = "3s") {
    flags.push_back("--user_store=" + redis_.url());
    flags.push_back("--redis_timeout=" + redis_timeout);
    flags.push_back("--snapshot_interval=1s");
    Replica r;
    r.process = ServerProcess::Start(flags);
    EXPECT_NE(r.process, nullptr) << "semrec-server did not start";
    if (!r.process) return r;
    auto channel = grpc::CreateChannel(r.process->address(), grpc::InsecureChannelCredentials());
    r.recommender = v1::Recommender::NewStub(channel);
    r.catalog = v1::Catalog::NewStub(channel);
    return r;
  }

  static grpc::Status Feedback(Replica& r, const std::string& user, const std::string& item,
                               const std::string& event_id, v1::FeedbackResponse* resp = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::FeedbackRequest req;
    req.set_user_id(user);
    auto* e = req.add_events();
    e->set_item_id(item);
    e->set_type(v1::LIKE);
    e->set_event_id(event_id);
    v1::FeedbackResponse ignored;
    return r.recommender->Feedback(&ctx, req, resp ? resp : &ignored);
  }

  static int64_t EventCount(Replica& r, const std::string& user) {
    grpc::ClientContext ctx;
    v1::GetUserRequest req;
    req.set_user_id(user);
    v1::GetUserResponse resp;
    auto s = r.recommender->GetUser(&ctx, req, &resp);
    return s.ok() ? resp.event_count() : -1;
  }

  static bool HasItem(Replica& r, const std::string& id, double* popularity = nullptr) {
    grpc::ClientContext ctx;
    v1::GetItemRequest req;
    req.set_id(id);
    v1::GetItemResponse resp;
    const bool ok = r.catalog->GetItem(&ctx, req, &resp).ok();
    if (ok && popularity) *popularity = resp.popularity();
    return ok;
  }

  // Polls `condition` for up to `timeout` (replication to other replicas is asynchronous).
  static bool Eventually(const std::function<bool()>& condition,
                         absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (condition()) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return condition();
  }

  RedisServer redis_{/*persistent=*/true};
  std::vector<std::string> ids_;
};

TEST_F(ReplicationTest, ReplicasShareUsersCatalogAndSignals) {
  Replica a = StartReplica({"--catalog_file=" + TestSourceDir() + "/examples/catalog.jsonl"});
  ASSERT_NE(a.process, nullptr);
  Replica b = StartReplica();  // no catalog file: everything it has comes through Redis
  ASSERT_NE(b.process, nullptr);
  {
    grpc::ClientContext ctx;
    v1::StatsResponse stats;
    ASSERT_TRUE(b.catalog->Stats(&ctx, v1::StatsRequest(), &stats).ok());
    EXPECT_EQ(stats.items(), 312) << "B reports SERVING only after catching up with the feed";
  }

  // Catalog writes through one replica reach the other; the writer sees its own at once.
  {
    grpc::ClientContext ctx;
    v1::UpsertItemsRequest req;
    auto* item = req.add_items();
    item->set_id("replicated-1");
    item->set_text("a film about a lighthouse keeper and the sea");
    v1::UpsertItemsResponse resp;
    ASSERT_TRUE(a.catalog->UpsertItems(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.created(), 1);
  }
  EXPECT_TRUE(HasItem(a, "replicated-1")) << "the writer applies its own write before answering";
  EXPECT_TRUE(Eventually([&] { return HasItem(b, "replicated-1"); }));
  {
    grpc::ClientContext ctx;
    v1::DeleteItemsRequest req;
    req.add_ids("replicated-1");
    v1::DeleteItemsResponse resp;
    ASSERT_TRUE(b.catalog->DeleteItems(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.deleted(), 1);
  }
  EXPECT_TRUE(Eventually([&] { return !HasItem(a, "replicated-1"); }));

  // Read-your-writes across replicas: an acknowledged Feedback on A is in the next read on B.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Feedback(a, "ryw-user", Id(i), "ryw-" + std::to_string(i)).ok());
    EXPECT_EQ(EventCount(b, "ryw-user"), i + 1);
  }
  // Resending an event through the other replica is a duplicate, not a second event.
  v1::FeedbackResponse dup;
  ASSERT_TRUE(Feedback(b, "ryw-user", Id(0), "ryw-0", &dup).ok());
  ASSERT_EQ(dup.results_size(), 1);
  EXPECT_EQ(dup.results(0).outcome(), v1::DUPLICATE);

  // A user deleted through one replica is gone everywhere; the feed never held them.
  {
    grpc::ClientContext ctx;
    v1::DeleteUserRequest req;
    req.set_user_id("ryw-user");
    v1::DeleteUserResponse resp;
    ASSERT_TRUE(b.recommender->DeleteUser(&ctx, req, &resp).ok());
    EXPECT_TRUE(resp.deleted());
    EXPECT_TRUE(resp.erased_from_storage()) << resp.message();
    EXPECT_EQ(EventCount(a, "ryw-user"), -1);
  }

  // No lost updates: 8 callers on each replica write one user concurrently.
  constexpr int kCallersPerReplica = 8, kEventsPerCaller = 20;
  std::atomic<int> acknowledged{0}, failed{0};
  std::vector<std::thread> callers;
  for (Replica* r : {&a, &b}) {
    for (int c = 0; c < kCallersPerReplica; ++c) {
      callers.emplace_back([&, r, c] {
        for (int i = 0; i < kEventsPerCaller; ++i) {
          const std::string id = absl::StrCat(r == &a ? "a" : "b", "-", c, "-", i);
          // A failed call may or may not have been applied: resend it with the same event id,
          // as clients are told to; it is then applied exactly once.
          for (int attempt = 0; attempt < 5; ++attempt) {
            grpc::Status s = Feedback(*r, "hot-user", Id((c * 7 + i) % 50), id);
            if (s.ok()) {
              acknowledged.fetch_add(1);
              break;
            }
            if (attempt == 4) {
              failed.fetch_add(1);
              ADD_FAILURE() << "Feedback " << id << ": " << s.error_code() << " " << s.error_message();
            }
          }
        }
      });
    }
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(acknowledged.load(), 2 * kCallersPerReplica * kEventsPerCaller);
  EXPECT_EQ(EventCount(a, "hot-user"), acknowledged.load());
  EXPECT_EQ(EventCount(b, "hot-user"), acknowledged.load());

  // Signals learned from Feedback are the same on every replica (popularity of an item).
  EXPECT_TRUE(Eventually([&] {
    double pa = -1, pb = -2;
    return HasItem(a, Id(0), &pa) && HasItem(b, Id(0), &pb) && pa > 0 && pa == pb;
  })) << "popularity diverged between replicas";

  // A replica started now loads the published snapshot and the feed after it.
  absl::SleepFor(absl::Seconds(7));  // a snapshot tick (5 s) after --snapshot_interval=1s
  Replica c = StartReplica();
  ASSERT_NE(c.process, nullptr);
  double pa = -1, pc = -2;
  EXPECT_TRUE(HasItem(a, Id(0), &pa) && HasItem(c, Id(0), &pc));
  EXPECT_EQ(pa, pc);
  EXPECT_FALSE(HasItem(c, "replicated-1"));
  EXPECT_EQ(EventCount(c, "hot-user"), acknowledged.load());
  EXPECT_THAT(redis_.Command({"EXISTS", "semrec:snapshot"}), "1") << "no snapshot was published";
}

TEST_F(ReplicationTest, RecommendDegradesAndFeedbackFailsWhileRedisIsDown) {
  Replica a = StartReplica({"--catalog_file=" + TestSourceDir() + "/examples/catalog.jsonl"},
                           "300ms");
  ASSERT_NE(a.process, nullptr);
  ASSERT_TRUE(Feedback(a, "u1", Id(0), "e1").ok());

  redis_.Stop();
  {
    v1::RecommendRequest req;
    req.set_user_id("u1");
    req.set_k(5);
    grpc::ClientContext ctx;
    v1::RecommendResponse resp;
    grpc::Status s = a.recommender->Recommend(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.items_size(), 5) << "trending items still answer";
    EXPECT_THAT(resp.degraded(), HasSubstr("user store is unavailable"));
  }
  {
    grpc::Status s = Feedback(a, "u1", Id(1), "e2");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    v1::UpsertItemsRequest req;
    auto* item = req.add_items();
    item->set_id("while-down");
    item->set_text("written while Redis is down");
    v1::UpsertItemsResponse resp;
    EXPECT_EQ(a.catalog->UpsertItems(&ctx, req, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  }

  ASSERT_TRUE(redis_.Start());  // same port, data back from its append-only file
  EXPECT_TRUE(Eventually([&] { return Feedback(a, "u1", Id(1), "e2").ok(); }))
      << "Feedback must work again once Redis is back";
  EXPECT_EQ(EventCount(a, "u1"), 2);
  v1::RecommendRequest req;
  req.set_user_id("u1");
  grpc::ClientContext ctx;
  v1::RecommendResponse resp;
  ASSERT_TRUE(a.recommender->Recommend(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.degraded(), "");
}

TEST_F(ReplicationTest, StartWithRedisDownOrWithADataDirectoryFailsClearly) {
  redis_.Stop();
  EXPECT_EQ(ServerProcess::Start({"--user_store=" + redis_.url(), "--redis_timeout=200ms"},
                                 absl::Seconds(30)),
            nullptr);
  ASSERT_TRUE(redis_.Start());
  EXPECT_EQ(ServerProcess::Start({"--user_store=" + redis_.url(), "--data_dir=/tmp/x"},
                                 absl::Seconds(30)),
            nullptr);
}

}  // namespace
}  // namespace semrec
