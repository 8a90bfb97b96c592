// Engine replication: a replica's start from the feed's snapshot, the thread that applies the
// feed, catalog writes that go through the feed, and the snapshots one replica publishes for the
// others. The Feedback path that publishes signals lives in engine.cc.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/deadline.h"
#include "core/common/logger.h"
#include "core/common/status_macros.h"
#include "core/engine/engine.h"
#include "core/engine/state_codec.h"
#include "core/storage/record_file.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("replication");
  return logger;
}

constexpr size_t kReadBatch = 512;
constexpr absl::Duration kReadWait = absl::Seconds(1);
constexpr char kManifestFile[] = "MANIFEST";  // core/storage/snapshot_dir.cc

}  // namespace

absl::Status ReplicationOptions::Validate() const {
  if (!feed) return absl::InvalidArgumentError("replication needs a feed");
  if (replica_id.empty()) return absl::InvalidArgumentError("the replica id is empty");
  if (work_dir.empty()) return absl::InvalidArgumentError("the replication work directory is empty");
  if (snapshot_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the snapshot interval must not be negative");
  }
  if (snapshot_entries < 1) return absl::InvalidArgumentError("snapshot_entries must be at least 1");
  if (write_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the replicated write timeout must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplicationReport> Engine::OpenReplication(const ReplicationOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  if (feed_) return absl::FailedPreconditionError("replication is already open");
  if (wal_) {
    return absl::FailedPreconditionError(
        "replication and a data directory exclude each other: replicas keep their state in Redis");
  }
  if (!users_->PublishesChanges()) {
    return absl::FailedPreconditionError(
        "replication needs a user store that publishes Feedback signals (the Redis store)");
  }
  if (catalog_.size() != 0) {
    return absl::FailedPreconditionError("replication must be opened before any write");
  }
  const absl::Time start = absl::Now();
  ReplicationReport report;
  {
    absl::MutexLock snapshot_lock(&snapshot_mu_);
    replication_ = options;
    RETURN_IF_ERROR(RemoveTree(options.work_dir));
    ASSIGN_OR_RETURN(std::optional<FeedPosition> fetched,
                     options.feed->FetchSnapshot(options.work_dir + "/in"));
    if (fetched) {
      ASSIGN_OR_RETURN(std::optional<SnapshotInfo> snapshot,
                       FindLatestSnapshot(options.work_dir + "/in"));
      if (!snapshot) {
        return absl::DataLossError("the feed's snapshot has no readable manifest");
      }
      RETURN_IF_ERROR(LoadSnapshot(*snapshot));
      report.from_snapshot = true;
      report.snapshot_position = fetched->ToString();
      absl::MutexLock lock(&feed_mu_);
      applied_ = *fetched;
    }
    RETURN_IF_ERROR(RemoveTree(options.work_dir + "/in"));
    last_snapshot_unix_us_.store(absl::ToUnixMicros(start));
  }
  feed_ = options.feed;
  report.items = catalog_.size();
  report.duration = absl::Now() - start;
  replication_thread_ = std::thread([this] { ReplicationLoop(); });
  snapshot_thread_ = std::thread([this] {
    const absl::Duration interval = replication_.snapshot_interval;
    const absl::Duration tick =
        interval > absl::ZeroDuration() ? std::min(interval, absl::Seconds(5)) : absl::Seconds(5);
    // The lease outlives the interval, so its holder keeps it while it keeps publishing.
    const absl::Duration lease = std::max(interval, absl::Seconds(30)) + absl::Seconds(30);
    absl::Time last = absl::Now();
    while (!stop_snapshots_.WaitForNotificationWithTimeout(tick)) {
      const bool due = (interval > absl::ZeroDuration() && absl::Now() - last >= interval) ||
                       entries_since_snapshot_.load() >= replication_.snapshot_entries;
      if (!due) continue;
      last = absl::Now();
      absl::StatusOr<bool> mine = feed_->AcquireSnapshotLease(replication_.replica_id, lease);
      if (!mine.ok()) {
        Logger()->warn("snapshot lease: {}", mine.status().ToString());
        continue;
      }
      if (!*mine) {  // another replica publishes them
        entries_since_snapshot_.store(0);
        continue;
      }
      (void)PublishSnapshot();  // failures are logged; the next tick retries
    }
  });
  return report;
}

absl::Status Engine::CatchUp(absl::Duration timeout) {
  if (!feed_) return absl::OkStatus();
  ASSIGN_OR_RETURN(FeedPosition head, feed_->Head());
  absl::MutexLock lock(&feed_mu_);
  auto caught_up = [&]() ABSL_SHARED_LOCKS_REQUIRED(feed_mu_) {
    return head <= applied_ || feed_broken_.load();
  };
  if (!feed_mu_.AwaitWithTimeout(absl::Condition(&caught_up), timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the replica applied the feed up to ", applied_.ToString(), " but it reaches ",
        head.ToString(), " (still catching up after ", absl::FormatDuration(timeout), ")"));
  }
  if (feed_broken_.load()) {
    return absl::DataLossError("the replication feed lost entries this replica needs; restart it");
  }
  return absl::OkStatus();
}

ReplicationStatus Engine::replication_status() const {
  ReplicationStatus s;
  if (!feed_) return s;
  s.enabled = true;
  s.connected = feed_connected_.load();
  s.broken = feed_broken_.load();
  s.entries_applied = feed_entries_applied_.load();
  s.lag_seconds = static_cast<double>(feed_lag_us_.load()) / 1e6;
  absl::MutexLock lock(&feed_mu_);
  s.applied = applied_.ToString();
  return s;
}

absl::StatusOr<Engine::FeedOutcome> Engine::ReplicateWrite(const std::string& record) {
  if (feed_broken_.load()) {
    return absl::UnavailableError(
        "this replica lost its place in the replication feed and must be restarted");
  }
  absl::StatusOr<FeedPosition> position = feed_->Append(replication_.replica_id, record);
  if (!position.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the catalog write could not be added to the replication feed: ",
        position.status().message()));
  }
  const std::string key = position->ToString();
  const absl::Time deadline = std::min(absl::Now() + replication_.write_timeout, CurrentDeadline());
  absl::MutexLock lock(&feed_mu_);
  auto applied = [&]() ABSL_SHARED_LOCKS_REQUIRED(feed_mu_) {
    return outcomes_.contains(key) || feed_broken_.load();
  };
  if (!feed_mu_.AwaitWithDeadline(absl::Condition(&applied), deadline) ||
      !outcomes_.contains(key)) {
    return absl::UnavailableError(absl::StrCat(
        "the catalog write is in the replication feed at ", key,
        " but was not applied by this replica in time (it is behind or cannot read the feed); "
        "every replica applies it when it reads that far"));
  }
  FeedOutcome outcome = std::move(outcomes_[key]);
  outcomes_.erase(key);
  return outcome;
}

