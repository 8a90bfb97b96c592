// Engine durability: recovery (snapshot + write-ahead log replay), snapshots, and the background
// snapshot thread. The write paths that log records live in engine.cc.
#include <cinttypes>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/logger.h"
#include "core/common/status_macros.h"
#include "core/engine/engine.h"
#include "core/engine/state_codec.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("storage");
  return logger;
}

// 2: users records tagged fp32 or compact (state_codec.h); 1, still read: all fp32, untagged.
constexpr uint64_t kSnapshotFormat = 2;
constexpr char kMetaFile[] = "meta";
constexpr char kItemsFile[] = "items";
constexpr char kUsersFile[] = "users";
constexpr char kCollabFile[] = "collab";
constexpr char kPopularityFile[] = "popularity";
constexpr size_t kChunk = 4096;  // entries per record in chunked files

std::string WalDir(const DurabilityOptions& o) { return o.data_dir + "/wal"; }
std::string SnapshotRoot(const DurabilityOptions& o) { return o.data_dir + "/snapshots"; }

absl::Status Corrupt(const SnapshotInfo& snapshot, const char* file, const std::string& why) {
  return absl::DataLossError(absl::StrCat(snapshot.PathOf(file), ": ", why));
}

// The engine writes these record files itself; every other file of a snapshot is the index's.
bool IsIndexFile(const std::string& name) {
  return name != kMetaFile && name != kItemsFile && name != kUsersFile && name != kCollabFile &&
         name != kPopularityFile;
}

// Reads every record of a snapshot file in one pass: each record's checksum, then the length
// read against the manifest's (a whole-file checksum would read it twice).
absl::Status ReadRecords(const SnapshotInfo& snapshot, const char* file,
                         const std::function<absl::Status(std::string_view)>& fn) {
  const SnapshotFile* listed = snapshot.Find(file);
  if (!listed) return Corrupt(snapshot, file, "missing from the manifest");
  ASSIGN_OR_RETURN(auto reader, RecordReader::Open(snapshot.PathOf(file)));
  std::string payload;
  RecordReader::Result r;
  while ((r = reader->Next(&payload)) == RecordReader::Result::kRecord) {
    RETURN_IF_ERROR(fn(payload));
  }
  if (r == RecordReader::Result::kTorn) return Corrupt(snapshot, file, "a record is corrupt");
  if (reader->good_offset() != listed->size) {
    return Corrupt(snapshot, file, absl::StrCat(reader->good_offset(), " bytes, the manifest says ",
                                                listed->size));
  }
  return absl::OkStatus();
}

// Puts every user of the snapshot's users file back into `users`: a compact profile as the bytes
// it was written as (checked, not decoded), an fp32 one as it was.
absl::Status RestoreUsers(const SnapshotInfo& snapshot, bool tagged, UserStore& users) {
  const absl::Time start = absl::Now();
  std::string user_id;
  StoredProfile profile;
  RETURN_IF_ERROR(ReadRecords(snapshot, kUsersFile, [&](std::string_view payload) {
    if (!GetSnapshotUser(payload, tagged, &user_id, &profile)) {
      return Corrupt(snapshot, kUsersFile, "malformed profile");
    }
    return users.RestoreProfile(user_id, std::move(profile));
  }));
  Logger()->info("restored {} users ({} compact) in {:.2f}s", users.size(), users.compact_size(),
                 absl::ToDoubleSeconds(absl::Now() - start));
  return absl::OkStatus();
}

}  // namespace

absl::Status DurabilityOptions::Validate() const {
  if (data_dir.empty()) return absl::InvalidArgumentError("the data directory is empty");
  if (fsync == WalSync::kPeriodic && fsync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the fsync interval must be positive");
  }
  if (snapshot_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the snapshot interval must not be negative");
  }
  if (log_segment_bytes < (1u << 20)) {
    return absl::InvalidArgumentError("log segments must be at least 1 MiB");
  }
  if (snapshot_log_bytes < log_segment_bytes) {
    return absl::InvalidArgumentError("the log size that triggers a snapshot must be at least "
                                      "one log segment");
  }
  return absl::OkStatus();
}

