#include "core/storage/write_ahead_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "core/storage/record_file.h"
#include "core/storage/testing/temp_dir.h"

namespace semrec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }

  WalOptions Options(WalSync sync = WalSync::kAlways) {
    WalOptions o;
    o.dir = dir_;
    o.sync = sync;
    o.sync_interval = absl::Milliseconds(5);
    return o;
  }

  // Opens the log and collects what it replays.
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> Open(const WalOptions& o, uint64_t after = 0) {
    replayed_.clear();
    return WriteAheadLog::Open(
        o, after,
        [&](uint64_t lsn, std::string_view rec) {
          replayed_.emplace_back(lsn, std::string(rec));
          return absl::OkStatus();
        },
        &stats_);
  }

  std::vector<std::string> SegmentFiles() {
    std::vector<std::string> out;
    for (auto& [first, path] : ListNumbered(dir_, "wal-", ".log")) out.push_back(std::move(path));
    return out;
  }

  static off_t FileSize(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
  }

  ScopedTempDir temp_;
  const std::string dir_ = temp_.path();
  std::vector<std::pair<uint64_t, std::string>> replayed_;
  WalReplayStats stats_;
};

TEST_F(WalTest, AppendedRecordsReplayInOrderAfterReopen) {
  for (WalSync sync : {WalSync::kAlways, WalSync::kPeriodic}) {
    (void)RemoveTree(dir_);
    {
      auto wal = Open(Options(sync));
      ASSERT_TRUE(wal.ok()) << wal.status();
      EXPECT_TRUE(replayed_.empty());
      EXPECT_EQ(*(*wal)->Append("one"), 1u);
      EXPECT_EQ(*(*wal)->Append(""), 2u);
      EXPECT_EQ(*(*wal)->Append(std::string(100000, 'x')), 3u);
    }
    auto wal = Open(Options(sync));
    ASSERT_TRUE(wal.ok()) << wal.status();
    ASSERT_EQ(replayed_.size(), 3u);
    EXPECT_EQ(replayed_[0], std::make_pair(uint64_t{1}, std::string("one")));
    EXPECT_EQ(replayed_[1], std::make_pair(uint64_t{2}, std::string()));
    EXPECT_EQ(replayed_[2].second.size(), 100000u);
    EXPECT_EQ(stats_.last_lsn, 3u);
    EXPECT_EQ(*(*wal)->Append("four"), 4u);  // numbering continues
  }
}

TEST_F(WalTest, ReplaySkipsRecordsCoveredBySnapshot) {
  {
    auto wal = Open(Options());
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*wal)->Append(std::to_string(i)).ok());
  }
  auto wal = Open(Options(), /*after=*/3);
  ASSERT_TRUE(wal.ok()) << wal.status();
  ASSERT_EQ(replayed_.size(), 2u);
  EXPECT_EQ(replayed_[0].first, 4u);
  EXPECT_EQ(replayed_[1].first, 5u);
  EXPECT_EQ(stats_.records_replayed, 2u);
}

TEST_F(WalTest, TornTailIsCutAndLoggingContinues) {
  {
    auto wal = Open(Options());
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append("kept-1").ok());
    ASSERT_TRUE((*wal)->Append("kept-2").ok());
    ASSERT_TRUE((*wal)->Append("torn-record").ok());
  }
  auto files = SegmentFiles();
  ASSERT_EQ(files.size(), 1u);
  const off_t full = FileSize(files[0]);
  ASSERT_EQ(::truncate(files[0].c_str(), full - 4), 0);  // cut inside the last record
  {
    auto wal = Open(Options());
    ASSERT_TRUE(wal.ok()) << wal.status();
    ASSERT_EQ(replayed_.size(), 2u);
    EXPECT_EQ(replayed_[1].second, "kept-2");
    EXPECT_GT(stats_.torn_bytes_cut, 0u);
    EXPECT_EQ(*(*wal)->Append("after-restart"), 3u);
  }
  auto wal = Open(Options());
  ASSERT_TRUE(wal.ok()) << wal.status();
  ASSERT_EQ(replayed_.size(), 3u);
  EXPECT_EQ(replayed_[2], std::make_pair(uint64_t{3}, std::string("after-restart")));
  EXPECT_EQ(stats_.torn_bytes_cut, 0u);
}

TEST_F(WalTest, GarbageAfterLastRecordIsCut) {
  {
    auto wal = Open(Options());
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append("a").ok());
  }
  auto files = SegmentFiles();
  ASSERT_EQ(files.size(), 1u);
  FILE* f = std::fopen(files[0].c_str(), "ab");
  std::fputs("\x05\x00\x00\x00garbage-that-fails-its-checksum", f);
  std::fclose(f);
  auto wal = Open(Options());
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_THAT(replayed_, ElementsAre(std::make_pair(uint64_t{1}, std::string("a"))));
}

TEST_F(WalTest, CorruptionBeforeTheTailRefusesToStart) {
  WalOptions o = Options();
  {
    auto wal = Open(o);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append("first").ok());
    ASSERT_TRUE((*wal)->Rotate().ok());
    ASSERT_TRUE((*wal)->Append("second").ok());
  }
  auto files = SegmentFiles();
  ASSERT_EQ(files.size(), 2u);
  const int fd = ::open(files[0].c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "X", 1, 12), 1);  // flip a payload byte of record 1
  ::close(fd);
  auto wal = Open(o);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(wal.status().message(), HasSubstr("not a torn tail"));
}