void Engine::ApplyFeedEntry(const FeedEntry& entry) {
  WalRecord record;
  FeedOutcome outcome;
  const bool decoded = GetWalRecord(entry.record, &record);
  if (!decoded) {
    Logger()->error("feed entry {} cannot be decoded (written by a newer semrec?); skipped",
                    entry.position.ToString());
  }
  const bool catalog_write = decoded && (record.type == WalRecordType::kUpsertItems ||
                                         record.type == WalRecordType::kDeleteItems);
  if (catalog_write) catalog_write_mu_.Lock();
  {
    absl::ReaderMutexLock gate(&state_mu_);  // a snapshot sees the state and applied_ together
    if (decoded) {
      switch (record.type) {
        case WalRecordType::kUpsertItems:
          outcome.status = ApplyUpsert(std::move(record.items), record.vectors, &outcome.upsert);
          if (!outcome.status.ok()) {
            Logger()->warn("feed entry {}: item upsert not fully applied: {}",
                           entry.position.ToString(), outcome.status.ToString());
          }
          break;
        case WalRecordType::kDeleteItems:
          outcome.deleted = ApplyDeleteItems(record.ids);
          break;
        case WalRecordType::kSignals: {
          // Signals about items deleted since are dropped, in feed order, on every replica alike.
          std::vector<SignalEvent> live;
          for (SignalEvent& e : record.signals) {
            if (catalog_.Get(e.item_id)) live.push_back(std::move(e));
          }
          Learn(std::move(record.history), live);
          break;
        }
        default:
          Logger()->warn("feed entry {} has a record type replicas do not apply; skipped",
                         entry.position.ToString());
      }
    }
    absl::MutexLock lock(&feed_mu_);
    applied_ = entry.position;
    if (entry.origin == replication_.replica_id) {
      // Answers for writes whose caller gave up are dropped after a while.
      if (outcomes_.size() > 4096) outcomes_.clear();
      outcomes_[entry.position.ToString()] = std::move(outcome);
    }
  }
  if (catalog_write) catalog_write_mu_.Unlock();
  feed_entries_applied_.fetch_add(1, std::memory_order_relaxed);
  entries_since_snapshot_.fetch_add(1, std::memory_order_relaxed);
  if (metrics::Counter* c = feed_entries_counter_.load(std::memory_order_acquire)) c->Increment();
}