Engine::~Engine() {
  stop_snapshots_.Notify();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  stop_replication_.Notify();
  if (replication_thread_.joinable()) replication_thread_.join();
}

absl::Status Engine::Log(const std::string& record) {
  if (!wal_) return absl::OkStatus();
  StageTimer t(*this, kLog);
  return wal_->Append(record).status();
}

absl::StatusOr<RecoveryReport> Engine::OpenDurableState(const DurabilityOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  if (wal_) return absl::FailedPreconditionError("durable state is already open");
  if (catalog_.size() != 0 || (users_->StoresProfilesInProcess() && users_->size() != 0)) {
    return absl::FailedPreconditionError("durable state must be opened before any write");
  }
  const absl::Time start = absl::Now();
  absl::MutexLock snapshot_lock(&snapshot_mu_);  // the snapshot bookkeeping set below
  durability_ = options;
  RecoveryReport report;
  RETURN_IF_ERROR(MakeDirectories(options.data_dir));
  ASSIGN_OR_RETURN(std::optional<SnapshotInfo> snapshot, FindLatestSnapshot(SnapshotRoot(options)));
  if (snapshot) {
    RETURN_IF_ERROR(LoadSnapshot(*snapshot));
    for (const SnapshotFile& f : snapshot->files) {
      if (IsIndexFile(f.name)) last_snapshot_catalog_files_.push_back(f.name);
    }
    last_snapshot_catalog_files_.push_back(kItemsFile);
    report.from_snapshot = true;
    report.snapshot_lsn = snapshot->lsn;
    last_snapshot_unix_us_.store(snapshot->created_unix_us);
  } else {
    last_snapshot_unix_us_.store(absl::ToUnixMicros(start));
  }
  // Replayed catalog writes bump the version, so the next snapshot rewrites the catalog's files.
  last_snapshot_catalog_version_ = catalog_version_.load();
  WalOptions wal_options;
  wal_options.dir = WalDir(options);
  wal_options.sync = options.fsync;
  wal_options.sync_interval = options.fsync_interval;
  wal_options.segment_bytes = options.log_segment_bytes;
  wal_options.on_sync = [this](absl::Duration d, uint64_t) {
    if (metrics::Histogram* h = wal_sync_latency_.load(std::memory_order_acquire)) {
      h->Observe(absl::ToDoubleSeconds(d));
    }
  };
  WalReplayStats stats;
  ASSIGN_OR_RETURN(
      auto wal,
      WriteAheadLog::Open(wal_options, report.snapshot_lsn,
                          [this](uint64_t, std::string_view payload) { return ReplayRecord(payload); },
                          &stats));
  report.records_replayed = stats.records_replayed;
  report.torn_bytes_cut = stats.torn_bytes_cut;
  if (stats.torn_bytes_cut > 0) {
    Logger()->warn("cut a torn tail of {} bytes off the write-ahead log (a write cut short by a "
                   "crash; it was never acknowledged with fsync=always)",
                   static_cast<unsigned long long>(stats.torn_bytes_cut));
  }
  last_snapshot_ = std::move(snapshot);
  wal_ = std::move(wal);
  snapshot_thread_ = std::thread([this] { SnapshotLoop(); });
  report.items = catalog_.size();
  report.users = users_->size();
  report.duration = absl::Now() - start;
  return report;
}

