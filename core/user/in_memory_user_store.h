// InMemoryUserStore: the embedded UserStore, profiles in a sharded hash map, in two tiers. The
// `hot_profiles` most recently written profiles are plain fp32 UserProfiles: a writer copies one,
// applies the events and swaps it in, so readers hold an immutable snapshot without locks and a
// session's events accumulate in fp32. Every other profile is a CompactProfile (int8 vectors,
// about a fifth of the size): a write decodes it and makes it hot, pushing the shard's least
// recently written hot profile out to the compact tier; a read decodes a copy and leaves it cold.
//
//   InMemoryUserStore store(UserModelOptions{}, InMemoryUserStoreOptions{});
//   store.ApplyEvents("u1", events);
//   auto profile = store.Get("u1");
//
// Thread-safe: one mutex per shard; a Get never waits for a write longer than that write's
// apply (and, when it pushes a profile out, one encoding); a cold Get decodes outside the lock.
#ifndef SEMREC_CORE_USER_IN_MEMORY_USER_STORE_H_
#define SEMREC_CORE_USER_IN_MEMORY_USER_STORE_H_

#include <array>
#include <atomic>
#include <list>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "core/common/string_map.h"
#include "core/user/compact_profile.h"
#include "core/user/user_store.h"

namespace semrec {

struct InMemoryUserStoreOptions {
  // Profiles kept in fp32 at most (the rest compact); 0: every profile compact, decoded and
  // re-encoded at each write. Split evenly over the shards, each evicting its least recently
  // written. The default bounds the fp32 tier to ~0.3 GB (6.8 KB a profile against 1.3 KB
  // compact), which keeps a million users under 1.8 KB each (issue 7), and, at ~1,000 writing
  // users a second, keeps a user hot for about a minute after its last event: the events of a
  // session add up in fp32, and a profile is re-encoded (each time with fresh rounding error,
  // ~0.7% of a vector's norm) about once per session rather than at every event. Fixed at
  // start-up.
  size_t hot_profiles = 50000;
};

class InMemoryUserStore final : public UserStore {
 public:
  explicit InMemoryUserStore(UserModelOptions options, InMemoryUserStoreOptions store_options = {});

  absl::StatusOr<std::shared_ptr<const UserProfile>> Get(std::string_view user_id) const override;
  absl::StatusOr<std::vector<bool>> ApplyEvents(
      std::string_view user_id, absl::Span<const ResolvedEvent> events,
      const ChangeRecordFn& publish = {},
      std::vector<RecentEvent>* recent_before = nullptr) override;
  absl::StatusOr<bool> Delete(std::string_view user_id) override;
  size_t size() const override;
  size_t compact_size() const override;
  // Each shard's hot profiles come first, most recently written first, then its compact ones.
  absl::Status ForEachProfile(const ProfileVisitor& fn) const override;
  // A compact profile goes back to the compact tier as it is (it was cold). An fp32 one is
  // stored hot while the user's shard has room in its hot tier, at the cold end (so restoring
  // in ForEachProfile's order keeps each shard's order, and the first writers push the oldest
  // out), and is encoded compact after.
  absl::Status RestoreProfile(const std::string& user_id, StoredProfile profile) override;

 private:
  static constexpr size_t kShards = 64;
  struct HotProfile {
    std::shared_ptr<const UserProfile> profile;
    std::list<std::string>::iterator lru;  // its place in Shard::lru
  };
  struct Shard {
    mutable absl::Mutex mu;
    StringMap<HotProfile> hot ABSL_GUARDED_BY(mu);
    std::list<std::string> lru ABSL_GUARDED_BY(mu);  // hot user ids, most recently written first
    StringMap<CompactProfile> compact ABSL_GUARDED_BY(mu);
    size_t hot_quota = 0;  // this shard's share of hot_profiles; set once by the constructor
  };
  Shard& ShardFor(std::string_view user_id) const;
  // Makes `profile` the user's hot, most recently written profile (dropping a compact one).
  void PutHot(Shard& shard, std::string_view user_id, std::shared_ptr<const UserProfile> profile,
              bool most_recent) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Moves the least recently written hot profiles to the compact tier down to the quota.
  void EvictOverQuota(Shard& shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Removes the user from whichever tier holds it (size() unchanged); false when neither does.
  bool EraseFromTier(Shard& shard, std::string_view user_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const UserModelOptions options_;
  mutable std::array<Shard, kShards> shards_;
  std::atomic<size_t> size_{0};
  std::atomic<size_t> compact_size_{0};
};

}  // namespace semrec

#endif  // SEMREC_CORE_USER_IN_MEMORY_USER_STORE_H_
