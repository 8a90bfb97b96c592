// Durability of the engine: everything acknowledged survives a restart (snapshot + log replay),
// DeleteUser leaves no trace of the user on disk, and a mismatched model is refused.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/encoder/testing/fake_encoder.h"
#include "core/engine/engine.h"
#include "core/index/hnsw_index.h"
#include "core/storage/record_file.h"
#include "core/user/in_memory_user_store.h"
#include "core/storage/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

constexpr int kDim = 64;
constexpr int64_t kHourUs = 3600LL * 1000000;

std::unique_ptr<Engine> MakeEngine(int dim = kDim, InMemoryUserStoreOptions store = {}) {
  HnswIndex::Options io;
  io.dimension = dim;
  auto index = HnswIndex::Create(io);
  EXPECT_TRUE(index.ok());
  EngineOptions options;
  auto engine =
      Engine::Create(options, std::make_unique<FakeEncoder>(dim), std::move(index).value(),
                     std::make_unique<InMemoryUserStore>(options.user, store));
  EXPECT_TRUE(engine.ok()) << engine.status();
  return std::move(engine).value();
}

Event Ev(std::string item, EventType type, int64_t ts, std::string id = "") {
  Event e;
  e.item_id = std::move(item);
  e.type = type;
  e.timestamp_us = ts;
  e.event_id = std::move(id);
  return e;
}

// Every regular file under `dir`, recursively.
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      for (auto& f : FilesUnder(path)) out.push_back(std::move(f));
    } else {
      out.push_back(path);
    }
  }
  ::closedir(d);
  return out;
}

bool AnyFileContains(const std::string& dir, const std::string& needle) {
  for (const auto& path : FilesUnder(dir)) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (buffer.str().find(needle) != std::string::npos) return true;
  }
  return false;
}

class EngineStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    options_.data_dir = temp_.path();
    options_.snapshot_interval = absl::ZeroDuration();  // snapshots only when the test asks
  }

  std::unique_ptr<Engine> Open(RecoveryReport* report = nullptr) {
    auto engine = MakeEngine(kDim, store_);
    auto r = engine->OpenDurableState(options_);
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok() && report) *report = *r;
    return engine;
  }

  static void Populate(Engine& engine) {
    std::vector<Item> items;
    for (int i = 0; i < 30; ++i) {
      items.push_back({absl::StrCat("item-", i), absl::StrCat("text number ", i, " topic ", i % 3),
                       {i % 2 ? "odd" : "even"}, {{"rank", std::to_string(i)}}});
    }
    ASSERT_TRUE(engine.UpsertItems(items).ok());
    for (int u = 0; u < 5; ++u) {
      std::vector<Event> events;
      for (int j = 0; j < 6; ++j) {
        events.push_back(Ev(absl::StrCat("item-", (u * 7 + j * 3) % 30),
                            j == 5 ? EventType::kDislike : EventType::kLike,
                            (u * 10 + j) * kHourUs, absl::StrCat("e", u, "-", j)));
      }
      Event search;
      search.type = EventType::kSearch;
      search.text = "topic 2";
      search.timestamp_us = (u * 10 + 7) * kHourUs;
      events.push_back(search);
      ASSERT_TRUE(engine.Feedback(absl::StrCat("user-", u), events).ok());
    }
    ASSERT_TRUE(engine.DeleteItems({"item-29"}).ok());
    ASSERT_TRUE(engine.UpsertItems({{"item-3", "a new text for three", {"odd"}, {}}}).ok());
  }

  // What a user of the engine sees: recommendations, profiles, neighbours, items.
  static std::string Observe(Engine& engine) {
    std::string out = absl::StrCat("items=", engine.Stats().items, " users=", engine.Stats().users,
                                   " events=", engine.Stats().events_applied, "\n");
    for (int u = 0; u < 6; ++u) {
      const std::string user = absl::StrCat("user-", u);
      RecommendRequest req;
      req.user_id = user;
      req.k = 8;
      auto recs = engine.Recommend(req);
      absl::StrAppend(&out, user, ":");
      if (recs.ok()) {
        for (const auto& r : *recs) absl::StrAppend(&out, " ", r.item_id, "=", r.score);
      }
      auto summary = engine.GetUser(user, 0);
      if (summary.ok()) {
        absl::StrAppend(&out, " count=", summary->profile->event_count,
                        " recent=", summary->profile->recent.size(),
                        " ids=", summary->profile->event_ids.size());
      }
      absl::StrAppend(&out, "\n");
    }
    for (const char* id : {"item-0", "item-3", "item-29"}) {
      auto item = engine.GetItem(id);
      absl::StrAppend(&out, id, ": ", item.ok() ? item->item->text : "absent", " pop=",
                      item.ok() ? item->popularity : -1.0, "\n");
      SimilarItemsRequest similar;
      similar.item_id = id;
      similar.k = 5;
      auto sim = engine.SimilarItems(similar);
      if (sim.ok()) {
        for (const auto& r : *sim) absl::StrAppend(&out, " ", r.item_id, "=", r.score);
      }
      absl::StrAppend(&out, "\n");
    }
    return out;
  }

  ScopedTempDir temp_;
  DurabilityOptions options_;
  InMemoryUserStoreOptions store_;
};

