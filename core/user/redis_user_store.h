// RedisUserStore: user profiles kept in Redis, so that several semrec replicas share them. One key
// per user, `<prefix>:u:{<user_id>}` (the braces are a Redis Cluster hash tag), holding the profile
// encoded by core/user/profile_codec.h. Writes are optimistic transactions (WATCH, GET, apply the
// events in C++, MULTI/SET/EXEC, retried on conflict), so concurrent writers in any number of
// processes never lose an update; nothing is cached, so every replica reads its own and the
// others' acknowledged writes.
//
//   ASSIGN_OR_RETURN(auto store, RedisUserStore::Create(model_options, {.url = "redis://r:6379"}));
//   ASSIGN_OR_RETURN(auto applied, store->ApplyEvents("u1", events));  // UNAVAILABLE: Redis down
//   ASSIGN_OR_RETURN(auto profile, store->Get("u1"));
//
// Thread-safe: a pool of connections; writers for one user in this process take turns.
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
#include "core/user/user_store.h"

namespace semrec {

struct RedisUserStoreOptions {
  // redis://[[user]:password@]host[:port][/db]; port 6379 and database 0 when absent.
  std::string url;
  size_t pool_size = 8;                                      // connections per process, 1..1024
  absl::Duration connect_timeout = absl::Milliseconds(500);  // per connection attempt
  // Per command; also the longest wait for a free connection or for this process's other writer
  // of the same user.
  absl::Duration command_timeout = absl::Milliseconds(500);
  // A profile expires this long after its last write; zero: never. size() does not see expiries.
  absl::Duration profile_ttl = absl::ZeroDuration();
  // Optimistic transaction attempts per ApplyEvents before it gives up with ABORTED.
  int max_attempts = 64;
  std::string key_prefix = "semrec";  // keys: <prefix>:u:{<user_id>} and the counter <prefix>:users

  absl::Status Validate() const;
};

class RedisUserStore final : public UserStore {
 public:
  // Checks the options and that Redis answers (UNAVAILABLE when it does not). Ignores SIGPIPE
  // process-wide when it is not handled: hiredis writes to sockets that Redis may have closed.
  static absl::StatusOr<std::unique_ptr<RedisUserStore>> Create(UserModelOptions model_options,
                                                                RedisUserStoreOptions options);
  ~RedisUserStore() override;

  absl::StatusOr<std::shared_ptr<const UserProfile>> Get(std::string_view user_id) const override;
  absl::StatusOr<std::vector<bool>> ApplyEvents(std::string_view user_id,
                                                absl::Span<const ResolvedEvent> events) override;
  absl::StatusOr<bool> Delete(std::string_view user_id) override;
  // Users created minus users deleted, from a counter key kept beside the profiles (one GET; the
  // last value read when Redis does not answer). Profiles that expired are still counted.
  size_t size() const override;
  // Redis holds the profiles: the engine neither snapshots nor replays them.
  bool StoresProfilesInProcess() const override { return false; }

  // Optimistic transactions that found the profile changed by another writer and started over.
  int64_t conflicts() const { return conflicts_.load(std::memory_order_relaxed); }

 private:
  class Connection;  // a pooled hiredis connection (redis_user_store.cc)
  struct Address {
    std::string host;
    int port = 6379;
    int db = 0;
    std::string user, password;
  };
  static absl::StatusOr<Address> ParseUrl(std::string_view url);

  RedisUserStore(UserModelOptions model_options, RedisUserStoreOptions options, Address address);

  // A connection from the pool (a new one when none is idle and the pool is not full).
  absl::StatusOr<std::unique_ptr<Connection>> Acquire() const;
  // Returns `c` to the pool when it is healthy and idle; closes it otherwise, with every idle one
  // (after a failure they are suspect: Redis may have restarted).
  void Release(std::unique_ptr<Connection> c) const;
  absl::StatusOr<std::unique_ptr<Connection>> Connect() const;
  // Logs when Redis stops or starts answering (transitions only, not every failed call).
  void NoteReachable(bool reachable, const std::string& what) const;

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
  const Address address_;
  const std::string where_;  // "user store redis host:port", for messages
  const std::string count_key_;

  mutable absl::Mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(pool_mu_);
  mutable size_t open_ ABSL_GUARDED_BY(pool_mu_) = 0;  // idle and in use

  std::array<WriterStripe, kStripes> stripes_;
  std::atomic<int64_t> conflicts_{0};
  mutable std::atomic<int64_t> last_size_{0};
  mutable std::atomic<bool> reachable_{true};
};

}  // namespace semrec

#endif  // SEMREC_CORE_USER_REDIS_USER_STORE_H_
