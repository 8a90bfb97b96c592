#include "core/user/redis_user_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <initializer_list>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/logger.h"
#include "core/common/status_macros.h"
#include "core/common/string_map.h"
#include "core/user/profile_codec.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("user_store");
  return logger;
}

constexpr uint8_t kValueFormat = 1;  // first byte of every stored profile

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
using Args = std::initializer_list<std::string_view>;

std::string_view ReplyText(const redisReply& r) { return std::string_view(r.str, r.len); }

// An error reply as a status: the ones that say "not now" are UNAVAILABLE (the caller may retry).
absl::Status ReplyError(const std::string& where, const redisReply& r) {
  const std::string_view text = ReplyText(r);
  const std::string message = absl::StrCat(where, ": ", std::string(text));
  for (std::string_view transient :
       {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"}) {
    if (text.substr(0, transient.size()) == transient) return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

std::string EncodeProfile(const UserProfile& profile) {
  BufferWriter w;
  w.PutU8(kValueFormat);
  PutProfile(profile, w);
  return w.Release();
}

bool DecodeProfile(std::string_view value, UserProfile* profile) {
  BufferReader in(value);
  uint8_t format;
  return in.GetU8(&format) && format == kValueFormat && GetProfile(in, profile) && in.done();
}

// Jittered back-off between optimistic attempts, so that conflicting writers spread out.
void BackOff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int64_t max_us = 200 * std::min(attempt, 10);
  absl::SleepFor(absl::Microseconds(std::uniform_int_distribution<int64_t>(0, max_us)(rng)));
}

}  // namespace

class RedisUserStore::Connection {
 public:
  explicit Connection(redisContext* ctx) : ctx_(ctx) {}
  ~Connection() { redisFree(ctx_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  redisContext* ctx() { return ctx_; }
  bool broken() const { return ctx_->err != 0; }
  bool timed_out() const {
    return ctx_->err == REDIS_ERR_IO &&
           (std::string_view(ctx_->errstr) == std::strerror(EAGAIN) ||
            std::string_view(ctx_->errstr) == std::strerror(EWOULDBLOCK));
  }
  // Failed on a connection that sat in the pool, and not by a timeout: most likely Redis closed it
  // (a restart), so the request has not run and may be sent again on a new connection.
  bool stale() const { return reused && broken() && !timed_out(); }

  bool reused = false;  // came from the pool: may have died with a Redis restart since
  bool clean = false;   // no transaction state left on the server: may go back to the pool

 private:
  redisContext* ctx_;
};

namespace {

// Sends `commands` in one round trip and reads every reply. Fails (UNAVAILABLE) only when the
// connection does; error replies are returned for the caller to judge.
template <typename Connection>
absl::StatusOr<std::vector<Reply>> Pipeline(Connection& c, const std::string& where,
                                            absl::Duration timeout,
                                            std::initializer_list<Args> commands) {
  auto failed = [&]() {
    if (c.timed_out()) {
      return absl::UnavailableError(
          absl::StrCat(where, ": no reply within ", absl::FormatDuration(timeout)));
    }
    return absl::UnavailableError(absl::StrCat(where, ": ", c.ctx()->errstr));
  };
  for (const Args& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(c.ctx(), static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return failed();
    }
  }
  std::vector<Reply> replies;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* r = nullptr;
    if (redisGetReply(c.ctx(), &r) != REDIS_OK || r == nullptr) return failed();
    replies.emplace_back(static_cast<redisReply*>(r));
  }
  return replies;
}

}  // namespace

absl::Status RedisUserStoreOptions::Validate() const {
  if (pool_size < 1 || pool_size > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis pool_size must be between 1 and 1024 (got ", pool_size, ")"));
  }
  if (connect_timeout < absl::Milliseconds(1) || command_timeout < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("redis connect and command timeouts must be at least 1ms");
  }
  if (profile_ttl != absl::ZeroDuration() && profile_ttl < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("redis profile_ttl must be zero (never) or at least 1ms");
  }
  if (max_attempts < 1) return absl::InvalidArgumentError("redis max_attempts must be at least 1");
  if (key_prefix.empty() || key_prefix.find_first_of("{}") != std::string::npos) {
    return absl::InvalidArgumentError(
        "redis key_prefix must be non-empty and without braces (they delimit the hash tag)");
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisUserStore::Address> RedisUserStore::ParseUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("user store URL '", std::string(url), "' ", std::string(why),
                     "; expected redis://[[user]:password@]host[:port][/db]"));
  };
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) return bad("is not a redis:// URL");
  std::string_view rest = url.substr(kScheme.size());
  Address a;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string db(rest.substr(slash + 1));
    if (!db.empty() && (!absl::SimpleAtoi(db, &a.db) || a.db < 0)) return bad("has a bad database");
    rest = rest.substr(0, slash);
  }
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) return bad("has credentials without ':'");
    a.user = std::string(userinfo.substr(0, colon));
    a.password = std::string(userinfo.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    const std::string port(rest.substr(colon + 1));
    if (!absl::SimpleAtoi(port, &a.port) || a.port < 1 || a.port > 65535) {
      return bad("has a bad port");
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("has no host");
  a.host = std::string(rest);
  return a;
}

absl::StatusOr<std::unique_ptr<RedisUserStore>> RedisUserStore::Create(
    UserModelOptions model_options, RedisUserStoreOptions options) {
  RETURN_IF_ERROR(model_options.Validate());
  RETURN_IF_ERROR(options.Validate());
  ASSIGN_OR_RETURN(Address address, ParseUrl(options.url));
  // hiredis writes with write(2): a socket Redis closed would raise SIGPIPE and end the process.
  struct sigaction current;
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    std::signal(SIGPIPE, SIG_IGN);
  }
  std::unique_ptr<RedisUserStore> store(
      new RedisUserStore(std::move(model_options), std::move(options), std::move(address)));
  ASSIGN_OR_RETURN(auto c, store->Acquire());
  ASSIGN_OR_RETURN(auto replies,
                   Pipeline(*c, store->where_, store->options_.command_timeout, {{"PING"}}));
  if (replies[0]->type == REDIS_REPLY_ERROR) return ReplyError(store->where_, *replies[0]);
  c->clean = true;
  store->Release(std::move(c));
  Logger()->info("{} database {}: user profiles under {}:u:{{<user id>}}", store->where_,
                 store->address_.db, store->options_.key_prefix);
  return store;
}

