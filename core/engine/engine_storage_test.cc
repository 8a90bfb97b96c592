// Durability of the engine: everything acknowledged survives a restart (snapshot + log replay),
// DeleteUser leaves no trace of the user on disk, and a mismatched model is refused.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/encoder/testing/fake_encoder.h"
#include "core/engine/engine.h"
#include "core/engine/state_codec.h"
#include "core/index/hnsw_index.h"
#include "core/storage/record_file.h"
#include "core/storage/snapshot_dir.h"
#include "core/storage/testing/temp_dir.h"
#include "core/user/in_memory_user_store.h"
#include "core/user/testing/dump_profiles.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

constexpr int kDim = 64;
constexpr int64_t kHourUs = 3600LL * 1000000;

// `users`, when given, is pointed at the engine's user store.
std::unique_ptr<Engine> MakeEngine(int dim = kDim, InMemoryUserStoreOptions store = {},
                                   const UserStore** users = nullptr) {
  HnswIndex::Options io;
  io.dimension = dim;
  auto index = HnswIndex::Create(io);
  EXPECT_TRUE(index.ok());
  EngineOptions options;
  auto user_store = std::make_unique<InMemoryUserStore>(options.user, store);
  if (users) *users = user_store.get();
  auto engine = Engine::Create(options, std::make_unique<FakeEncoder>(dim),
                               std::move(index).value(), std::move(user_store));
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
    auto engine = MakeEngine(kDim, store_, &users_);
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
  const UserStore* users_ = nullptr;  // the last Open()'s
};


// Rewrites the data directory's snapshot in place through `users` (each users record; "" drops
// it) and `meta` (the meta record), linking every other file: for old formats and corruption.
void RewriteSnapshot(const std::string& data_dir,
                     const std::function<std::string(std::string)>& users,
                     const std::function<std::string(std::string)>& meta = nullptr) {
  const std::string root = data_dir + "/snapshots", moved = data_dir + "/rewritten-from";
  ASSERT_EQ(std::rename(root.c_str(), moved.c_str()), 0);
  auto from = FindLatestSnapshot(moved);
  ASSERT_TRUE(from.ok() && from->has_value());
  const SnapshotInfo& old = **from;
  auto builder = SnapshotBuilder::Begin(root, old.lsn);
  ASSERT_TRUE(builder.ok());
  for (const SnapshotFile& f : old.files) {
    if (f.name != "users" && f.name != "meta") {
      ASSERT_TRUE((*builder)->LinkFrom(old, f.name).ok());
      continue;
    }
    auto in = RecordReader::Open(old.PathOf(f.name));
    auto out = RecordWriter::Create((*builder)->PathOf(f.name));
    ASSERT_TRUE(in.ok() && out.ok());
    std::string payload;
    while ((*in)->Next(&payload) == RecordReader::Result::kRecord) {
      const std::string rewritten = f.name == "users" ? users(payload)
                                    : meta            ? meta(payload)
                                                      : payload;
      if (!rewritten.empty()) ASSERT_TRUE((*out)->Append(rewritten).ok());
    }
    ASSERT_TRUE((*out)->Close(/*sync=*/false).ok());
    ASSERT_TRUE((*builder)->AddFile(f.name).ok());
  }
  ASSERT_TRUE((*builder)->Commit().ok());
  ASSERT_TRUE(RemoveTree(moved).ok());
}

// A users record as snapshot format 1 wrote it: the id and the fp32 profile, untagged.
std::string AsFormat1User(std::string payload) {
  std::string id;
  StoredProfile stored;
  EXPECT_TRUE(GetSnapshotUser(payload, /*tagged=*/true, &id, &stored));
  auto profile = stored.Load();
  EXPECT_TRUE(profile.ok());
  BufferWriter w;
  w.PutString(id);
  PutProfile(**profile, w);
  return w.Release();
}

std::string AsFormat1Meta(std::string payload) {
  EXPECT_EQ(payload[0], 2);  // the format, a one-byte varint
  payload[0] = 1;
  return payload;
}

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