absl::Status Engine::LoadSnapshot(const SnapshotInfo& snapshot) {
  // Meta: the format and the model the vectors came from.
  uint64_t format = 0;
  RETURN_IF_ERROR(ReadRecords(snapshot, kMetaFile, [&](std::string_view payload) {
    BufferReader in(payload);
    uint64_t dimension = 0;
    std::string model;
    int64_t events_applied = 0;
    if (!in.GetVarint(&format) || format < 1 || format > kSnapshotFormat || !in.GetString(&model) ||
        !in.GetVarint(&dimension) || !in.GetI64(&events_applied)) {
      return Corrupt(snapshot, kMetaFile, "unknown snapshot format");
    }
    if (dimension != static_cast<uint64_t>(encoder_->dimension())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the data directory holds ", dimension, "-dimensional vectors from model '", model,
          "', but model '", encoder_->name(), "' gives ", encoder_->dimension(),
          ": use a new --data_dir for a new model (items are re-embedded on import)"));
    }
    events_applied_.store(events_applied);
    if (model != encoder_->name()) {
      Logger()->warn("the snapshot's vectors came from model '{}', the server runs '{}': "
                     "re-import the catalog if the models differ",
                     model, encoder_->name());
    }
    return absl::OkStatus();
  }));
  // Users depend on nothing else in the snapshot: they are restored on a second thread while this
  // one checks and loads the index.
  absl::Status users_status;
  std::thread users_thread;
  if (snapshot.Find(kUsersFile)) {
    users_thread = std::thread(
        [&] { users_status = RestoreUsers(snapshot, /*tagged=*/format >= 2, *users_); });
  }
  // Catalog: the index's own files, then the items.
  absl::Status catalog_status = [&]() -> absl::Status {
    for (const SnapshotFile& f : snapshot.files) {
      if (IsIndexFile(f.name)) RETURN_IF_ERROR(snapshot.Verify(f.name));  // not record-framed
    }
    RETURN_IF_ERROR(index_->LoadFrom(snapshot.path));
    RETURN_IF_ERROR(ReadRecords(snapshot, kItemsFile, [&](std::string_view payload) {
      BufferReader in(payload);
      Item item;
      if (!semrec::GetItem(in, &item) || !in.done()) {
        return Corrupt(snapshot, kItemsFile, "malformed item");
      }
      if (!index_->Contains(item.id)) {
        return Corrupt(snapshot, kItemsFile,
                       absl::StrCat("item '", item.id, "' is not in the index"));
      }
      catalog_.Put(std::move(item));
      return absl::OkStatus();
    }));
    if (catalog_.size() != index_->size()) {
      return Corrupt(
          snapshot, kItemsFile,
          absl::StrCat(catalog_.size(), " items for ", index_->size(), " indexed vectors"));
    }
    return absl::OkStatus();
  }();
  if (users_thread.joinable()) users_thread.join();
  if (!catalog_status.ok()) {
    if (!users_status.ok()) Logger()->error("{}", users_status.ToString());  // reported second
    return catalog_status;
  }
  RETURN_IF_ERROR(users_status);
  // Collaborative model: a header, the item names in chunks, then one record per item.
  CoOccurrenceModel::State collab;
  uint64_t names = 0, nodes = 0;
  bool header = true;
  RETURN_IF_ERROR(ReadRecords(snapshot, kCollabFile, [&](std::string_view payload) {
    BufferReader in(payload);
    if (header) {
      header = false;
      return in.GetVarint(&names) && in.GetVarint(&nodes) && in.done()
                 ? absl::OkStatus()
                 : Corrupt(snapshot, kCollabFile, "malformed header");
    }
    if (collab.names.size() < names) {
      while (!in.done()) {
        std::string name;
        if (!in.GetString(&name)) return Corrupt(snapshot, kCollabFile, "malformed name");
        collab.names.push_back(std::move(name));
      }
      return absl::OkStatus();
    }
    CoOccurrenceModel::State::Node node;
    uint64_t item = 0, n = 0;
    if (!in.GetVarint(&item) || !in.GetDouble(&node.mass) || !in.GetBool(&node.forgotten) ||
        !in.GetCount(&n, 5)) {
      return Corrupt(snapshot, kCollabFile, "malformed item");
    }
    node.item = static_cast<uint32_t>(item);
    node.neighbors.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t other;
      float w;
      if (!in.GetVarint(&other) || !in.GetFloat(&w)) return Corrupt(snapshot, kCollabFile, "malformed pair");
      node.neighbors.emplace_back(static_cast<uint32_t>(other), w);
    }
    collab.nodes.push_back(std::move(node));
    return absl::OkStatus();
  }));
  if (collab.names.size() != names || collab.nodes.size() != nodes) {
    return Corrupt(snapshot, kCollabFile, "truncated");
  }
  if (absl::Status s = collab_.Import(std::move(collab)); !s.ok()) {
    return Corrupt(snapshot, kCollabFile, std::string(s.message()));
  }
  PopularityTracker::State popularity;
  uint64_t entries = 0;
  header = true;
  RETURN_IF_ERROR(ReadRecords(snapshot, kPopularityFile, [&](std::string_view payload) {
    BufferReader in(payload);
    if (header) {
      header = false;
      return in.GetI64(&popularity.anchor_us) && in.GetI64(&popularity.latest_us) &&
                     in.GetBool(&popularity.started) && in.GetVarint(&entries) && in.done()
                 ? absl::OkStatus()
                 : Corrupt(snapshot, kPopularityFile, "malformed header");
    }
    while (!in.done()) {
      std::string id;
      double score;
      if (!in.GetString(&id) || !in.GetDouble(&score)) {
        return Corrupt(snapshot, kPopularityFile, "malformed entry");
      }
      popularity.stored.emplace_back(std::move(id), score);
    }
    return absl::OkStatus();
  }));
  if (popularity.stored.size() != entries) return Corrupt(snapshot, kPopularityFile, "truncated");
  popularity_.Import(std::move(popularity));
  return absl::OkStatus();
}