RedisUserStore::RedisUserStore(UserModelOptions model_options, RedisUserStoreOptions options,
                               Address address)
    : model_options_(std::move(model_options)),
      options_(std::move(options)),
      address_(std::move(address)),
      where_(absl::StrCat("user store redis ", address_.host, ":", address_.port)),
      count_key_(absl::StrCat(options_.key_prefix, ":users")) {}

RedisUserStore::~RedisUserStore() = default;

std::string RedisUserStore::UserKey(std::string_view user_id) const {
  return absl::StrCat(options_.key_prefix, ":u:{", std::string(user_id), "}");
}

RedisUserStore::WriterStripe& RedisUserStore::StripeFor(std::string_view user_id) {
  return stripes_[StringViewHash{}(user_id) % kStripes];
}

absl::StatusOr<std::unique_ptr<RedisUserStore::Connection>> RedisUserStore::Connect() const {
  redisContext* ctx = redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                              absl::ToTimeval(options_.connect_timeout));
  if (ctx == nullptr) return absl::ResourceExhaustedError(where_ + ": out of memory");
  auto c = std::make_unique<Connection>(ctx);
  if (c->broken()) {
    NoteReachable(false, absl::StrCat("cannot connect: ", ctx->errstr));
    return absl::UnavailableError(absl::StrCat(where_, ": cannot connect: ", ctx->errstr));
  }
  if (redisSetTimeout(ctx, absl::ToTimeval(options_.command_timeout)) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat(where_, ": cannot set the timeout: ", ctx->errstr));
  }
  redisEnableKeepAlive(ctx);
  const std::string db = std::to_string(address_.db);
  if (!address_.password.empty()) {
    ASSIGN_OR_RETURN(
        auto r, address_.user.empty()
                    ? Pipeline(*c, where_, options_.command_timeout, {{"AUTH", address_.password}})
                    : Pipeline(*c, where_, options_.command_timeout,
                               {{"AUTH", address_.user, address_.password}}));
    if (r[0]->type == REDIS_REPLY_ERROR) return ReplyError(where_, *r[0]);
  }
  if (address_.db != 0) {
    ASSIGN_OR_RETURN(auto r, Pipeline(*c, where_, options_.command_timeout, {{"SELECT", db}}));
    if (r[0]->type == REDIS_REPLY_ERROR) return ReplyError(where_, *r[0]);
  }
  return c;
}

void RedisUserStore::NoteReachable(bool reachable, const std::string& what) const {
  if (reachable_.exchange(reachable) == reachable) return;  // log transitions only
  if (reachable) {
    Logger()->info("{}: {}", where_, what);
  } else {
    Logger()->warn("{}: {}; user profile reads and writes answer UNAVAILABLE until it is back",
                   where_, what);
  }
}