// A snapshot holds each user in the form the store held it: hot profiles in fp32, compact ones
// as their own bytes. Restoring gives back the same store: the same users hot, in the same order,
// with the same values, and the compact ones with the same bytes (nothing decoded or re-encoded).
TEST_F(EngineStorageTest, ASnapshotKeepsHotAndCompactUsersExactly) {
  store_.hot_profiles = 64;  // one per shard: about a third of the users below
  std::vector<std::string> before;
  std::string observed;
  {
    auto engine = Open();
    Populate(*engine);
    for (int u = 5; u < 150; ++u) {
      ASSERT_TRUE(engine
                      ->Feedback(absl::StrCat("user-", u),
                                 {Ev(absl::StrCat("item-", u % 29), EventType::kLike, u * kHourUs),
                                  Ev(absl::StrCat("item-", u % 7), EventType::kClick,
                                     (u + 1) * kHourUs, absl::StrCat("c", u))})
                      .ok());
    }
    const EngineStats stats = engine->Stats();
    ASSERT_GT(stats.compact_users, 0u);
    ASSERT_GT(stats.users - stats.compact_users, 0u);
    auto snapshot = engine->Snapshot();
    ASSERT_TRUE(snapshot.ok());
    // The compact users are on disk as compact records.
    auto in = RecordReader::Open(snapshot->path + "/users");
    ASSERT_TRUE(in.ok());
    std::string payload, id;
    size_t records = 0, compact = 0;
    while ((*in)->Next(&payload) == RecordReader::Result::kRecord) {
      StoredProfile stored;
      ASSERT_TRUE(GetSnapshotUser(payload, /*tagged=*/true, &id, &stored));
      ++records;
      compact += stored.is_compact();
    }
    EXPECT_EQ(records, stats.users);
    EXPECT_EQ(compact, stats.compact_users);
    before = DumpProfiles(*users_);
    observed = Observe(*engine);
  }
  RecoveryReport report;
  auto engine = Open(&report);
  EXPECT_TRUE(report.from_snapshot);
  EXPECT_EQ(report.records_replayed, 0u);
  EXPECT_EQ(DumpProfiles(*users_), before);
  EXPECT_EQ(Observe(*engine), observed);
}

// A snapshot written before users were tagged (format 1: every profile in fp32) still loads: the
// profiles fill the hot tier and the rest are encoded compact, as they were before.
TEST_F(EngineStorageTest, AFormat1SnapshotStillLoads) {
  for (size_t hot : {size_t{50000}, size_t{0}}) {
    SCOPED_TRACE(hot);
    ScopedTempDir dir;
    options_.data_dir = dir.path();
    store_.hot_profiles = hot;
    std::string before;
    {
      auto engine = Open();
      Populate(*engine);
      ASSERT_TRUE(engine->Snapshot().ok());
      before = Observe(*engine);
    }
    RewriteSnapshot(options_.data_dir, AsFormat1User, AsFormat1Meta);
    RecoveryReport report;
    auto engine = Open(&report);
    EXPECT_TRUE(report.from_snapshot);
    EXPECT_EQ(report.users, 5u);
    EXPECT_EQ(engine->Stats().compact_users, hot == 0 ? 5u : 0u);
    EXPECT_EQ(Observe(*engine), before);
  }
}

