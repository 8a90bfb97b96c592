#include "core/storage/write_ahead_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"

namespace semrec {

// An open segment file. Shared by whoever writes or syncs it, so a rotation never closes a file
// descriptor that a sync running outside the lock still uses.
struct WriteAheadLog::File {
  explicit File(int fd) : fd(fd) {}
  ~File() { ::close(fd); }
  const int fd;
};

struct WriteAheadLog::Segment {
  uint64_t first_lsn = 0;  // LSN of its first record (= the last LSN before it + 1)
  std::string path;
  uint64_t size = 0;
  std::shared_ptr<File> file;  // set only for the segment being written
};

namespace {

constexpr char kPrefix[] = "wal-";
constexpr char kSuffix[] = ".log";

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("write-ahead log write to ", path, " failed (",
                                                 std::strerror(errno),
                                                 "); writes are refused until restart"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

WriteAheadLog::WriteAheadLog(const WalOptions& options) : options_(options) {}

WriteAheadLog::~WriteAheadLog() {
  stop_.Notify();
  if (sync_thread_.joinable()) sync_thread_.join();
  (void)Sync();
}

absl::StatusOr<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(const WalOptions& options,
                                                                   uint64_t after_lsn,
                                                                   const ReplayFn& replay,
                                                                   WalReplayStats* stats) {
  if (options.dir.empty()) return absl::InvalidArgumentError("write-ahead log needs a directory");
  if (options.segment_bytes < 4096) {
    return absl::InvalidArgumentError("write-ahead log segments must be at least 4096 bytes");
  }
  if (options.sync == WalSync::kPeriodic && options.sync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("write-ahead log sync interval must be positive");
  }
  RETURN_IF_ERROR(MakeDirectories(options.dir));
  const auto files = ListNumbered(options.dir, kPrefix, kSuffix);  // oldest first
  std::unique_ptr<WriteAheadLog> wal(new WriteAheadLog(options));
  WalReplayStats local;
  WalReplayStats& st = stats ? *stats : local;
  st = {};

  uint64_t last = 0;  // last LSN seen in the log
  std::string payload;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [first, path] = files[i];
    const bool is_last = i + 1 == files.size();
    if (last == 0 && first > after_lsn + 1) {
      return absl::DataLossError(absl::StrCat(
          "write-ahead log starts at record ", first, " but the snapshot ends at record ",
          after_lsn, ": records in between are missing (", path, ")"));
    }
    if (last != 0 && first != last + 1) {
      return absl::DataLossError(absl::StrCat("write-ahead log segment ", path, " starts at record ",
                                              first, " but the previous one ends at ", last));
    }
    ASSIGN_OR_RETURN(auto reader, RecordReader::Open(path));
    uint64_t expected = first;
    uint64_t records = 0;
    RecordReader::Result r;
    std::string torn_reason;
    while ((r = reader->Next(&payload)) == RecordReader::Result::kRecord) {
      BufferReader in(payload);
      uint64_t lsn = 0;
      if (!in.GetFixed64(&lsn) || lsn != expected) {
        torn_reason = absl::StrCat("record ", expected, " has sequence number ", lsn);
        r = RecordReader::Result::kTorn;
        break;
      }
      if (lsn > after_lsn) {
        const std::string_view body(payload.data() + sizeof(uint64_t),
                                    payload.size() - sizeof(uint64_t));
        if (absl::Status s = replay(lsn, body); !s.ok()) {
          return absl::Status(s.code(), absl::StrCat("replaying write-ahead log record ", lsn,
                                                     " (", path, "): ", s.message()));
        }
        ++st.records_replayed;
      }
      ++records;
      ++expected;
    }
    if (records > 0) last = expected - 1;
    auto segment = std::make_shared<Segment>();
    segment->first_lsn = first;
    segment->path = path;
    segment->size = reader->good_offset();
    if (r == RecordReader::Result::kTorn) {
      if (!is_last) {
        return absl::DataLossError(absl::StrCat(
            "write-ahead log segment ", path, " is corrupt at byte ", reader->good_offset(),
            torn_reason.empty() ? "" : " (" + torn_reason + ")",
            " and later segments exist, so it is not a torn tail; refusing to start. Move the "
            "segments from this one on out of the directory to start without them."));
      }
      const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      off_t full = fd >= 0 ? ::lseek(fd, 0, SEEK_END) : -1;
      if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(reader->good_offset())) != 0 ||
          ::fdatasync(fd) != 0) {
        if (fd >= 0) ::close(fd);
        return absl::InternalError(absl::StrCat("cannot cut the torn tail of ", path, ": ",
                                                std::strerror(errno)));
      }
      ::close(fd);
      st.torn_bytes_cut = full > 0 ? static_cast<uint64_t>(full) - reader->good_offset() : 0;
    }
    reader.reset();
    if (records == 0) {
      // Empty (or wholly torn) segment: nothing to keep.
      if (::unlink(path.c_str()) != 0) return ErrnoError("cannot remove", path);
      continue;
    }
    ++st.segments;
    absl::MutexLock lock(&wal->mu_);
    wal->segments_.push_back(std::move(segment));
  }
  if (last < after_lsn) last = after_lsn;  // log fully covered by the snapshot (or empty)
  st.last_lsn = last;
  {
    absl::MutexLock lock(&wal->mu_);
    wal->last_lsn_ = wal->written_lsn_ = wal->durable_lsn_ = last;
    RETURN_IF_ERROR(wal->StartSegmentLocked());
  }
  RETURN_IF_ERROR(SyncPath(options.dir));
  if (options.sync == WalSync::kPeriodic) {
    wal->sync_thread_ = std::thread([w = wal.get()] { w->PeriodicSyncLoop(); });
  }
  return wal;
}