absl::StatusOr<std::unique_ptr<RedisUserStore::Connection>> RedisUserStore::Acquire() const {
  {
    absl::MutexLock lock(&pool_mu_);
    const auto available = +[](const RedisUserStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return !s->idle_.empty() || s->open_ < s->options_.pool_size;
    };
    if (!pool_mu_.AwaitWithTimeout(absl::Condition(available, this), options_.command_timeout)) {
      return absl::UnavailableError(absl::StrCat(where_, ": all ", options_.pool_size,
                                                 " connections busy for ",
                                                 absl::FormatDuration(options_.command_timeout)));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      c->reused = true;
      c->clean = false;
      return c;
    }
    ++open_;
  }
  auto c = Connect();  // outside the lock: it may wait for the connect timeout
  if (!c.ok()) {
    absl::MutexLock lock(&pool_mu_);
    --open_;
  }
  return c;
}

void RedisUserStore::Release(std::unique_ptr<Connection> c) const {
  std::vector<std::unique_ptr<Connection>> closing;
  absl::MutexLock lock(&pool_mu_);
  if (c->clean && !c->broken()) {
    NoteReachable(true, "answering again");
    idle_.push_back(std::move(c));
    return;
  }
  if (c->broken()) {
    NoteReachable(false, c->timed_out()
                             ? absl::StrCat("no reply within ",
                                            absl::FormatDuration(options_.command_timeout))
                             : absl::StrCat("connection lost: ", c->ctx()->errstr));
    closing.swap(idle_);
    open_ -= closing.size();
  }
  closing.push_back(std::move(c));
  --open_;
  // `closing` is freed after the lock is released (destructors run in reverse order).
}

absl::StatusOr<std::shared_ptr<const UserProfile>> RedisUserStore::Get(
    std::string_view user_id) const {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  const std::string key = UserKey(user_id);
  for (bool retry_stale = true;; retry_stale = false) {
    ASSIGN_OR_RETURN(auto c, Acquire());
    auto replies = Pipeline(*c, where_, options_.command_timeout, {{"GET", key}});
    const bool stale = c->stale();
    if (!replies.ok()) {
      Release(std::move(c));
      if (stale && retry_stale) continue;
      return replies.status();
    }
    c->clean = true;
    Release(std::move(c));
    const redisReply& r = *(*replies)[0];
    if (r.type == REDIS_REPLY_NIL) return std::shared_ptr<const UserProfile>();
    if (r.type != REDIS_REPLY_STRING) return ReplyError(where_, r);
    auto profile = std::make_shared<UserProfile>();
    if (!DecodeProfile(ReplyText(r), profile.get())) {
      return absl::DataLossError(absl::StrCat(where_, ": the profile at '", key, "' is malformed"));
    }
    return std::shared_ptr<const UserProfile>(std::move(profile));
  }
}