// Compact bytes that pass the record's checksum but are not an encoded profile (a bug, or bytes
// changed between the checksum and the disk) are reported as data loss, never trusted.
TEST_F(EngineStorageTest, AMalformedCompactProfileIsDataLossNotACrash) {
  store_.hot_profiles = 0;
  {
    auto engine = Open();
    Populate(*engine);
    ASSERT_TRUE(engine->Snapshot().ok());
  }
  // Where a tagged users record's encoding byte and its compact bytes start.
  auto layout = [](const std::string& p, size_t* encoding, size_t* compact) {
    BufferReader in(p);
    std::string id;
    uint8_t tag;
    uint64_t n;
    ASSERT_TRUE(in.GetString(&id) && in.GetU8(&tag) && in.GetVarint(&n));
    ASSERT_EQ(tag, 2);
    *encoding = id.size() + 1;
    *compact = p.size() - n;
  };
  const std::vector<std::function<std::string(std::string)>> corruptions = {
      [&](std::string p) {  // an unknown flag in the compact bytes' first byte
        size_t encoding, compact;
        layout(p, &encoding, &compact);
        p[compact] = static_cast<char>(0x40);
        return p;
      },
      [&](std::string p) {  // the compact bytes cut short, their length cut to match
        size_t encoding, compact;
        layout(p, &encoding, &compact);
        BufferWriter w;
        w.PutString(p.substr(1, encoding - 1));
        w.PutU8(2);
        w.PutString(std::string_view(p).substr(compact, p.size() - compact - 1));
        return w.Release();
      },
      [&](std::string p) {  // an encoding no version wrote
        size_t encoding, compact;
        layout(p, &encoding, &compact);
        p[encoding] = 9;
        return p;
      },
  };
  const std::string pristine = options_.data_dir + "/pristine";
  ASSERT_EQ(std::system(absl::StrCat("cp -a ", options_.data_dir, "/snapshots ", pristine).c_str()),
            0);
  for (size_t i = 0; i < corruptions.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(RemoveTree(options_.data_dir + "/snapshots").ok());
    ASSERT_EQ(
        std::system(absl::StrCat("cp -a ", pristine, " ", options_.data_dir, "/snapshots").c_str()),
        0);
    bool first = true;
    RewriteSnapshot(options_.data_dir, [&](std::string payload) {
      if (!first) return payload;
      first = false;
      return corruptions[i](std::move(payload));
    });
    auto engine = MakeEngine(kDim, store_);
    auto r = engine->OpenDurableState(options_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("users: malformed profile"));
  }
}

// Every truncation and every single-byte change of a users record is either refused or gives a
// profile that loads: GetSnapshotUser checks compact bytes exactly as decoding would.
TEST(SnapshotUserCodecTest, DamagedRecordsAreRefusedOrLoad) {
  UserProfile p;
  UserModelOptions o;
  for (int i = 0; i < 6; ++i) {
    std::vector<float> v(16, 0.0f);
    v[i % 16] = 1;
    v[(i + 5) % 16] = 0.5f;
    ApplyEvent(o,
               Ev(absl::StrCat("item-", i), i == 4 ? EventType::kDislike : EventType::kLike,
                  i * kHourUs, absl::StrCat("e", i)),
               v, p);
  }
  ApplyEvent(o, Ev("rated", EventType::kRating, 9 * kHourUs), std::vector<float>(16, 0.25f), p);
  for (bool compact : {true, false}) {
    SCOPED_TRACE(compact);
    BufferWriter w;
    if (compact) {
      PutSnapshotUser("user-1", CompactProfile::Encode(p), w);
    } else {
      PutSnapshotUser("user-1", p, w);
    }
    const std::string record = w.data();
    std::string id;
    StoredProfile stored;
    ASSERT_TRUE(GetSnapshotUser(record, /*tagged=*/true, &id, &stored));
    EXPECT_EQ(id, "user-1");
    EXPECT_EQ(stored.is_compact(), compact);
    ASSERT_TRUE(stored.Load().ok());
    int accepted = 0;
    auto check = [&](std::string_view damaged) {
      StoredProfile s;
      if (!GetSnapshotUser(damaged, /*tagged=*/true, &id, &s)) return;
      ++accepted;
      EXPECT_TRUE(s.Load().ok());
    };
    for (size_t n = 0; n < record.size(); ++n) check(std::string_view(record).substr(0, n));
    for (size_t i = 0; i < record.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string damaged = record;
        damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
        check(damaged);
      }
    }
    std::printf("%s record: %d of %zu damaged copies still parse (vector bits, masses, times)\n",
                compact ? "compact" : "fp32", accepted, record.size() * 9);
  }
}

TEST_F(EngineStorageTest, OpeningAfterWritesIsRefused) {
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->UpsertItems({{"a", "some text", {}, {}}}).ok());
  EXPECT_EQ(engine->OpenDurableState(options_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace semrec
