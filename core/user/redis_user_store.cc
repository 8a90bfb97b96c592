#include "core/user/redis_user_store.h"

#include <algorithm>
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

absl::Status RedisUserStoreOptions::Validate() const {
  RETURN_IF_ERROR(redis.Validate());
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

absl::StatusOr<std::unique_ptr<RedisUserStore>> RedisUserStore::Create(
    UserModelOptions model_options, RedisUserStoreOptions options) {
  RETURN_IF_ERROR(options.Validate());
  ASSIGN_OR_RETURN(std::shared_ptr<const RedisClient> client,
                   RedisClient::Create(options.redis, "user store"));
  return Create(std::move(model_options), std::move(options), std::move(client));
}

absl::StatusOr<std::unique_ptr<RedisUserStore>> RedisUserStore::Create(
    UserModelOptions model_options, RedisUserStoreOptions options,
    std::shared_ptr<const RedisClient> client) {
  RETURN_IF_ERROR(model_options.Validate());
  RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<RedisUserStore> store(
      new RedisUserStore(std::move(model_options), std::move(options), std::move(client)));
  Logger()->info("{} database {}: user profiles under {}:u:{{<user id>}}", store->client_->where(),
                 store->client_->db(), store->options_.key_prefix);
  return store;
}

RedisUserStore::RedisUserStore(UserModelOptions model_options, RedisUserStoreOptions options,
                               std::shared_ptr<const RedisClient> client)
    : model_options_(std::move(model_options)),
      options_(std::move(options)),
      client_(std::move(client)),
      count_key_(absl::StrCat(options_.key_prefix, ":users")),
      feed_key_(absl::StrCat(options_.key_prefix, ":feed")) {}

RedisUserStore::~RedisUserStore() = default;

std::string RedisUserStore::UserKey(std::string_view user_id) const {
  return absl::StrCat(options_.key_prefix, ":u:{", std::string(user_id), "}");
}

RedisUserStore::WriterStripe& RedisUserStore::StripeFor(std::string_view user_id) {
  return stripes_[StringViewHash{}(user_id) % kStripes];
}

absl::StatusOr<std::shared_ptr<const UserProfile>> RedisUserStore::Get(
    std::string_view user_id) const {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  const std::string key = UserKey(user_id);
  ASSIGN_OR_RETURN(auto replies, client_->Run({{"GET", key}}));
  const RedisReply& r = replies[0];
  if (r.nil()) return std::shared_ptr<const UserProfile>();
  if (!r.string()) return client_->ReplyError(r);
  auto profile = std::make_shared<UserProfile>();
  if (!DecodeProfile(r.text(), profile.get())) {
    return absl::DataLossError(
        absl::StrCat(client_->where(), ": the profile at '", key, "' is malformed"));
  }
  return std::shared_ptr<const UserProfile>(std::move(profile));
}

absl::StatusOr<std::vector<bool>> RedisUserStore::ApplyEvents(
    std::string_view user_id, absl::Span<const ResolvedEvent> events, const ChangeRecordFn& publish,
    std::vector<RecentEvent>* recent_before) {
  if (recent_before) recent_before->clear();
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  if (events.empty()) return std::vector<bool>();
  const std::string& where = client_->where();
  // This process's writers of one user take turns; only other processes can conflict with us.
  WriterStripe& stripe = StripeFor(user_id);
  {
    absl::MutexLock lock(&stripe.mu);
    const auto idle = +[](WriterStripe* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->busy; };
    if (!stripe.mu.AwaitWithTimeout(absl::Condition(idle, &stripe), client_->options().command_timeout)) {
      return absl::UnavailableError(absl::StrCat(
          where, ": another write of this user's profile is still waiting for Redis"));
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
    ASSIGN_OR_RETURN(auto c, client_->Acquire());
    // Read the profile, watching its key: a write by anyone else before our EXEC voids ours.
    auto read = c->Pipeline({{"WATCH", key}, {"GET", key}});
    if (!read.ok()) {
      const bool stale = c->stale();
      client_->Release(std::move(c));
      if (stale && retry_stale) {
        retry_stale = false;
        --attempt;
        continue;
      }
      return read.status();
    }
    const RedisReply& got = (*read)[1];
    auto profile = std::make_shared<UserProfile>();
    const bool created = got.nil();
    if (!created) {
      absl::Status error;
      if (!got.string()) {
        error = client_->ReplyError(got);
      } else if (!DecodeProfile(got.text(), profile.get())) {
        error =
            absl::DataLossError(absl::StrCat(where, ": the profile at '", key, "' is malformed"));
      }
      if (!error.ok()) {
        client_->Release(std::move(c));  // not clean: the WATCH is still on
        return error;
      }
    }
    if (recent_before) *recent_before = profile->recent;  // this attempt's reading
    std::string record;
    std::vector<bool> applied(events.size(), false);
    bool changed = false;
    {
      std::shared_ptr<const UserProfile> before =
          publish && !created ? std::make_shared<UserProfile>(*profile) : nullptr;
      for (size_t i = 0; i < events.size(); ++i) {
        const ResolvedEvent& e = events[i];
        if (!e.event.event_id.empty() && profile->HasEventId(e.event.event_id)) continue;
        ApplyEvent(model_options_, e.event, e.vector, *profile);
        applied[i] = true;
        changed = true;
      }
      if (changed && publish) record = publish(before.get(), applied);
    }
    if (!changed) {  // only duplicates
      auto r = c->Pipeline({{"UNWATCH"}});
      c->clean = r.ok();
      client_->Release(std::move(c));
      return applied;
    }
    const std::string value = EncodeProfile(*profile);
    std::vector<std::vector<std::string>> tx = {{"MULTI"}};
    if (options_.profile_ttl == absl::ZeroDuration()) {
      tx.push_back({"SET", key, value});
    } else {
      tx.push_back({"SET", key, value, "PX", ttl_ms});
    }
    if (!record.empty()) tx.push_back({"XADD", feed_key_, "*", "o", "", "r", std::move(record)});
    tx.push_back({"EXEC"});
    auto write = c->Pipeline(tx);
    if (!write.ok()) {
      client_->Release(std::move(c));
      return absl::UnavailableError(absl::StrCat(
          write.status().message(),
          " (the events may have been applied: resend them with event ids to stay idempotent)"));
    }
    c->clean = true;  // EXEC ends the transaction and the WATCH, whatever its outcome
    const RedisReply& exec = write->back();
    if (exec.nil()) {  // someone else wrote the profile first: start over
      client_->Release(std::move(c));
      conflicts_.fetch_add(1, std::memory_order_relaxed);
      BackOff(attempt);
      continue;
    }
    if (!exec.array()) {
      client_->Release(std::move(c));
      return client_->ReplyError(exec);
    }
    for (size_t i = 0; i < exec.size(); ++i) {
      const redisReply* part = exec.element(i);
      if (ReplyIsError(part)) {
        client_->Release(std::move(c));
        return client_->ReplyError(part);  // a command inside the transaction failed
      }
    }
    if (created) {
      // Not in the transaction: the counter lives in another hash slot. A failure here only
      // leaves size() one short.
      auto r = c->Pipeline({{"INCR", count_key_}});
      c->clean = r.ok();
    }
    client_->Release(std::move(c));
    return applied;
  }
  return absl::AbortedError(absl::StrCat(where, ": gave up after ", options_.max_attempts,
                                         " attempts: other replicas kept writing this user"));
}

absl::StatusOr<bool> RedisUserStore::Delete(std::string_view user_id) {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  const std::string key = UserKey(user_id);
  ASSIGN_OR_RETURN(auto replies, client_->Run({{"DEL", key}}));
  if (!replies[0].integer()) return client_->ReplyError(replies[0]);
  const bool deleted = replies[0].value() > 0;
  if (deleted) (void)client_->Run({{"DECR", count_key_}});  // a failure leaves size() one over
  return deleted;
}

size_t RedisUserStore::size() const {
  auto replies = client_->Run({{"GET", count_key_}});
  if (replies.ok()) {
    const RedisReply& r = (*replies)[0];
    int64_t n = 0;
    if (r.nil() || (r.string() && absl::SimpleAtoi(std::string(r.text()), &n))) {
      last_size_.store(n, std::memory_order_relaxed);
    }
  }
  return static_cast<size_t>(std::max<int64_t>(0, last_size_.load(std::memory_order_relaxed)));
}

}  // namespace semrec
