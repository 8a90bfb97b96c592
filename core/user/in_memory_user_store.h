// InMemoryUserStore: the embedded UserStore, profiles in a sharded hash map. Writers copy the
// profile, apply events and swap it in, so readers hold an immutable snapshot without locks.
//
//   InMemoryUserStore store(UserModelOptions{});
//   store.ApplyEvents("u1", events);
//   auto profile = store.Get("u1");
//
// Thread-safe: one mutex per shard; a Get never waits for a write longer than a pointer swap.
#ifndef SEMREC_CORE_USER_IN_MEMORY_USER_STORE_H_
#define SEMREC_CORE_USER_IN_MEMORY_USER_STORE_H_

#include <array>
#include <atomic>
#include <string>

#include "core/common/string_map.h"
#include "absl/synchronization/mutex.h"
#include "core/user/user_store.h"

namespace semrec {

class InMemoryUserStore final : public UserStore {
 public:
  explicit InMemoryUserStore(UserModelOptions options);

  absl::StatusOr<std::shared_ptr<const UserProfile>> Get(std::string_view user_id) const override;
  absl::StatusOr<std::vector<bool>> ApplyEvents(std::string_view user_id,
                                                absl::Span<const ResolvedEvent> events,
                                                const ChangeRecordFn& publish = {}) override;
  absl::StatusOr<bool> Delete(std::string_view user_id) override;
  size_t size() const override;
  absl::Status ForEachProfile(const ProfileVisitor& fn) const override;
  absl::Status RestoreProfile(const std::string& user_id,
                              std::shared_ptr<const UserProfile> profile) override;

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    mutable absl::Mutex mu;
    StringMap<std::shared_ptr<const UserProfile>> users ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(std::string_view user_id) const;

  const UserModelOptions options_;
  mutable std::array<Shard, kShards> shards_;
  std::atomic<size_t> size_{0};
};

}  // namespace semrec

#endif  // SEMREC_CORE_USER_IN_MEMORY_USER_STORE_H_
