// Durability of the embedded default, end to end: the real semrec-server binary runs as a child
// process with --data_dir and --fsync=always, is killed with SIGKILL in the middle of a Feedback
// load, and restarted; every Feedback it acknowledged must be there. A SIGTERM must drain, write a
// snapshot and exit 0.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/catalog/catalog_io.h"
#include "core/common/testing/test_paths.h"
#include "core/storage/testing/temp_dir.h"
#include "core/storage/snapshot_dir.h"
#include "tests/testing/server_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "semrec/v1/semrec.grpc.pb.h"

namespace semrec {
namespace {

class DurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(data_dir_.empty());
    auto items = ReadItemsJsonl(TestSourceDir() + "/examples/catalog.jsonl");
    ASSERT_TRUE(items.ok()) << items.status();
    for (const auto& item : *items) item_ids_.push_back(item.id);
  }

  std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> flags = {}) {
    flags.push_back("--data_dir=" + data_dir_);
    flags.push_back("--fsync=always");
    auto server = ServerProcess::Start(flags);
    EXPECT_NE(server, nullptr) << "semrec-server did not start";
    return server;
  }

  static std::unique_ptr<v1::Recommender::Stub> Stub(const std::string& address) {
    return v1::Recommender::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }

  ScopedTempDir temp_;
  const std::string data_dir_ = temp_.path();
  std::vector<std::string> item_ids_;
};

TEST_F(DurabilityTest, EveryAcknowledgedFeedbackSurvivesSigkill) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  constexpr int kCallers = 8;
  constexpr int kUsers = 40;
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> acked;  // user -> acknowledged event ids
  std::atomic<int> acked_count{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      auto stub = Stub(server->address());
      for (int n = 0; !stop.load(); ++n) {
        const std::string user = absl::StrCat("user-", (c * 7 + n) % kUsers);
        const std::string event_id = absl::StrCat("c", c, "-n", n);
        v1::FeedbackRequest req;
        req.set_user_id(user);
        v1::Event* e = req.add_events();
        e->set_item_id(item_ids_[(c * 31 + n) % item_ids_.size()]);
        e->set_type(n % 5 == 4 ? v1::DISLIKE : v1::CLICK);
        e->set_event_id(event_id);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        v1::FeedbackResponse resp;
        if (stub->Feedback(&ctx, req, &resp).ok() && resp.applied() == 1) {
          std::lock_guard<std::mutex> lock(mu);
          acked[user].push_back(event_id);
          acked_count.fetch_add(1);
        } else {
          failed.fetch_add(1);
        }
      }
    });
  }
  // Let the load run, then kill the server while calls are in flight.
  for (int i = 0; i < 200 && acked_count.load() < 400; ++i) absl::SleepFor(absl::Milliseconds(25));
  EXPECT_EQ(server->Stop(SIGKILL), -SIGKILL);
  stop.store(true);
  for (auto& t : callers) t.join();
  ASSERT_GT(acked_count.load(), 50) << "too little load before the kill to prove anything";

  auto restarted = StartServer();
  ASSERT_NE(restarted, nullptr);
  auto stub = Stub(restarted->address());
  int checked = 0;
  for (const auto& [user, ids] : acked) {
    // The profile holds at least every acknowledged event...
    v1::GetUserRequest get;
    get.set_user_id(user);
    v1::GetUserResponse profile;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->GetUser(&ctx, get, &profile).ok()) << user;
    EXPECT_GE(profile.event_count(), static_cast<int64_t>(ids.size())) << user;
    // ...and each one by id: sent again, it is a duplicate (the server remembers applying it).
    v1::FeedbackRequest again;
    again.set_user_id(user);
    for (size_t i = 0; i < ids.size(); ++i) {
      v1::Event* e = again.add_events();
      e->set_item_id(item_ids_[0]);
      e->set_type(v1::CLICK);
      e->set_event_id(ids[i]);
    }
    grpc::ClientContext ctx2;
    v1::FeedbackResponse resp;
    ASSERT_TRUE(stub->Feedback(&ctx2, again, &resp).ok());
    EXPECT_EQ(resp.applied(), 0) << user << ": an acknowledged event was lost";
    for (const auto& r : resp.results()) {
      EXPECT_EQ(r.outcome(), v1::DUPLICATE) << user << " " << r.event_id();
      ++checked;
    }
  }
  EXPECT_EQ(checked, acked_count.load());
}

TEST_F(DurabilityTest, SigtermDrainsSnapshotsAndExitsZero) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  {
    auto stub = Stub(server->address());
    v1::FeedbackRequest req;
    req.set_user_id("alice");
    v1::Event* e = req.add_events();
    e->set_item_id(item_ids_[3]);
    e->set_type(v1::LIKE);
    grpc::ClientContext ctx;
    v1::FeedbackResponse resp;
    ASSERT_TRUE(stub->Feedback(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(server->Stop(SIGTERM), 0);
  // The final snapshot holds everything: the log left beside it is empty.
  auto snapshot = FindLatestSnapshot(data_dir_ + "/snapshots");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_TRUE(snapshot->has_value());
  uint64_t log_bytes = 0;
  if (DIR* d = ::opendir((data_dir_ + "/wal").c_str())) {
    while (dirent* e = ::readdir(d)) {
      struct stat st;
      const std::string path = data_dir_ + "/wal/" + e->d_name;
      if (e->d_name[0] != '.' && ::stat(path.c_str(), &st) == 0) log_bytes += st.st_size;
    }
    ::closedir(d);
  }
  EXPECT_EQ(log_bytes, 0u);

  auto restarted = StartServer();
  ASSERT_NE(restarted, nullptr);
  auto stub = Stub(restarted->address());
  v1::GetUserRequest get;
  get.set_user_id("alice");
  v1::GetUserResponse profile;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->GetUser(&ctx, get, &profile).ok());
  EXPECT_EQ(profile.event_count(), 1);
  ASSERT_EQ(profile.recent_events_size(), 1);
  EXPECT_EQ(profile.recent_events(0).item_id(), item_ids_[3]);
  // The catalog came back from the snapshot, not from a second import.
  v1::StatsRequest stats_req;
  v1::StatsResponse stats;
  grpc::ClientContext ctx2;
  auto catalog = v1::Catalog::NewStub(
      grpc::CreateChannel(restarted->address(), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(catalog->Stats(&ctx2, stats_req, &stats).ok());
  EXPECT_EQ(stats.items(), static_cast<int64_t>(item_ids_.size()));
}

TEST_F(DurabilityTest, BadFsyncPolicyFailsFastWithExitCode2) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDERR_FILENO);
    ::execl(SEMREC_SERVER_BINARY, SEMREC_SERVER_BINARY, "--fsync=sometimes", nullptr);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace semrec