absl::Status WriteAheadLog::StartSegmentLocked() {
  auto segment = std::make_shared<Segment>();
  segment->first_lsn = last_lsn_ + 1;
  segment->path = options_.dir + "/" + NumberedName(kPrefix, segment->first_lsn, kSuffix);
  const int fd = ::open(segment->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
                        0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot create write-ahead log segment ",
                                               segment->path, ": ", std::strerror(errno)));
  }
  segment->file = std::make_shared<File>(fd);
  segments_.push_back(std::move(segment));
  return absl::OkStatus();
}

absl::Status WriteAheadLog::WriteLocked(const std::string& data) {
  Segment& active = *segments_.back();
  absl::Status s = WriteAll(active.file->fd, data, active.path);
  if (!s.ok()) {
    broken_ = s;
    return s;
  }
  active.size += data.size();
  written_lsn_ = last_lsn_;
  return absl::OkStatus();
}

absl::Status WriteAheadLog::SyncFile(const File& file, const std::string& path,
                                     uint64_t records) {
  const absl::Time start = absl::Now();
  if (::fdatasync(file.fd) != 0) {
    return absl::UnavailableError(absl::StrCat("write-ahead log fsync of ", path,
                                               " failed (", std::strerror(errno),
                                               "); writes are refused until restart"));
  }
  if (options_.on_sync) options_.on_sync(absl::Now() - start, records);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> WriteAheadLog::Append(std::string_view record) {
  if (record.size() + sizeof(uint64_t) > kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a write-ahead log record of ", record.size(),
                                                   " bytes exceeds the limit"));
  }
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  const uint64_t lsn = ++last_lsn_;
  const std::string_view lsn_bytes(reinterpret_cast<const char*>(&lsn), sizeof(lsn));
  AppendFramedRecord(lsn_bytes, record, &pending_);
  if (options_.sync == WalSync::kPeriodic) {
    // Written at once (pending_ is only a reused buffer here); the sync thread syncs it.
    absl::Status written = WriteLocked(pending_);
    pending_.clear();
    RETURN_IF_ERROR(written);
    if (segments_.back()->size >= options_.segment_bytes) RETURN_IF_ERROR(RotateLocked());
    return lsn;
  }
  // kAlways: group commit. Whoever finds no write in progress becomes the leader and writes and
  // syncs everything pending, outside the lock; the others wait for their LSN to become durable.
  while (durable_lsn_ < lsn) {
    if (!broken_.ok()) return broken_;
    if (flushing_) {
      // Wake when this record is durable, or to lead the next flush. (Waiting only for the flush
      // to end would let a new leader start first and hold back everyone whose record is already
      // durable for one more sync: a convoy that defeats the grouping.)
      struct Wait {
        WriteAheadLog* wal;
        uint64_t lsn;
      } wait{this, lsn};
      mu_.Await(absl::Condition(
          +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return w->wal->durable_lsn_ >= w->lsn || !w->wal->flushing_ || !w->wal->broken_.ok();
          },
          &wait));
      continue;
    }
    flushing_ = true;
    std::string batch;
    batch.swap(pending_);
    const uint64_t batch_last = last_lsn_;
    const uint64_t batch_records = batch_last - durable_lsn_;
    std::shared_ptr<Segment> active = segments_.back();
    std::shared_ptr<File> file = active->file;
    mu_.Unlock();
    absl::Status s = WriteAll(file->fd, batch, active->path);
    if (s.ok()) s = SyncFile(*file, active->path, batch_records);
    mu_.Lock();
    flushing_ = false;
    if (!s.ok()) {
      broken_ = s;
      return s;
    }
    active->size += batch.size();
    written_lsn_ = durable_lsn_ = batch_last;
    if (active->size >= options_.segment_bytes) RETURN_IF_ERROR(RotateLocked());
  }
  return lsn;
}