TEST_F(WalTest, RotateAndDropThroughRemoveCoveredSegments) {
  auto wal = Open(Options());
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE((*wal)->Append("1").ok());
  ASSERT_TRUE((*wal)->Append("2").ok());
  auto covered = (*wal)->Rotate();
  ASSERT_TRUE(covered.ok());
  EXPECT_EQ(*covered, 2u);
  ASSERT_TRUE((*wal)->Append("3").ok());
  EXPECT_EQ((*wal)->segments(), 2u);
  ASSERT_TRUE((*wal)->DropThrough(*covered).ok());
  EXPECT_EQ((*wal)->segments(), 1u);
  EXPECT_EQ(SegmentFiles().size(), 1u);
  wal->reset();
  // Reopened after a snapshot at LSN 2: only record 3 replays.
  auto reopened = Open(Options(), 2);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_THAT(replayed_, ElementsAre(std::make_pair(uint64_t{3}, std::string("3"))));
}

TEST_F(WalTest, MissingRecordsBetweenSnapshotAndLogAreDataLoss) {
  {
    auto wal = Open(Options());
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append("1").ok());
    ASSERT_TRUE((*wal)->Append("2").ok());
    ASSERT_TRUE((*wal)->Rotate().ok());
    ASSERT_TRUE((*wal)->Append("3").ok());
    ASSERT_TRUE((*wal)->DropThrough(2).ok());
  }
  auto wal = Open(Options(), /*after=*/1);  // a snapshot older than the dropped segment
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(wal.status().message(), HasSubstr("missing"));
}

TEST_F(WalTest, SegmentsRollOverBySize) {
  WalOptions o = Options();
  o.segment_bytes = 4096;
  {
    auto wal = Open(o);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 50; ++i) ASSERT_TRUE((*wal)->Append(std::string(500, 'a' + i % 26)).ok());
    EXPECT_GE((*wal)->segments(), 5u);
  }
  auto wal = Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status();
  ASSERT_EQ(replayed_.size(), 50u);
  for (size_t i = 0; i < replayed_.size(); ++i) EXPECT_EQ(replayed_[i].first, i + 1);
}

TEST_F(WalTest, ConcurrentAppendersShareSyncs) {
  std::atomic<uint64_t> syncs{0}, synced_records{0};
  WalOptions o = Options();
  o.on_sync = [&](absl::Duration, uint64_t records) {
    syncs.fetch_add(1);
    synced_records.fetch_add(records);
  };
  constexpr int kThreads = 8, kPerThread = 200;
  {
    auto wal = Open(o);
    ASSERT_TRUE(wal.ok());
    std::vector<std::thread> threads;
    std::vector<std::vector<uint64_t>> lsns(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto lsn = (*wal)->Append("t" + std::to_string(t) + "-" + std::to_string(i));
          if (lsn.ok()) lsns[t].push_back(*lsn);
        }
      });
    }
    for (auto& th : threads) th.join();
    std::set<uint64_t> all;
    for (const auto& v : lsns) all.insert(v.begin(), v.end());
    EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
    EXPECT_EQ(*all.rbegin(), uint64_t{kThreads * kPerThread});
  }
  // Every record was synced before its Append returned, and concurrent ones shared syncs.
  EXPECT_EQ(synced_records.load(), uint64_t{kThreads * kPerThread});
  EXPECT_LT(syncs.load(), uint64_t{kThreads * kPerThread});
  auto wal = Open(o);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_.size(), size_t{kThreads * kPerThread});
}

TEST_F(WalTest, PeriodicModeSyncsInTheBackground) {
  std::atomic<uint64_t> syncs{0};
  WalOptions o = Options(WalSync::kPeriodic);
  o.on_sync = [&](absl::Duration, uint64_t) { syncs.fetch_add(1); };
  auto wal = Open(o);
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE((*wal)->Append("x").ok());
  for (int i = 0; i < 400 && syncs.load() == 0; ++i) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_GE(syncs.load(), 1u);
}

TEST_F(WalTest, ReplayErrorAbortsOpen) {
  {
    auto wal = Open(Options());
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append("bad").ok());
  }
  auto wal = WriteAheadLog::Open(
      Options(), 0,
      [](uint64_t, std::string_view) { return absl::DataLossError("cannot decode"); }, nullptr);
  ASSERT_FALSE(wal.ok());
  EXPECT_THAT(wal.status().message(), HasSubstr("replaying write-ahead log record 1"));
}

TEST_F(WalTest, RejectsBadOptions) {
  WalOptions o = Options();
  o.dir.clear();
  EXPECT_FALSE(WriteAheadLog::Open(o, 0, nullptr, nullptr).ok());
  o = Options(WalSync::kPeriodic);
  o.sync_interval = absl::ZeroDuration();
  EXPECT_FALSE(WriteAheadLog::Open(o, 0, nullptr, nullptr).ok());
}

}  // namespace
}  // namespace semrec
