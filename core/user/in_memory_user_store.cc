#include "core/user/in_memory_user_store.h"

#include <utility>

#include "core/common/status_macros.h"

namespace semrec {

InMemoryUserStore::InMemoryUserStore(UserModelOptions options,
                                     InMemoryUserStoreOptions store_options)
    : options_(std::move(options)) {
  // Users hash evenly over the shards, so equal shares make about the most recently written
  // hot_profiles users hot overall, without a global list every writer would contend on.
  for (size_t i = 0; i < kShards; ++i) {
    shards_[i].hot_quota =
        store_options.hot_profiles / kShards + (i < store_options.hot_profiles % kShards ? 1 : 0);
  }
}

InMemoryUserStore::Shard& InMemoryUserStore::ShardFor(std::string_view user_id) const {
  return shards_[StringViewHash{}(user_id) % kShards];
}

absl::StatusOr<std::shared_ptr<const UserProfile>> InMemoryUserStore::Get(
    std::string_view user_id) const {
  Shard& shard = ShardFor(user_id);
  CompactProfile compact;  // shares the stored bytes: decoded after the lock is released
  {
    absl::ReaderMutexLock lock(&shard.mu);
    if (auto hot = shard.hot.find(user_id); hot != shard.hot.end()) return hot->second.profile;
    auto it = shard.compact.find(user_id);
    if (it == shard.compact.end()) return std::shared_ptr<const UserProfile>();
    compact = it->second;
  }
  auto profile = std::make_shared<UserProfile>();
  RETURN_IF_ERROR(compact.Decode(profile.get()));
  return std::shared_ptr<const UserProfile>(std::move(profile));
}

absl::StatusOr<std::vector<bool>> InMemoryUserStore::ApplyEvents(
    std::string_view user_id, absl::Span<const ResolvedEvent> events, const ChangeRecordFn& publish,
    std::vector<RecentEvent>* recent_before) {
  if (recent_before) recent_before->clear();
  if (publish) {
    return absl::FailedPreconditionError(
        "the in-memory user store has no change feed to publish to (replication needs Redis)");
  }
  if (events.empty()) return std::vector<bool>();
  std::vector<bool> applied(events.size(), false);
  Shard& shard = ShardFor(user_id);
  // The copy is made and mutated under the shard lock so that concurrent writers for the same
  // user never lose each other's events. Vectors were resolved by the caller: no encoding here.
  absl::MutexLock lock(&shard.mu);
  auto hot = shard.hot.find(user_id);
  auto compact = shard.compact.end();
  std::shared_ptr<UserProfile> next;
  if (hot != shard.hot.end()) {
    next = std::make_shared<UserProfile>(*hot->second.profile);
  } else {
    next = std::make_shared<UserProfile>();
    compact = shard.compact.find(user_id);
    if (compact != shard.compact.end()) RETURN_IF_ERROR(compact->second.Decode(next.get()));
  }
  if (recent_before) *recent_before = next->recent;
  bool changed = false;
  for (size_t i = 0; i < events.size(); ++i) {
    const ResolvedEvent& e = events[i];
    if (!e.event.event_id.empty() && next->HasEventId(e.event.event_id)) continue;
    ApplyEvent(options_, e.event, e.vector, *next);
    applied[i] = true;
    changed = true;
  }
  if (!changed) return applied;
  if (hot != shard.hot.end()) {
    hot->second.profile = std::move(next);
    shard.lru.splice(shard.lru.begin(), shard.lru, hot->second.lru);
    return applied;
  }
  if (compact == shard.compact.end()) {
    size_.fetch_add(1, std::memory_order_relaxed);
  } else {
    shard.compact.erase(compact);
    compact_size_.fetch_sub(1, std::memory_order_relaxed);
  }
  PutHot(shard, user_id, std::move(next), /*most_recent=*/true);
  EvictOverQuota(shard);
  return applied;
}

void InMemoryUserStore::PutHot(Shard& shard, std::string_view user_id,
                               std::shared_ptr<const UserProfile> profile, bool most_recent) {
  auto pos = shard.lru.emplace(most_recent ? shard.lru.begin() : shard.lru.end(), user_id);
  shard.hot.emplace(*pos, HotProfile{std::move(profile), pos});
}

void InMemoryUserStore::EvictOverQuota(Shard& shard) {
  while (shard.hot.size() > shard.hot_quota) {
    auto oldest = shard.hot.find(shard.lru.back());
    CompactProfile compact = CompactProfile::Encode(*oldest->second.profile);
    shard.hot.erase(oldest);
    shard.compact.emplace(std::move(shard.lru.back()), std::move(compact));
    shard.lru.pop_back();
    compact_size_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool InMemoryUserStore::EraseFromTier(Shard& shard, std::string_view user_id) {
  if (auto hot = shard.hot.find(user_id); hot != shard.hot.end()) {
    shard.lru.erase(hot->second.lru);
    shard.hot.erase(hot);
    return true;
  }
  if (auto compact = shard.compact.find(user_id); compact != shard.compact.end()) {
    shard.compact.erase(compact);
    compact_size_.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }
  return false;
}

absl::StatusOr<bool> InMemoryUserStore::Delete(std::string_view user_id) {
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  if (!EraseFromTier(shard, user_id)) return false;
  size_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

size_t InMemoryUserStore::size() const { return size_.load(std::memory_order_relaxed); }

size_t InMemoryUserStore::compact_size() const {
  return compact_size_.load(std::memory_order_relaxed);
}

absl::Status InMemoryUserStore::ForEachProfile(const ProfileVisitor& fn) const {
  for (const Shard& shard : shards_) {
    std::vector<std::pair<std::string, StoredProfile>> users;
    {
      absl::ReaderMutexLock lock(&shard.mu);
      users.reserve(shard.hot.size() + shard.compact.size());
      for (const std::string& id : shard.lru) {
        users.emplace_back(id, StoredProfile(shard.hot.find(id)->second.profile));
      }
      for (const auto& [id, compact] : shard.compact) {
        users.emplace_back(id, StoredProfile(compact));
      }
    }
    for (auto& [id, profile] : users) fn(id, std::move(profile));
  }
  return absl::OkStatus();
}

absl::Status InMemoryUserStore::RestoreProfile(const std::string& user_id, StoredProfile profile) {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  std::shared_ptr<const UserProfile> fp32;
  if (!profile.is_compact()) {
    absl::StatusOr<std::shared_ptr<const UserProfile>> loaded = profile.Load();  // no decoding
    if (!loaded.ok()) return absl::InvalidArgumentError("empty profile");
    fp32 = *std::move(loaded);
  }
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  if (!EraseFromTier(shard, user_id)) size_.fetch_add(1, std::memory_order_relaxed);
  if (fp32 && shard.hot.size() < shard.hot_quota) {
    PutHot(shard, user_id, std::move(fp32), /*most_recent=*/false);
    return absl::OkStatus();
  }
  shard.compact.emplace(user_id, fp32 ? CompactProfile::Encode(*fp32) : profile.compact());
  compact_size_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

}  // namespace semrec