absl::Status Engine::ReplayRecord(std::string_view payload) {
  WalRecord record;
  if (!GetWalRecord(payload, &record)) {
    return absl::DataLossError("the record passed its checksum but cannot be decoded (written by "
                               "a newer semrec?)");
  }
  switch (record.type) {
    case WalRecordType::kUpsertItems: {
      UpsertResult ignored;
      if (absl::Status s = ApplyUpsert(std::move(record.items), record.vectors, &ignored); !s.ok()) {
        Logger()->warn("replayed item upsert not fully applied: {}", std::string(s.message()));
      }
      break;
    }
    case WalRecordType::kDeleteItems:
      ApplyDeleteItems(record.ids);
      break;
    case WalRecordType::kFeedback:
      for (ResolvedEvent& r : record.events) {
        if (r.vector.empty() && !r.event.item_id.empty()) {
          auto v = index_->GetVector(r.event.item_id);
          if (v.ok()) r.vector = std::move(v).value();
        }
      }
      // A store that keeps its profiles itself applied these events already.
      RETURN_IF_ERROR(
          ApplyFeedback(record.user_id, record.events, users_->StoresProfilesInProcess()).status());
      break;
    case WalRecordType::kDeleteUser:
      if (users_->StoresProfilesInProcess()) {
        RETURN_IF_ERROR(users_->Delete(record.user_id).status());
      }
      break;
  }
  return absl::OkStatus();
}

absl::StatusOr<SnapshotReport> Engine::Snapshot() {
  if (!wal_) return absl::FailedPreconditionError("the engine has no data directory");
  absl::MutexLock lock(&snapshot_mu_);
  const absl::Time start = absl::Now();
  absl::StatusOr<SnapshotReport> report =
      SnapshotLocked(SnapshotRoot(durability_), [this] { return wal_->Rotate(); });
  if (!report.ok()) {
    if (snapshot_failures_) snapshot_failures_->Increment();
    Logger()->error("snapshot failed: {}", report.status().ToString());
    return report;
  }
  report->duration = absl::Now() - start;
  if (report->written) {
    if (snapshot_latency_) snapshot_latency_->Observe(absl::ToDoubleSeconds(report->duration));
    Logger()->info("snapshot {} written in {:.3f}s{}", static_cast<unsigned long long>(report->lsn),
                   absl::ToDoubleSeconds(report->duration),
                   report->catalog_reused ? " (catalog unchanged, linked)" : "");
  }
  return report;
}

