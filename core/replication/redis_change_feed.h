// RedisChangeFeed: the ChangeFeed on Redis. Entries go to the stream <prefix>:feed (XADD, read
// with blocking XREAD on a connection of its own); the latest snapshot's files are stored in
// chunks under <prefix>:snap:<position>:<file>:<n> and described by the key <prefix>:snapshot; a
// lease key <prefix>:snapshot:lease elects the replica that writes the next one. Publishing a
// snapshot keeps the previous one and trims the stream up to it, so that a replica still loading
// the previous snapshot can catch up from the stream. The user store publishes Feedback signals
// into the same stream (core/user/redis_user_store.h), so all keys must live on one Redis node.
//
//   ASSIGN_OR_RETURN(auto feed, RedisChangeFeed::Create(client, "semrec"));
//
// Thread-safe: commands use the client's pool; Read has its own connection under a mutex.
#ifndef SEMREC_CORE_REPLICATION_REDIS_CHANGE_FEED_H_
#define SEMREC_CORE_REPLICATION_REDIS_CHANGE_FEED_H_

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "core/redis/redis_client.h"
#include "core/replication/change_feed.h"

namespace semrec {

class RedisChangeFeed final : public ChangeFeed {
 public:
  // Bytes per stored snapshot chunk (Redis values are at most 512 MiB; smaller chunks keep each
  // command short).
  static constexpr size_t kChunkBytes = 4u << 20;

  static absl::StatusOr<std::unique_ptr<RedisChangeFeed>> Create(
      std::shared_ptr<const RedisClient> client, std::string key_prefix);

  absl::StatusOr<FeedPosition> Append(std::string_view origin, std::string_view record) override;
  absl::StatusOr<std::vector<FeedEntry>> Read(FeedPosition after, size_t max,
                                              absl::Duration wait) override;
  absl::StatusOr<FeedPosition> Head() override;
  absl::Status PublishSnapshot(FeedPosition position, const std::string& dir,
                               const std::vector<std::string>& files) override;
  absl::StatusOr<std::optional<FeedPosition>> FetchSnapshot(const std::string& root) override;
  absl::StatusOr<bool> AcquireSnapshotLease(std::string_view owner, absl::Duration ttl) override;

 private:
  RedisChangeFeed(std::shared_ptr<const RedisClient> client, std::string key_prefix);
  // DATA_LOSS when entries after `after` were trimmed or the stream was lost or reset.
  absl::Status CheckContinuity(RedisClient::Connection& c, FeedPosition after);

  const std::shared_ptr<const RedisClient> client_;
  const std::string prefix_;
  const std::string stream_key_;
  const std::string manifest_key_;
  const std::string lease_key_;

  absl::Mutex read_mu_;
  std::unique_ptr<RedisClient::Connection> reader_ ABSL_GUARDED_BY(read_mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(read_mu_) = absl::InfinitePast();
};

}  // namespace semrec

#endif  // SEMREC_CORE_REPLICATION_REDIS_CHANGE_FEED_H_