TEST_F(EngineStorageTest, LogReplayAloneRestoresEverything) {
  std::string before;
  {
    auto engine = Open();
    Populate(*engine);
    before = Observe(*engine);
  }  // no snapshot: recovery is pure log replay
  RecoveryReport report;
  auto engine = Open(&report);
  EXPECT_FALSE(report.from_snapshot);
  EXPECT_EQ(report.records_replayed, 8u);  // 1 upsert, 5 feedback, 1 delete, 1 upsert
  EXPECT_EQ(report.items, 29u);
  EXPECT_EQ(report.users, 5u);
  EXPECT_EQ(Observe(*engine), before);
}

TEST_F(EngineStorageTest, SnapshotPlusLaterLogRestoresEverything) {
  std::string before;
  {
    auto engine = Open();
    Populate(*engine);
    auto snap = engine->Snapshot();
    ASSERT_TRUE(snap.ok()) << snap.status();
    EXPECT_TRUE(snap->written);
    ASSERT_TRUE(engine->Feedback("user-5", {Ev("item-4", EventType::kPurchase, 99 * kHourUs)}).ok());
    ASSERT_TRUE(engine->UpsertItems({{"item-30", "a late arrival", {}, {}}}).ok());
    before = Observe(*engine);
  }
  RecoveryReport report;
  auto engine = Open(&report);
  EXPECT_TRUE(report.from_snapshot);
  EXPECT_EQ(report.records_replayed, 2u);
  EXPECT_EQ(Observe(*engine), before);
  // Replayed state goes on being logged: a third life sees the writes of the second.
  ASSERT_TRUE(engine->Feedback("user-5", {Ev("item-30", EventType::kLike, 100 * kHourUs)}).ok());
  before = Observe(*engine);
  engine.reset();
  engine = Open();
  EXPECT_EQ(Observe(*engine), before);
}

// Profiles held compact are snapshotted from their compact form (decoded one at a time while the
// file is written) and come back as they were: the decoded vectors encode to the same codes.
TEST_F(EngineStorageTest, CompactProfilesSurviveASnapshotAndTheLog) {
  store_.hot_profiles = 0;
  std::string before;
  {
    auto engine = Open();
    Populate(*engine);
    ASSERT_TRUE(engine->Snapshot().ok());
    ASSERT_TRUE(
        engine->Feedback("user-1", {Ev("item-4", EventType::kPurchase, 99 * kHourUs)}).ok());
    EXPECT_EQ(engine->Stats().compact_users, 5u);
    before = Observe(*engine);
  }
  RecoveryReport report;
  auto engine = Open(&report);
  EXPECT_TRUE(report.from_snapshot);
  EXPECT_EQ(report.records_replayed, 1u);
  EXPECT_EQ(engine->Stats().compact_users, 5u);
  EXPECT_EQ(Observe(*engine), before);
}

