// RedisUserStore: user profiles kept in Redis, so that several semrec replicas share them. One key
// per user, `<prefix>:u:{<user_id>}` (the braces are a Redis Cluster hash tag), holding the profile
// encoded by core/user/profile_codec.h. Writes are optimistic transactions (WATCH, GET, apply the
// events in C++, MULTI/SET/EXEC, retried on conflict), so concurrent writers in any number of
// processes never lose an update; nothing is cached, so every replica reads its own and the
// others' acknowledged writes.
//
//   ASSIGN_OR_RETURN(auto store, RedisUserStore::Create(model_options, {.redis = {.url = "redis://r:6379"}}));
//   ASSIGN_OR_RETURN(auto applied, store->ApplyEvents("u1", events));  // UNAVAILABLE: Redis down
//   ASSIGN_OR_RETURN(auto profile, store->Get("u1"));
//
// Thread-safe: a pool of connections (core/redis); writers for one user in this process take turns.
#ifndef SEMREC_CORE_USER_REDIS_USER_STORE_H_
#define SEMREC_CORE_USER_REDIS_USER_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/redis/redis_client.h"
#include "core/user/user_store.h"

namespace semrec {

struct RedisUserStoreOptions {
  // The connection (URL, pool size, timeouts); the command timeout also bounds the wait for this
  // process's other writer of the same user. Used by Create without a shared client.
  RedisOptions redis;
  // A profile expires this long after its last write; zero: never. size() does not see expiries.
  absl::Duration profile_ttl = absl::ZeroDuration();
  // Optimistic transaction attempts per ApplyEvents before it gives up with ABORTED.
  int max_attempts = 64;
  // Keys: <prefix>:u:{<user_id>}, the counter <prefix>:users, and the change feed <prefix>:feed
  // that ApplyEvents publishes to (core/replication/redis_change_feed.h).
  std::string key_prefix = "semrec";

  absl::Status Validate() const;
};

class RedisUserStore final : public UserStore {
 public:
  // Checks the options and that Redis answers (UNAVAILABLE when it does not).
  static absl::StatusOr<std::unique_ptr<RedisUserStore>> Create(UserModelOptions model_options,
                                                                RedisUserStoreOptions options);
  // Shares `client`'s connections (the options' url, pool size and timeouts are not used).
  static absl::StatusOr<std::unique_ptr<RedisUserStore>> Create(
      UserModelOptions model_options, RedisUserStoreOptions options,
      std::shared_ptr<const RedisClient> client);
  ~RedisUserStore() override;

  absl::StatusOr<std::shared_ptr<const UserProfile>> Get(std::string_view user_id) const override;
  // With `publish`: the change record it returns is appended to the stream <prefix>:feed in the
  // same MULTI/EXEC as the profile (both keys must be on one Redis node: not Redis Cluster).
  // `recent_before`: from the profile read in the transaction that wrote (after any retries).
  absl::StatusOr<std::vector<bool>> ApplyEvents(
      std::string_view user_id, absl::Span<const ResolvedEvent> events,
      const ChangeRecordFn& publish = {},
      std::vector<RecentEvent>* recent_before = nullptr) override;
  absl::StatusOr<bool> Delete(std::string_view user_id) override;
  // Users created minus users deleted, from a counter key kept beside the profiles (one GET; the
  // last value read when Redis does not answer). Profiles that expired are still counted.
  size_t size() const override;
  // Redis holds the profiles: the engine neither snapshots nor replays them.
  bool StoresProfilesInProcess() const override { return false; }
  bool PublishesChanges() const override { return true; }

  // Optimistic transactions that found the profile changed by another writer and started over.
  int64_t conflicts() const { return conflicts_.load(std::memory_order_relaxed); }
  const RedisClient& client() const { return *client_; }

 private:
  RedisUserStore(UserModelOptions model_options, RedisUserStoreOptions options,
                 std::shared_ptr<const RedisClient> client);

  std::string UserKey(std::string_view user_id) const;

  // One writer per user at a time in this process, so that optimistic retries happen only
  // between processes. A timed lock: waiting is bounded by the command timeout.
  struct WriterStripe {
    absl::Mutex mu;
    bool busy ABSL_GUARDED_BY(mu) = false;
  };
  static constexpr size_t kStripes = 64;
  WriterStripe& StripeFor(std::string_view user_id);

  const UserModelOptions model_options_;
  const RedisUserStoreOptions options_;
  const std::shared_ptr<const RedisClient> client_;
  const std::string count_key_;
  const std::string feed_key_;

  std::array<WriterStripe, kStripes> stripes_;
  std::atomic<int64_t> conflicts_{0};
  mutable std::atomic<int64_t> last_size_{0};
};

}  // namespace semrec

#endif  // SEMREC_CORE_USER_REDIS_USER_STORE_H_
