// ChangeFeed: the ordered log of state changes that every semrec replica applies, so that catalog
// writes accepted by any replica reach all of them and the collaborative and popularity signals
// learned from Feedback are the same everywhere. Entries are engine records
// (core/engine/state_codec.h) tagged with the replica that appended them; snapshots (a directory
// of files covering every entry up to a position) let a new replica start without replaying or
// re-embedding everything.
//
//   ASSIGN_OR_RETURN(FeedPosition at, feed.Append("replica-a", record));
//   ASSIGN_OR_RETURN(auto entries, feed.Read(applied, 256, absl::Seconds(1)));
//
// Thread-safe: implementations may be called from any thread; Read is meant for one reader.
#ifndef SEMREC_CORE_REPLICATION_CHANGE_FEED_H_
#define SEMREC_CORE_REPLICATION_CHANGE_FEED_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace semrec {

// A position in the feed: Redis stream ids "<ms>-<seq>". Zero: before the first entry.
struct FeedPosition {
  uint64_t ms = 0;
  uint64_t seq = 0;

  static std::optional<FeedPosition> Parse(std::string_view text);
  std::string ToString() const;
  bool zero() const { return ms == 0 && seq == 0; }
  friend bool operator<(const FeedPosition& a, const FeedPosition& b) {
    return std::tie(a.ms, a.seq) < std::tie(b.ms, b.seq);
  }
  friend bool operator==(const FeedPosition& a, const FeedPosition& b) {
    return a.ms == b.ms && a.seq == b.seq;
  }
  friend bool operator!=(const FeedPosition& a, const FeedPosition& b) { return !(a == b); }
  friend bool operator<=(const FeedPosition& a, const FeedPosition& b) { return !(b < a); }
};

struct FeedEntry {
  FeedPosition position;
  std::string origin;  // the replica that appended it ("" for signals published with a profile)
  std::string record;
};

class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;

  // Appends `record` from replica `origin`; returns its position. UNAVAILABLE when the feed
  // cannot be reached (then the entry may or may not have been appended).
  virtual absl::StatusOr<FeedPosition> Append(std::string_view origin, std::string_view record) = 0;

  // Up to `max` entries after `after`, oldest first; waits up to `wait` when there is none yet
  // (an empty result: none came). DATA_LOSS when entries after `after` are gone (trimmed after a
  // newer snapshot, or the feed was lost): the reader must start again from a snapshot.
  virtual absl::StatusOr<std::vector<FeedEntry>> Read(FeedPosition after, size_t max,
                                                      absl::Duration wait) = 0;

  // The newest entry's position (zero when the feed is empty).
  virtual absl::StatusOr<FeedPosition> Head() = 0;

  // Snapshots. Publish stores the files `files` of directory `dir` as the snapshot at `position`
  // (covering every entry up to it), replacing the previous one, and drops the entries that no
  // snapshot reader can need any more. Fetch recreates the latest snapshot's directory (same
  // name as `dir` had) under `root` (emptied first) and returns its position; nullopt when there
  // is none.
  virtual absl::Status PublishSnapshot(FeedPosition position, const std::string& dir,
                                       const std::vector<std::string>& files) = 0;
  virtual absl::StatusOr<std::optional<FeedPosition>> FetchSnapshot(const std::string& root) = 0;
  // True when `owner` may write the next snapshot: a lease the other replicas see for `ttl`.
  virtual absl::StatusOr<bool> AcquireSnapshotLease(std::string_view owner, absl::Duration ttl) = 0;
};

}  // namespace semrec

#endif  // SEMREC_CORE_REPLICATION_CHANGE_FEED_H_