absl::StatusOr<std::vector<bool>> RedisUserStore::ApplyEvents(
    std::string_view user_id, absl::Span<const ResolvedEvent> events) {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  if (events.empty()) return std::vector<bool>();
  // This process's writers of one user take turns; only other processes can conflict with us.
  WriterStripe& stripe = StripeFor(user_id);
  {
    absl::MutexLock lock(&stripe.mu);
    const auto idle = +[](WriterStripe* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->busy; };
    if (!stripe.mu.AwaitWithTimeout(absl::Condition(idle, &stripe), options_.command_timeout)) {
      return absl::UnavailableError(absl::StrCat(
          where_, ": another write of this user's profile is still waiting for Redis"));
    }
    stripe.busy = true;
  }
  struct StripeRelease {
    WriterStripe& s;
    ~StripeRelease() {
      absl::MutexLock lock(&s.mu);
      s.busy = false;
    }
  } release_stripe{stripe};

  const std::string key = UserKey(user_id);
  const std::string ttl_ms = std::to_string(absl::ToInt64Milliseconds(options_.profile_ttl));
  bool retry_stale = true;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    ASSIGN_OR_RETURN(auto c, Acquire());
    // Read the profile, watching its key: a write by anyone else before our EXEC voids ours.
    auto read = Pipeline(*c, where_, options_.command_timeout, {{"WATCH", key}, {"GET", key}});
    if (!read.ok()) {
      const bool stale = c->stale();
      Release(std::move(c));
      if (stale && retry_stale) {
        retry_stale = false;
        --attempt;
        continue;
      }
      return read.status();
    }
    const redisReply& got = *(*read)[1];
    auto profile = std::make_shared<UserProfile>();
    const bool created = got.type == REDIS_REPLY_NIL;
    if (!created) {
      absl::Status error;
      if (got.type != REDIS_REPLY_STRING) {
        error = ReplyError(where_, got);
      } else if (!DecodeProfile(ReplyText(got), profile.get())) {
        error =
            absl::DataLossError(absl::StrCat(where_, ": the profile at '", key, "' is malformed"));
      }
      if (!error.ok()) {
        Release(std::move(c));  // not clean: the WATCH is still on
        return error;
      }
    }
    std::vector<bool> applied(events.size(), false);
    bool changed = false;
    for (size_t i = 0; i < events.size(); ++i) {
      const ResolvedEvent& e = events[i];
      if (!e.event.event_id.empty() && profile->HasEventId(e.event.event_id)) continue;
      ApplyEvent(model_options_, e.event, e.vector, *profile);
      applied[i] = true;
      changed = true;
    }
    if (!changed) {  // only duplicates
      auto r = Pipeline(*c, where_, options_.command_timeout, {{"UNWATCH"}});
      c->clean = r.ok();
      Release(std::move(c));
      return applied;
    }
    const std::string value = EncodeProfile(*profile);
    auto write = options_.profile_ttl == absl::ZeroDuration()
                     ? Pipeline(*c, where_, options_.command_timeout,
                                {{"MULTI"}, {"SET", key, value}, {"EXEC"}})
                     : Pipeline(*c, where_, options_.command_timeout,
                                {{"MULTI"}, {"SET", key, value, "PX", ttl_ms}, {"EXEC"}});
    if (!write.ok()) {
      Release(std::move(c));
      return absl::UnavailableError(absl::StrCat(
          write.status().message(),
          " (the events may have been applied: resend them with event ids to stay idempotent)"));
    }
    c->clean = true;  // EXEC ends the transaction and the WATCH, whatever its outcome
    const redisReply& exec = *(*write)[2];
    if (exec.type == REDIS_REPLY_NIL) {  // someone else wrote the profile first: start over
      Release(std::move(c));
      conflicts_.fetch_add(1, std::memory_order_relaxed);
      BackOff(attempt);
      continue;
    }
    if (exec.type != REDIS_REPLY_ARRAY) {
      Release(std::move(c));
      return ReplyError(where_, exec);
    }
    if (created) {
      // Not in the transaction: the counter lives in another hash slot. A failure here only
      // leaves size() one short.
      auto r = Pipeline(*c, where_, options_.command_timeout, {{"INCR", count_key_}});
      c->clean = r.ok();
    }
    Release(std::move(c));
    return applied;
  }
  return absl::AbortedError(absl::StrCat(where_, ": gave up after ", options_.max_attempts,
                                         " attempts: other replicas kept writing this user"));
}

absl::StatusOr<bool> RedisUserStore::Delete(std::string_view user_id) {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  const std::string key = UserKey(user_id);
  for (bool retry_stale = true;; retry_stale = false) {
    ASSIGN_OR_RETURN(auto c, Acquire());
    auto replies = Pipeline(*c, where_, options_.command_timeout, {{"DEL", key}});
    const bool stale = c->stale();
    if (!replies.ok()) {
      Release(std::move(c));
      if (stale && retry_stale) continue;
      return replies.status();
    }
    const redisReply& r = *(*replies)[0];
    if (r.type != REDIS_REPLY_INTEGER) {
      c->clean = true;
      Release(std::move(c));
      return ReplyError(where_, r);
    }
    const bool deleted = r.integer > 0;
    if (deleted) {
      auto d = Pipeline(*c, where_, options_.command_timeout, {{"DECR", count_key_}});
      c->clean = d.ok();
    } else {
      c->clean = true;
    }
    Release(std::move(c));
    return deleted;
  }
}

size_t RedisUserStore::size() const {
  auto c = Acquire();
  if (c.ok()) {
    auto replies = Pipeline(**c, where_, options_.command_timeout, {{"GET", count_key_}});
    (*c)->clean = replies.ok();
    Release(std::move(*c));
    if (replies.ok()) {
      const redisReply& r = *(*replies)[0];
      int64_t n = 0;
      if (r.type == REDIS_REPLY_NIL ||
          (r.type == REDIS_REPLY_STRING && absl::SimpleAtoi(std::string(ReplyText(r)), &n))) {
        last_size_.store(n, std::memory_order_relaxed);
      }
    }
  }
  return static_cast<size_t>(std::max<int64_t>(0, last_size_.load(std::memory_order_relaxed)));
}

}  // namespace semrec
