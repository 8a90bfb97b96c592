#include "core/user/in_memory_user_store.h"



namespace semrec {

InMemoryUserStore::InMemoryUserStore(UserModelOptions options) : options_(std::move(options)) {}

InMemoryUserStore::Shard& InMemoryUserStore::ShardFor(std::string_view user_id) const {
  return shards_[StringViewHash{}(user_id) % kShards];
}

absl::StatusOr<std::shared_ptr<const UserProfile>> InMemoryUserStore::Get(
    std::string_view user_id) const {
  Shard& shard = ShardFor(user_id);
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.users.find(user_id);
  if (it == shard.users.end()) return std::shared_ptr<const UserProfile>();
  return it->second;
}

absl::StatusOr<std::vector<bool>> InMemoryUserStore::ApplyEvents(
    std::string_view user_id, absl::Span<const ResolvedEvent> events,
    const ChangeRecordFn& publish) {
  if (publish) {
    return absl::FailedPreconditionError(
        "the in-memory user store has no change feed to publish to (replication needs Redis)");
  }
  std::vector<bool> applied(events.size(), false);
  Shard& shard = ShardFor(user_id);
  // The copy is made and mutated under the shard lock so that concurrent writers for the same
  // user never lose each other's events. Vectors were resolved by the caller: no encoding here.
  absl::MutexLock lock(&shard.mu);
  auto it = shard.users.find(user_id);
  auto next = it == shard.users.end() ? std::make_shared<UserProfile>()
                                      : std::make_shared<UserProfile>(*it->second);
  bool changed = false;
  for (size_t i = 0; i < events.size(); ++i) {
    const ResolvedEvent& e = events[i];
    if (!e.event.event_id.empty() && next->HasEventId(e.event.event_id)) continue;
    ApplyEvent(options_, e.event, e.vector, *next);
    applied[i] = true;
    changed = true;
  }
  if (changed) {
    if (it == shard.users.end()) {
      shard.users.emplace(std::string(user_id), std::move(next));
      size_.fetch_add(1, std::memory_order_relaxed);
    } else {
      it->second = std::move(next);
    }
  }
  return applied;
}

absl::StatusOr<bool> InMemoryUserStore::Delete(std::string_view user_id) {
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.users.find(user_id);
  if (it == shard.users.end()) return false;
  shard.users.erase(it);
  size_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

size_t InMemoryUserStore::size() const { return size_.load(std::memory_order_relaxed); }

absl::Status InMemoryUserStore::ForEachProfile(const ProfileVisitor& fn) const {
  for (const Shard& shard : shards_) {
    std::vector<std::pair<std::string, std::shared_ptr<const UserProfile>>> users;
    {
      absl::MutexLock lock(&shard.mu);
      users.assign(shard.users.begin(), shard.users.end());
    }
    for (auto& [id, profile] : users) fn(id, std::move(profile));
  }
  return absl::OkStatus();
}

absl::Status InMemoryUserStore::RestoreProfile(const std::string& user_id,
                                               std::shared_ptr<const UserProfile> profile) {
  if (user_id.empty() || !profile) return absl::InvalidArgumentError("empty user id or profile");
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  auto [it, inserted] = shard.users.insert_or_assign(user_id, std::move(profile));
  if (inserted) size_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

}  // namespace semrec
