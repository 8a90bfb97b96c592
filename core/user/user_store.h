// UserStore: where user profiles live (in memory now; Redis for several replicas later). Stores
// apply already-resolved events (vectors looked up or embedded beforehand, so no lock is ever held
// across encoding or search) atomically per user.
//
//   ASSIGN_OR_RETURN(auto applied, store.ApplyEvents("u1", resolved_events));
//   std::vector<RecentEvent> before;  // the history the events follow, without another read
//   ASSIGN_OR_RETURN(applied, store.ApplyEvents("u1", more_events, {}, &before));
//   ASSIGN_OR_RETURN(std::shared_ptr<const UserProfile> p, store.Get("u1"));  // nullptr: unknown
//   store.Delete("u1");
//
// Thread-safe: implementations serialize writes per user.
#ifndef SEMREC_CORE_USER_USER_STORE_H_
#define SEMREC_CORE_USER_USER_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/user/compact_profile.h"
#include "core/user/user_model.h"

namespace semrec {

struct ResolvedEvent {
  Event event;
  std::vector<float> vector;  // the item's or search text's embedding; may be empty
};

// A profile as the store holds it: an fp32 profile, or a compact encoding. ForEachProfile hands
// these out sharing the store's immutable state, so capturing every profile costs a few pointers
// each rather than a decoded copy of each; Load() decodes a compact one into a fresh profile. A
// snapshot writes a compact one as its bytes and RestoreProfile takes it back without decoding.
class StoredProfile {
 public:
  StoredProfile() = default;  // neither: Load() fails
  explicit StoredProfile(std::shared_ptr<const UserProfile> profile)
      : profile_(std::move(profile)) {}
  explicit StoredProfile(CompactProfile compact) : compact_(std::move(compact)) {}

  // The compact encoding when the profile is held compact, else empty.
  const CompactProfile& compact() const { return compact_; }
  bool is_compact() const { return !compact_.empty(); }

  absl::StatusOr<std::shared_ptr<const UserProfile>> Load() const {
    if (profile_) return profile_;
    auto profile = std::make_shared<UserProfile>();
    if (absl::Status s = compact_.Decode(profile.get()); !s.ok()) return s;
    return std::shared_ptr<const UserProfile>(std::move(profile));
  }

 private:
  std::shared_ptr<const UserProfile> profile_;
  CompactProfile compact_;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // An immutable snapshot of the profile, or nullptr for an unknown user.
  virtual absl::StatusOr<std::shared_ptr<const UserProfile>> Get(std::string_view user_id) const = 0;

  // Builds the change record that a store shared by replicas publishes atomically with a profile
  // update (PublishesChanges()): called with the profile before the events (nullptr: a new user)
  // and which of them are applied; "" publishes nothing. May be called more than once (an
  // optimistic store retries), so it must not have side effects.
  using ChangeRecordFn =
      std::function<std::string(const UserProfile* before, const std::vector<bool>& applied)>;

  // Applies `events` in order, atomically for this user. Returns, per event, true when applied and
  // false when skipped as a duplicate (its event_id was already applied). `publish`: see
  // ChangeRecordFn; FAILED_PRECONDITION when the store does not publish changes.
  // `recent_before`, when given, receives the profile's `recent` list (newest first) as it was
  // just before these events, read in the same serialized update (empty for a new user, and when
  // `events` is empty): what a caller would otherwise need a separate Get for.
  virtual absl::StatusOr<std::vector<bool>> ApplyEvents(
      std::string_view user_id, absl::Span<const ResolvedEvent> events,
      const ChangeRecordFn& publish = {}, std::vector<RecentEvent>* recent_before = nullptr) = 0;

  // Forgets the user; returns false when the user was unknown.
  virtual absl::StatusOr<bool> Delete(std::string_view user_id) = 0;

  virtual size_t size() const = 0;
  // Of size(), the profiles held in a compact, lossy form (InMemoryUserStore's cold tier).
  virtual size_t compact_size() const { return 0; }

  // True when profiles live only in this process, so the engine's snapshots and write-ahead log
  // replay must restore them; false for a shared store that keeps them itself (Redis).
  virtual bool StoresProfilesInProcess() const { return true; }
  // True when ApplyEvents can publish a change record with the update (the Redis store, to the
  // replication feed that every replica reads).
  virtual bool PublishesChanges() const { return false; }

  // Snapshots, for stores that keep profiles only in this process (UNIMPLEMENTED otherwise):
  // calls `fn` for every profile, outside the store's locks (a caller that captures them all
  // under its own write barrier keeps the StoredProfiles and loads them after), and puts a
  // profile back whole, in the form it is given (a compact one is not decoded).
  using ProfileVisitor = std::function<void(const std::string& user_id, StoredProfile profile)>;
  virtual absl::Status ForEachProfile(const ProfileVisitor& fn) const {
    return absl::UnimplementedError("this user store keeps no local state to snapshot");
  }
  virtual absl::Status RestoreProfile(const std::string& user_id, StoredProfile profile) {
    return absl::UnimplementedError("this user store keeps no local state to restore");
  }
};

}  // namespace semrec

#endif  // SEMREC_CORE_USER_USER_STORE_H_