TEST_F(EngineStorageTest, SnapshotDropsCoveredLogAndReusesAnUnchangedCatalog) {
  auto engine = Open();
  Populate(*engine);
  auto first = engine->Snapshot();
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->catalog_reused);
  auto again = engine->Snapshot();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->written);  // nothing happened since
  ASSERT_TRUE(engine->Feedback("user-1", {Ev("item-1", EventType::kLike, 50 * kHourUs)}).ok());
  auto second = engine->Snapshot();
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->written);
  EXPECT_TRUE(second->catalog_reused);  // only feedback since: the index files are linked
  std::vector<std::string> snapshots, segments;
  for (const auto& f : FilesUnder(options_.data_dir)) {
    if (f.find("/MANIFEST") != std::string::npos) snapshots.push_back(f);
    if (f.find("/wal-") != std::string::npos) segments.push_back(f);
  }
  EXPECT_EQ(snapshots.size(), 1u);  // only the newest snapshot is kept
  EXPECT_EQ(segments.size(), 1u);   // only the segment being written
  const std::string before = Observe(*engine);
  engine.reset();
  engine = Open();
  EXPECT_EQ(Observe(*engine), before);
}

TEST_F(EngineStorageTest, DeleteUserErasesTheUserFromDisk) {
  auto engine = Open();
  Populate(*engine);
  ASSERT_TRUE(engine->Snapshot().ok());  // the user is in a snapshot...
  ASSERT_TRUE(engine->Feedback("user-2", {Ev("item-8", EventType::kLike, 80 * kHourUs,
                                              "secret-event-id")}).ok());  // ...and in the log
  ASSERT_TRUE(AnyFileContains(options_.data_dir, "user-2"));
  ASSERT_TRUE(AnyFileContains(options_.data_dir, "secret-event-id"));

  auto result = engine->DeleteUser("user-2");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->deleted);
  EXPECT_TRUE(result->erased_from_storage);
  EXPECT_THAT(result->message, HasSubstr("from disk"));
  EXPECT_FALSE(AnyFileContains(options_.data_dir, "user-2"));
  EXPECT_FALSE(AnyFileContains(options_.data_dir, "secret-event-id"));
  EXPECT_TRUE(AnyFileContains(options_.data_dir, "user-3"));  // others stay

  engine.reset();
  engine = Open();
  EXPECT_TRUE(absl::IsNotFound(engine->GetUser("user-2", 0).status()));
  EXPECT_TRUE(engine->GetUser("user-3", 0).ok());
}

TEST_F(EngineStorageTest, DeleteUserWithoutDataDirectorySaysNothingWasOnDisk) {
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->UpsertItems({{"a", "some text", {}, {}}}).ok());
  ASSERT_TRUE(engine->Feedback("u", {Ev("a", EventType::kLike, kHourUs)}).ok());
  auto result = engine->DeleteUser("u");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->deleted);
  EXPECT_FALSE(result->erased_from_storage);
  EXPECT_THAT(result->message, HasSubstr("no data directory"));
  EXPECT_EQ(engine->Snapshot().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineStorageTest, ReloadingAnUnchangedCatalogLogsNothing) {
  auto engine = Open();
  std::vector<Item> items = {{"a", "first text", {"x"}, {}}, {"b", "second text", {}, {}}};
  ASSERT_TRUE(engine->UpsertItems(items).ok());
  auto again = engine->UpsertItems(items);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->unchanged, 2);
  engine.reset();
  RecoveryReport report;
  engine = Open(&report);
  EXPECT_EQ(report.records_replayed, 1u);
}

TEST_F(EngineStorageTest, AModelOfAnotherDimensionIsRefused) {
  {
    auto engine = Open();
    Populate(*engine);
    ASSERT_TRUE(engine->Snapshot().ok());
  }
  auto engine = MakeEngine(kDim * 2);
  auto r = engine->OpenDurableState(options_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("64-dimensional"));
  EXPECT_THAT(r.status().message(), HasSubstr("--data_dir"));
}

TEST_F(EngineStorageTest, ACorruptSnapshotFileIsDataLossNotACrash) {
  std::string users_file;
  {
    auto engine = Open();
    Populate(*engine);
    auto snap = engine->Snapshot();
    ASSERT_TRUE(snap.ok());
    users_file = snap->path + "/users";
  }
  std::FILE* f = std::fopen(users_file.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 20, SEEK_SET);
  std::fputc('#', f);
  std::fclose(f);
  auto engine = MakeEngine();
  auto r = engine->OpenDurableState(options_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("corrupt"));
}

TEST_F(EngineStorageTest, OpeningAfterWritesIsRefused) {
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->UpsertItems({{"a", "some text", {}, {}}}).ok());
  EXPECT_EQ(engine->OpenDurableState(options_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace semrec
