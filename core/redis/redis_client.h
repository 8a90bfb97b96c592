// RedisClient: a pool of hiredis connections to one Redis server, shared by semrec's Redis-backed
// modules (the user store, the replication feed). Parses redis:// URLs, connects with timeouts,
// sends pipelines (several commands, one round trip), turns failures into absl::Status
// (UNAVAILABLE when Redis is down, slow or busy), and reconnects after Redis restarts.
//
//   ASSIGN_OR_RETURN(auto redis, RedisClient::Create({.url = "redis://r:6379"}, "user store"));
//   ASSIGN_OR_RETURN(auto replies, redis->Run({{"GET", key}}));         // idempotent commands
//   ASSIGN_OR_RETURN(auto lease, redis->Acquire());                     // transactions
//   ASSIGN_OR_RETURN(auto r, lease->Pipeline({{"WATCH", key}, {"GET", key}}));
//   lease.clean = true; redis->Release(std::move(lease));
//
// Thread-safe: the pool is locked; a leased connection belongs to one thread until released.
#ifndef SEMREC_CORE_REDIS_REDIS_CLIENT_H_
#define SEMREC_CORE_REDIS_REDIS_CLIENT_H_

#include <atomic>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct redisContext;
struct redisReply;

namespace semrec {

struct RedisOptions {
  // redis://[[user]:password@]host[:port][/db]; port 6379 and database 0 when absent.
  std::string url;
  size_t pool_size = 8;                                      // connections per process, 1..1024
  absl::Duration connect_timeout = absl::Milliseconds(500);  // per connection attempt
  // Per command; also the longest wait for a free connection.
  absl::Duration command_timeout = absl::Milliseconds(500);

  absl::Status Validate() const;
};

// One reply, owned. Views into it live as long as it does.
class RedisReply {
 public:
  explicit RedisReply(redisReply* r) : r_(r) {}
  RedisReply(RedisReply&& other) noexcept : r_(other.r_) { other.r_ = nullptr; }
  RedisReply& operator=(RedisReply&& other) noexcept;
  ~RedisReply();

  bool nil() const;
  bool error() const;
  bool string() const;  // a bulk or simple string
  bool integer() const;
  bool array() const;
  std::string_view text() const;  // strings and errors
  long long value() const;        // integers
  size_t size() const;            // arrays
  // Element i of an array, not owned (lives as long as this reply).
  const redisReply* element(size_t i) const;
  const redisReply* get() const { return r_; }

 private:
  redisReply* r_;
};

// Views over elements of array replies (nested arrays: XREAD, XINFO).
bool ReplyIsNil(const redisReply* r);
bool ReplyIsError(const redisReply* r);
bool ReplyIsArray(const redisReply* r);
bool ReplyIsString(const redisReply* r);
std::string_view ReplyText(const redisReply* r);
long long ReplyInteger(const redisReply* r);
size_t ReplySize(const redisReply* r);
const redisReply* ReplyElement(const redisReply* r, size_t i);

class RedisClient {
 public:
  using Args = std::initializer_list<std::string_view>;

  // A connection leased from the pool.
  class Connection {
   public:
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Sends `commands` in one round trip and reads every reply. Fails (UNAVAILABLE) only when
    // the connection does; error replies are returned for the caller to judge.
    absl::StatusOr<std::vector<RedisReply>> Pipeline(std::initializer_list<Args> commands);
    absl::StatusOr<std::vector<RedisReply>> Pipeline(
        const std::vector<std::vector<std::string>>& commands);
    // Changes this connection's reply timeout (a blocking read waits longer than a command).
    absl::Status SetTimeout(absl::Duration timeout);

    bool broken() const;
    bool timed_out() const;
    // Failed on a connection that sat in the pool, and not by a timeout: most likely Redis closed
    // it (a restart), so the request has not run and may be sent again on a new connection.
    bool stale() const { return reused && broken() && !timed_out(); }

    bool reused = false;  // came from the pool: may have died with a Redis restart since
    bool clean = false;   // no transaction state left on the server: may go back to the pool

   private:
    friend class RedisClient;
    Connection(redisContext* ctx, const RedisClient& client) : ctx_(ctx), client_(client) {}
    template <typename Commands>
    absl::StatusOr<std::vector<RedisReply>> Send(const Commands& commands, size_t n);
    absl::Status Failed() const;

    redisContext* ctx_;
    const RedisClient& client_;
    absl::Duration timeout_;
  };

  // Checks the options and that Redis answers PING (UNAVAILABLE when it does not). `what` names
  // the user in messages ("user store redis host:port: ..."). Ignores SIGPIPE process-wide when
  // it is not handled: hiredis writes to sockets that Redis may have closed.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Create(RedisOptions options,
                                                             std::string what);
  ~RedisClient();

  // A connection from the pool (a new one when none is idle and the pool is not full).
  absl::StatusOr<std::unique_ptr<Connection>> Acquire() const;
  // Returns `c` to the pool when it is clean and healthy; closes it otherwise, with every idle
  // one (after a failure they are suspect: Redis may have restarted).
  void Release(std::unique_ptr<Connection> c) const;
  // A new connection outside the pool (for blocking reads), with its own reply timeout.
  absl::StatusOr<std::unique_ptr<Connection>> ConnectDedicated(absl::Duration timeout) const;

  // Runs `commands` (idempotent: resent once on a new connection when a pooled one turns out to
  // be dead) on a pooled connection.
  absl::StatusOr<std::vector<RedisReply>> Run(std::initializer_list<Args> commands) const;
  absl::StatusOr<std::vector<RedisReply>> Run(
      const std::vector<std::vector<std::string>>& commands) const;

  // An error reply as a status: the ones that say "not now" are UNAVAILABLE (retry later).
  absl::Status ReplyError(const RedisReply& r) const;
  absl::Status ReplyError(const redisReply* r) const;

  // "<what> redis host:port", for messages.
  const std::string& where() const { return where_; }
  const RedisOptions& options() const { return options_; }
  int db() const { return address_.db; }
  // False from a failed call until the next successful one.
  bool reachable() const { return reachable_.load(std::memory_order_relaxed); }

 private:
  struct Address {
    std::string host;
    int port = 6379;
    int db = 0;
    std::string user, password;
  };
  static absl::StatusOr<Address> ParseUrl(std::string_view url);
  RedisClient(RedisOptions options, std::string what, Address address);
  absl::StatusOr<std::unique_ptr<Connection>> Connect(absl::Duration timeout) const;
  template <typename Commands>
  absl::StatusOr<std::vector<RedisReply>> RunImpl(const Commands& commands) const;
  // Logs when Redis stops or starts answering (transitions only, not every failed call).
  void NoteReachable(bool reachable, const std::string& what) const;

  const RedisOptions options_;
  const Address address_;
  const std::string where_;

  mutable absl::Mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(pool_mu_);
  mutable size_t open_ ABSL_GUARDED_BY(pool_mu_) = 0;  // idle and in use
  mutable std::atomic<bool> reachable_{true};
};

}  // namespace semrec

#endif  // SEMREC_CORE_REDIS_REDIS_CLIENT_H_
