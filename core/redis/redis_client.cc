#include "core/redis/redis_client.h"

#include <hiredis/hiredis.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/logger.h"
#include "core/common/status_macros.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("redis");
  return logger;
}

}  // namespace

// --- replies ---------------------------------------------------------------------------------

RedisReply& RedisReply::operator=(RedisReply&& other) noexcept {
  if (this != &other) {
    if (r_) freeReplyObject(r_);
    r_ = other.r_;
    other.r_ = nullptr;
  }
  return *this;
}
RedisReply::~RedisReply() {
  if (r_) freeReplyObject(r_);
}
bool RedisReply::nil() const { return ReplyIsNil(r_); }
bool RedisReply::error() const { return r_ && r_->type == REDIS_REPLY_ERROR; }
bool RedisReply::string() const { return ReplyIsString(r_); }
bool RedisReply::integer() const { return r_ && r_->type == REDIS_REPLY_INTEGER; }
bool RedisReply::array() const { return ReplyIsArray(r_); }
std::string_view RedisReply::text() const { return ReplyText(r_); }
long long RedisReply::value() const { return ReplyInteger(r_); }
size_t RedisReply::size() const { return ReplySize(r_); }
const redisReply* RedisReply::element(size_t i) const { return ReplyElement(r_, i); }

bool ReplyIsNil(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_NIL; }
bool ReplyIsError(const redisReply* r) { return r && r->type == REDIS_REPLY_ERROR; }
bool ReplyIsArray(const redisReply* r) { return r && r->type == REDIS_REPLY_ARRAY; }
bool ReplyIsString(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}
std::string_view ReplyText(const redisReply* r) {
  if (!r || r->str == nullptr) return {};
  return std::string_view(r->str, r->len);
}
long long ReplyInteger(const redisReply* r) {
  return r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}
size_t ReplySize(const redisReply* r) { return ReplyIsArray(r) ? r->elements : 0; }
const redisReply* ReplyElement(const redisReply* r, size_t i) {
  return ReplyIsArray(r) && i < r->elements ? r->element[i] : nullptr;
}

// --- options and addresses -------------------------------------------------------------------

absl::Status RedisOptions::Validate() const {
  if (pool_size < 1 || pool_size > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis pool_size must be between 1 and 1024 (got ", pool_size, ")"));
  }
  if (connect_timeout < absl::Milliseconds(1) || command_timeout < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("redis connect and command timeouts must be at least 1ms");
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisClient::Address> RedisClient::ParseUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis URL '", std::string(url), "' ", std::string(why),
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

// --- connections -----------------------------------------------------------------------------

RedisClient::Connection::~Connection() { redisFree(ctx_); }

bool RedisClient::Connection::broken() const { return ctx_->err != 0; }

bool RedisClient::Connection::timed_out() const {
  return ctx_->err == REDIS_ERR_IO && (std::string_view(ctx_->errstr) == std::strerror(EAGAIN) ||
                                       std::string_view(ctx_->errstr) == std::strerror(EWOULDBLOCK));
}

absl::Status RedisClient::Connection::Failed() const {
  if (timed_out()) {
    return absl::UnavailableError(
        absl::StrCat(client_.where(), ": no reply within ", absl::FormatDuration(timeout_)));
  }
  return absl::UnavailableError(absl::StrCat(client_.where(), ": ", ctx_->errstr));
}

absl::Status RedisClient::Connection::SetTimeout(absl::Duration timeout) {
  if (redisSetTimeout(ctx_, absl::ToTimeval(timeout)) != REDIS_OK) {
    return absl::UnavailableError(
        absl::StrCat(client_.where(), ": cannot set the timeout: ", ctx_->errstr));
  }
  timeout_ = timeout;
  return absl::OkStatus();
}

template <typename Commands>
absl::StatusOr<std::vector<RedisReply>> RedisClient::Connection::Send(const Commands& commands,
                                                                      size_t n) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& args : commands) {
    argv.clear();
    lens.clear();
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return Failed();
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK || r == nullptr) return Failed();
    replies.emplace_back(static_cast<redisReply*>(r));
  }
  return replies;
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Connection::Pipeline(
    std::initializer_list<Args> commands) {
  return Send(commands, commands.size());
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Connection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  return Send(commands, commands.size());
}

// --- the client ------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Create(RedisOptions options,
                                                                 std::string what) {
  RETURN_IF_ERROR(options.Validate());
  ASSIGN_OR_RETURN(Address address, ParseUrl(options.url));
  // hiredis writes with write(2): a socket Redis closed would raise SIGPIPE and end the process.
  struct sigaction current;
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    std::signal(SIGPIPE, SIG_IGN);
  }
  std::unique_ptr<RedisClient> client(
      new RedisClient(std::move(options), std::move(what), std::move(address)));
  ASSIGN_OR_RETURN(auto replies, client->Run({{"PING"}}));
  if (replies[0].error()) return client->ReplyError(replies[0]);
  return client;
}

