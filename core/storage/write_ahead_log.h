// WriteAheadLog: an append-only log of checksummed records in numbered segment files
// (<dir>/wal-<first lsn>.log). Every record gets the next log sequence number (LSN). Append returns
// once the record is as durable as the sync policy says:
//   kAlways:   written and fdatasync'ed before Append returns. Concurrent appenders share one
//              write + fdatasync (group commit), so throughput grows with concurrency.
//   kPeriodic: written to the OS before Append returns (survives a crash of the process), and
//              fdatasync'ed every `sync_interval` by a background thread (a power loss may lose
//              the last interval).
// Open replays the records after a snapshot's LSN and cuts a torn tail (a record cut short by a
// crash, or failing its checksum) off the last segment; corruption anywhere else is an error,
// because records after it would be lost silently. After a write error the log refuses further
// appends (UNAVAILABLE) rather than acknowledge records it may not have stored.
//
//   ASSIGN_OR_RETURN(auto wal, WriteAheadLog::Open(options, snapshot_lsn, apply, &stats));
//   ASSIGN_OR_RETURN(uint64_t lsn, wal->Append(payload));   // durable now
//   ASSIGN_OR_RETURN(uint64_t covered, wal->Rotate());        // before writing a snapshot
//   wal->DropThrough(covered);                                // after the snapshot is published
//
// Thread-safe.
#ifndef SEMREC_CORE_STORAGE_WRITE_AHEAD_LOG_H_
#define SEMREC_CORE_STORAGE_WRITE_AHEAD_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace semrec {

enum class WalSync { kAlways, kPeriodic };

struct WalOptions {
  std::string dir;                                  // created if missing
  WalSync sync = WalSync::kAlways;
  absl::Duration sync_interval = absl::Milliseconds(100);  // kPeriodic only
  uint64_t segment_bytes = 64ull << 20;             // a new segment starts beyond this size
  // Called after every fdatasync with its duration and the number of records it made durable.
  std::function<void(absl::Duration, uint64_t records)> on_sync;
};

struct WalReplayStats {
  uint64_t segments = 0;
  uint64_t records_replayed = 0;  // records after `after_lsn` handed to the replay function
  uint64_t last_lsn = 0;
  uint64_t torn_bytes_cut = 0;    // bytes cut off the last segment's tail
};

class WriteAheadLog {
 public:
  using ReplayFn = std::function<absl::Status(uint64_t lsn, std::string_view record)>;

  // Opens (or creates) the log in options.dir, calls `replay` for every record with an LSN above
  // `after_lsn` in order (an error from it aborts the open), cuts a torn tail, and starts a fresh
  // segment for new appends.
  static absl::StatusOr<std::unique_ptr<WriteAheadLog>> Open(const WalOptions& options,
                                                             uint64_t after_lsn,
                                                             const ReplayFn& replay,
                                                             WalReplayStats* stats);
  ~WriteAheadLog();  // syncs what was written

  // Appends one record; returns its LSN once durable per the sync policy.
  absl::StatusOr<uint64_t> Append(std::string_view record);
  // Makes everything written durable and starts a new segment. Returns the last LSN held by the
  // older segments (every record appended before the call).
  absl::StatusOr<uint64_t> Rotate();
  // Deletes the segments whose records all have LSN <= `lsn` (never the segment being written).
  absl::Status DropThrough(uint64_t lsn);
  // fdatasync of everything written so far.
  absl::Status Sync();

  uint64_t last_lsn() const;
  uint64_t bytes() const;  // bytes in the segments on disk
  size_t segments() const;

 private:
  struct File;
  struct Segment;
  explicit WriteAheadLog(const WalOptions& options);
  absl::Status StartSegmentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteLocked(const std::string& data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes what is pending, syncs, and starts a new segment if the current one holds records.
  absl::Status RotateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SyncFile(const File& file, const std::string& path, uint64_t records);
  void PeriodicSyncLoop();

  const WalOptions options_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t last_lsn_ ABSL_GUARDED_BY(mu_) = 0;     // last LSN assigned
  uint64_t written_lsn_ ABSL_GUARDED_BY(mu_) = 0;  // last LSN handed to write()
  uint64_t durable_lsn_ ABSL_GUARDED_BY(mu_) = 0;  // last LSN fdatasync'ed
  // kAlways: framed records awaiting a leader; kPeriodic: the buffer each record is framed in.
  std::string pending_ ABSL_GUARDED_BY(mu_);
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;     // kAlways: a leader is writing outside mu_
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread sync_thread_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_STORAGE_WRITE_AHEAD_LOG_H_