absl::StatusOr<SnapshotReport> Engine::SnapshotLocked(
    const std::string& root, const std::function<absl::StatusOr<uint64_t>()>& capture_lsn) {
  SnapshotReport report;
  // Catalog writes wait until the catalog files are written; feedback waits only for the capture.
  absl::ReleasableMutexLock catalog_lock(&catalog_write_mu_);
  uint64_t lsn = 0;
  // References to the store's immutable profiles, written as they are held (a compact one as its
  // own bytes, never decoded): capturing copies would need a second copy of every user.
  std::vector<std::pair<std::string, StoredProfile>> users;
  bool users_local = true;
  CoOccurrenceModel::State collab;
  PopularityTracker::State popularity;
  int64_t events_applied = 0;
  {
    absl::MutexLock gate(&state_mu_);
    events_applied = events_applied_.load();
    ASSIGN_OR_RETURN(lsn, capture_lsn());
    users_local = users_->StoresProfilesInProcess();
    if (users_local) {
      RETURN_IF_ERROR(users_->ForEachProfile(
          [&](const std::string& id, StoredProfile p) { users.emplace_back(id, std::move(p)); }));
    }
    collab = collab_.Export();
    popularity = popularity_.Export();
  }
  report.lsn = lsn;
  if (last_snapshot_ && last_snapshot_->lsn == lsn) {
    report.path = last_snapshot_->path;
    last_snapshot_unix_us_.store(absl::ToUnixMicros(absl::Now()));
    return report;  // nothing was written since
  }
  ASSIGN_OR_RETURN(auto builder, SnapshotBuilder::Begin(root, lsn));
  auto write_file = [&](const char* name,
                        const std::function<absl::Status(RecordWriter&)>& body) -> absl::Status {
    ASSIGN_OR_RETURN(auto out, RecordWriter::Create(builder->PathOf(name)));
    RETURN_IF_ERROR(body(*out));
    RETURN_IF_ERROR(out->Close(/*sync=*/false));  // AddFile fsyncs it
    return builder->AddFile(name);
  };
  RETURN_IF_ERROR(write_file(kMetaFile, [&](RecordWriter& out) {
    BufferWriter w;
    w.PutVarint(kSnapshotFormat);
    w.PutString(encoder_->name());
    w.PutVarint(static_cast<uint64_t>(encoder_->dimension()));
    w.PutI64(events_applied);
    return out.Append(w.data());
  }));

  const uint64_t catalog_version = catalog_version_.load();
  std::vector<std::string> catalog_files;
  if (last_snapshot_ && catalog_version == last_snapshot_catalog_version_) {
    for (const auto& name : last_snapshot_catalog_files_) {
      RETURN_IF_ERROR(builder->LinkFrom(*last_snapshot_, name));
    }
    catalog_files = last_snapshot_catalog_files_;
    report.catalog_reused = true;
  } else {
    ASSIGN_OR_RETURN(catalog_files, index_->SaveTo(builder->dir()));
    for (const auto& name : catalog_files) RETURN_IF_ERROR(builder->AddFile(name));
    RETURN_IF_ERROR(write_file(kItemsFile, [&](RecordWriter& out) {
      BufferWriter w;
      for (const auto& item : catalog_.All()) {
        w.Clear();
        PutItem(*item, w);
        RETURN_IF_ERROR(out.Append(w.data()));
      }
      return absl::OkStatus();
    }));
    catalog_files.push_back(kItemsFile);
  }
  catalog_lock.Release();

  if (users_local) {
    RETURN_IF_ERROR(write_file(kUsersFile, [&](RecordWriter& out) {
      BufferWriter w;
      for (const auto& [id, stored] : users) {
        w.Clear();
        if (stored.is_compact()) {
          PutSnapshotUser(id, stored.compact(), w);
        } else {
          ASSIGN_OR_RETURN(std::shared_ptr<const UserProfile> profile, stored.Load());
          PutSnapshotUser(id, *profile, w);
        }
        RETURN_IF_ERROR(out.Append(w.data()));
      }
      return absl::OkStatus();
    }));
  }
  users.clear();
  RETURN_IF_ERROR(write_file(kCollabFile, [&](RecordWriter& out) {
    BufferWriter w;
    w.PutVarint(collab.names.size());
    w.PutVarint(collab.nodes.size());
    RETURN_IF_ERROR(out.Append(w.data()));
    for (size_t i = 0; i < collab.names.size(); i += kChunk) {
      w.Clear();
      for (size_t j = i; j < std::min(collab.names.size(), i + kChunk); ++j) {
        w.PutString(collab.names[j]);
      }
      RETURN_IF_ERROR(out.Append(w.data()));
    }
    for (const auto& node : collab.nodes) {
      w.Clear();
      w.PutVarint(node.item);
      w.PutDouble(node.mass);
      w.PutBool(node.forgotten);
      w.PutVarint(node.neighbors.size());
      for (const auto& [other, weight] : node.neighbors) {
        w.PutVarint(other);
        w.PutFloat(weight);
      }
      RETURN_IF_ERROR(out.Append(w.data()));
    }
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(write_file(kPopularityFile, [&](RecordWriter& out) {
    BufferWriter w;
    w.PutI64(popularity.anchor_us);
    w.PutI64(popularity.latest_us);
    w.PutBool(popularity.started);
    w.PutVarint(popularity.stored.size());
    RETURN_IF_ERROR(out.Append(w.data()));
    for (size_t i = 0; i < popularity.stored.size(); i += kChunk) {
      w.Clear();
      for (size_t j = i; j < std::min(popularity.stored.size(), i + kChunk); ++j) {
        w.PutString(popularity.stored[j].first);
        w.PutDouble(popularity.stored[j].second);
      }
      RETURN_IF_ERROR(out.Append(w.data()));
    }
    return absl::OkStatus();
  }));
  ASSIGN_OR_RETURN(SnapshotInfo info, builder->Commit());
  report.path = info.path;
  report.written = true;
  last_snapshot_ = std::move(info);
  last_snapshot_catalog_version_ = catalog_version;
  last_snapshot_catalog_files_ = std::move(catalog_files);
  last_snapshot_unix_us_.store(last_snapshot_->created_unix_us);
  // The new snapshot holds everything up to `lsn`: older snapshots and log segments go.
  RETURN_IF_ERROR(RemoveSnapshotsExcept(root, lsn));
  if (wal_) RETURN_IF_ERROR(wal_->DropThrough(lsn));
  return report;
}

void Engine::SnapshotLoop() {
  const absl::Duration tick = durability_.snapshot_interval > absl::ZeroDuration()
                                  ? std::min(durability_.snapshot_interval, absl::Seconds(5))
                                  : absl::Seconds(5);
  absl::Time last = absl::Now();
  while (!stop_snapshots_.WaitForNotificationWithTimeout(tick)) {
    const bool due = durability_.snapshot_interval > absl::ZeroDuration() &&
                     absl::Now() - last >= durability_.snapshot_interval;
    if (due || wal_->bytes() >= durability_.snapshot_log_bytes) {
      (void)Snapshot();  // failures are logged and counted; the next tick retries
      last = absl::Now();
    }
  }
}

void Engine::ExportStorageMetrics(metrics::Registry& registry) {
  if (!wal_) return;
  auto sync = registry.Register<metrics::Histogram>(
      "semrec_wal_fsync_duration_seconds",
      "Time of each write-ahead log fdatasync (one sync covers every write waiting for it).");
  if (sync.ok()) {
    wal_sync_latency_.store(&(*sync)->Add({}, metrics::DefaultLatencyBuckets()),
                            std::memory_order_release);
  }
  auto duration = registry.Register<metrics::Histogram>(
      "semrec_snapshot_duration_seconds", "Time to write one snapshot.");
  auto failures = registry.Register<metrics::Counter>(
      "semrec_snapshot_failures_total", "Snapshots that failed (see the error log).");
  if (duration.ok() && failures.ok()) {
    absl::MutexLock lock(&snapshot_mu_);  // the snapshot thread is running already
    snapshot_latency_ = &(*duration)->Add(
        {}, metrics::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600});
    snapshot_failures_ = &(*failures)->Add({});
  }
  auto age = registry.Register<metrics::Gauge>(
      "semrec_snapshot_age_seconds", "Seconds since the last snapshot was written.");
  auto wal_bytes = registry.Register<metrics::Gauge>(
      "semrec_wal_bytes", "Bytes in the write-ahead log (what start-up would replay).");
  if (!age.ok() || !wal_bytes.ok()) return;
  metrics::Gauge* age_gauge = &(*age)->Add({});
  metrics::Gauge* bytes_gauge = &(*wal_bytes)->Add({});
  registry.AddCollector([this, age_gauge, bytes_gauge] {
    age_gauge->Set(
        static_cast<double>(absl::ToUnixMicros(absl::Now()) - last_snapshot_unix_us_.load()) / 1e6);
    bytes_gauge->Set(static_cast<double>(wal_->bytes()));
  });
}

}  // namespace semrec