absl::Status WriteAheadLog::RotateLocked() {
  Segment& active = *segments_.back();
  if (!pending_.empty()) {
    std::string batch;
    batch.swap(pending_);
    RETURN_IF_ERROR(WriteLocked(batch));
  }
  if (durable_lsn_ < written_lsn_) {
    if (absl::Status s = SyncFile(*active.file, active.path, written_lsn_ - durable_lsn_); !s.ok()) {
      broken_ = s;
      return s;
    }
    durable_lsn_ = written_lsn_;
  }
  if (active.size == 0) return absl::OkStatus();  // nothing written since the last rotation
  active.file.reset();
  if (absl::Status s = StartSegmentLocked(); !s.ok()) {
    broken_ = s;
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> WriteAheadLog::Rotate() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](WriteAheadLog* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) { return !w->flushing_; }, this));
  if (!broken_.ok()) return broken_;
  RETURN_IF_ERROR(RotateLocked());
  return last_lsn_;
}

absl::Status WriteAheadLog::DropThrough(uint64_t lsn) {
  std::vector<std::string> doomed;
  {
    absl::MutexLock lock(&mu_);
    // Segment i holds LSNs [first_i, first_{i+1}); drop it when first_{i+1} - 1 <= lsn.
    size_t drop = 0;
    while (drop + 1 < segments_.size() && segments_[drop + 1]->first_lsn <= lsn + 1) ++drop;
    for (size_t i = 0; i < drop; ++i) doomed.push_back(segments_[i]->path);
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(drop));
  }
  for (const auto& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("cannot remove", path);
  }
  return doomed.empty() ? absl::OkStatus() : SyncPath(options_.dir);
}

absl::Status WriteAheadLog::Sync() {
  std::shared_ptr<Segment> active;
  std::shared_ptr<File> file;
  uint64_t target, records;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](WriteAheadLog* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) { return !w->flushing_; },
        this));
    if (!broken_.ok()) return broken_;
    if (!pending_.empty()) {
      std::string batch;
      batch.swap(pending_);
      RETURN_IF_ERROR(WriteLocked(batch));
    }
    if (durable_lsn_ == written_lsn_) return absl::OkStatus();
    active = segments_.back();
    file = active->file;
    target = written_lsn_;
    records = target - durable_lsn_;
  }
  absl::Status s = SyncFile(*file, active->path, records);
  absl::MutexLock lock(&mu_);
  if (!s.ok()) {
    broken_ = s;
    return s;
  }
  durable_lsn_ = std::max(durable_lsn_, target);
  return absl::OkStatus();
}

void WriteAheadLog::PeriodicSyncLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.sync_interval)) {
    (void)Sync();  // an error marks the log broken; Append reports it
  }
}

uint64_t WriteAheadLog::last_lsn() const {
  absl::MutexLock lock(&mu_);
  return last_lsn_;
}

uint64_t WriteAheadLog::bytes() const {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& s : segments_) total += s->size;
  return total;
}

size_t WriteAheadLog::segments() const {
  absl::MutexLock lock(&mu_);
  return segments_.size();
}

}  // namespace semrec