RedisClient::RedisClient(RedisOptions options, std::string what, Address address)
    : options_(std::move(options)),
      address_(std::move(address)),
      where_(absl::StrCat(what, " redis ", address_.host, ":", address_.port)) {}

RedisClient::~RedisClient() = default;

absl::Status RedisClient::ReplyError(const RedisReply& r) const { return ReplyError(r.get()); }

absl::Status RedisClient::ReplyError(const redisReply* r) const {
  if (r == nullptr) return absl::InternalError(absl::StrCat(where_, ": no reply"));
  if (r->type != REDIS_REPLY_ERROR) {
    return absl::InternalError(absl::StrCat(where_, ": unexpected reply of type ", r->type));
  }
  const std::string_view text = ReplyText(r);
  const std::string message = absl::StrCat(where_, ": ", std::string(text));
  for (std::string_view transient :
       {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"}) {
    if (text.substr(0, transient.size()) == transient) return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

absl::StatusOr<std::unique_ptr<RedisClient::Connection>> RedisClient::Connect(
    absl::Duration timeout) const {
  redisContext* ctx = redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                              absl::ToTimeval(options_.connect_timeout));
  if (ctx == nullptr) return absl::ResourceExhaustedError(where_ + ": out of memory");
  std::unique_ptr<Connection> c(new Connection(ctx, *this));
  if (c->broken()) {
    NoteReachable(false, absl::StrCat("cannot connect: ", ctx->errstr));
    return absl::UnavailableError(absl::StrCat(where_, ": cannot connect: ", ctx->errstr));
  }
  RETURN_IF_ERROR(c->SetTimeout(timeout));
  redisEnableKeepAlive(ctx);
  if (!address_.password.empty()) {
    ASSIGN_OR_RETURN(auto r, address_.user.empty()
                                 ? c->Pipeline({{"AUTH", address_.password}})
                                 : c->Pipeline({{"AUTH", address_.user, address_.password}}));
    if (r[0].error()) return ReplyError(r[0]);
  }
  if (address_.db != 0) {
    const std::string db = std::to_string(address_.db);
    ASSIGN_OR_RETURN(auto r, c->Pipeline({{"SELECT", db}}));
    if (r[0].error()) return ReplyError(r[0]);
  }
  return c;
}

absl::StatusOr<std::unique_ptr<RedisClient::Connection>> RedisClient::ConnectDedicated(
    absl::Duration timeout) const {
  return Connect(timeout);
}

void RedisClient::NoteReachable(bool reachable, const std::string& what) const {
  if (reachable_.exchange(reachable) == reachable) return;  // log transitions only
  if (reachable) {
    Logger()->info("{}: {}", where_, what);
  } else {
    Logger()->warn("{}: {}; calls that need it answer UNAVAILABLE until it is back", where_, what);
  }
}

absl::StatusOr<std::unique_ptr<RedisClient::Connection>> RedisClient::Acquire() const {
  {
    absl::MutexLock lock(&pool_mu_);
    const auto available = +[](const RedisClient* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
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
  auto c = Connect(options_.command_timeout);  // outside the lock: it may wait for the timeout
  if (!c.ok()) {
    absl::MutexLock lock(&pool_mu_);
    --open_;
  }
  return c;
}

void RedisClient::Release(std::unique_ptr<Connection> c) const {
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
                             : absl::StrCat("connection lost: ", c->ctx_->errstr));
    closing.swap(idle_);
    open_ -= closing.size();
  }
  closing.push_back(std::move(c));
  --open_;
  // `closing` is freed after the lock is released (destructors run in reverse order).
}

template <typename Commands>
absl::StatusOr<std::vector<RedisReply>> RedisClient::RunImpl(const Commands& commands) const {
  for (bool retry_stale = true;; retry_stale = false) {
    ASSIGN_OR_RETURN(auto c, Acquire());
    auto replies = c->Pipeline(commands);
    const bool stale = c->stale();
    c->clean = replies.ok();
    Release(std::move(c));
    if (!replies.ok() && stale && retry_stale) continue;
    return replies;
  }
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Run(
    std::initializer_list<Args> commands) const {
  return RunImpl(commands);
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Run(
    const std::vector<std::vector<std::string>>& commands) const {
  return RunImpl(commands);
}

}  // namespace semrec