void Engine::ReplicationLoop() {
  absl::Duration backoff = absl::Milliseconds(100);
  bool warned = false;
  while (!stop_replication_.HasBeenNotified()) {
    FeedPosition after;
    {
      absl::MutexLock lock(&feed_mu_);
      after = applied_;
    }
    absl::StatusOr<std::vector<FeedEntry>> entries = feed_->Read(after, kReadBatch, kReadWait);
    if (!entries.ok()) {
      feed_connected_.store(false);
      if (entries.status().code() == absl::StatusCode::kDataLoss) {
        if (!feed_broken_.exchange(true)) {
          Logger()->error("replication broken: {}. This replica stops serving; restart it to load "
                          "the latest snapshot",
                          std::string(entries.status().message()));
          absl::MutexLock lock(&feed_mu_);  // wake writers and CatchUp
        }
        stop_replication_.WaitForNotificationWithTimeout(absl::Seconds(5));
        continue;
      }
      if (!warned) {
        Logger()->warn("cannot read the replication feed: {}; catalog changes and signals from "
                       "the other replicas wait until it answers",
                       std::string(entries.status().message()));
        warned = true;
      }
      stop_replication_.WaitForNotificationWithTimeout(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(2));
      continue;
    }
    feed_connected_.store(true);
    if (warned) {
      Logger()->info("reading the replication feed again from {}", after.ToString());
      warned = false;
    }
    backoff = absl::Milliseconds(100);
    if (entries->empty()) {
      feed_lag_us_.store(0);
      continue;
    }
    for (const FeedEntry& e : *entries) ApplyFeedEntry(e);
    // Redis stream ids start with the append's wall-clock milliseconds (on the Redis host).
    const int64_t age_us =
        absl::ToUnixMicros(absl::Now()) - static_cast<int64_t>(entries->back().position.ms) * 1000;
    feed_lag_us_.store(entries->size() == kReadBatch ? std::max<int64_t>(0, age_us) : 0);
  }
}

absl::StatusOr<std::optional<std::string>> Engine::PublishSnapshot() {
  absl::MutexLock lock(&snapshot_mu_);
  const absl::Time start = absl::Now();
  FeedPosition position;
  absl::StatusOr<SnapshotReport> report =
      SnapshotLocked(replication_.work_dir + "/out", [&]() -> absl::StatusOr<uint64_t> {
        absl::MutexLock feed_lock(&feed_mu_);
        position = applied_;
        // Any applied entry changes the state: the count names the state the snapshot holds.
        return static_cast<uint64_t>(feed_entries_applied_.load()) + 1;
      });
  absl::Status status = report.status();
  if (status.ok() && report->written && !position.zero()) {
    std::vector<std::string> files;
    for (const SnapshotFile& f : last_snapshot_->files) files.push_back(f.name);
    files.push_back(kManifestFile);
    status = feed_->PublishSnapshot(position, report->path, files);
  }
  if (!status.ok()) {
    if (snapshot_failures_) snapshot_failures_->Increment();
    Logger()->error("publishing a snapshot failed: {}", status.ToString());
    return status;
  }
  entries_since_snapshot_.store(0);
  if (!report->written) return std::optional<std::string>();
  if (snapshot_latency_) snapshot_latency_->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  Logger()->info("published the snapshot at feed position {} in {:.3f}s{}", position.ToString(),
                 absl::ToDoubleSeconds(absl::Now() - start),
                 report->catalog_reused ? " (catalog unchanged, linked)" : "");
  return std::optional<std::string>(position.ToString());
}

void Engine::ExportReplicationMetrics(metrics::Registry& registry) {
  if (!feed_) return;
  auto entries = registry.Register<metrics::Counter>(
      "semrec_replication_entries_applied_total",
      "Replication feed entries (catalog writes and Feedback signals from every replica) applied "
      "by this replica.");
  if (entries.ok()) {
    metrics::Counter* c = &(*entries)->Add({});
    c->Increment(static_cast<double>(feed_entries_applied_.load()));
    feed_entries_counter_.store(c, std::memory_order_release);
  }
  auto duration = registry.Register<metrics::Histogram>(
      "semrec_snapshot_duration_seconds", "Time to write (and publish) one snapshot.");
  auto failures = registry.Register<metrics::Counter>(
      "semrec_snapshot_failures_total", "Snapshots that failed (see the error log).");
  if (duration.ok() && failures.ok()) {
    absl::MutexLock lock(&snapshot_mu_);
    snapshot_latency_ = &(*duration)->Add(
        {}, metrics::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600});
    snapshot_failures_ = &(*failures)->Add({});
  }
  auto lag = registry.Register<metrics::Gauge>(
      "semrec_replication_lag_seconds",
      "Age of the newest feed entry applied while this replica was behind (0: caught up).");
  auto up = registry.Register<metrics::Gauge>(
      "semrec_replication_feed_up", "1 when the last read of the replication feed succeeded.");
  auto broken = registry.Register<metrics::Gauge>(
      "semrec_replication_broken",
      "1 when entries this replica needs were trimmed from the feed: it must be restarted.");
  if (!lag.ok() || !up.ok() || !broken.ok()) return;
  metrics::Gauge* lag_gauge = &(*lag)->Add({});
  metrics::Gauge* up_gauge = &(*up)->Add({});
  metrics::Gauge* broken_gauge = &(*broken)->Add({});
  registry.AddCollector([this, lag_gauge, up_gauge, broken_gauge] {
    lag_gauge->Set(static_cast<double>(feed_lag_us_.load()) / 1e6);
    up_gauge->Set(feed_connected_.load() ? 1 : 0);
    broken_gauge->Set(feed_broken_.load() ? 1 : 0);
  });
}

}  // namespace semrec
