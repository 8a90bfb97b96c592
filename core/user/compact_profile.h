// CompactProfile: a UserProfile packed into one immutable heap block, about a fifth of its fp32
// size: what InMemoryUserStore keeps for every user outside its hot tier. Vectors become int8
// codes with one exact fp32 scale each (code = round(x / scale), scale = max|x| / 127); the
// interest vector is left out when it is the sum of the taste clusters (no negative event missed
// them, none was replaced) and rebuilt from them on decoding; everything else is exact.
//
//   CompactProfile compact = CompactProfile::Encode(profile);   // ~1.3 KB for 3 events, 3 tastes
//   UserProfile copy;
//   RETURN_IF_ERROR(compact.Decode(&copy));                      // vectors within ~0.7% of norm
//   ASSIGN_OR_RETURN(CompactProfile same, CompactProfile::FromBytes(compact.bytes()));  // checked
//
// Thread-safe: the bytes never change; copies share them through an atomic count (like
// std::shared_ptr<const T>: one CompactProfile object must not be assigned while others read it).
#ifndef SEMREC_CORE_USER_COMPACT_PROFILE_H_
#define SEMREC_CORE_USER_COMPACT_PROFILE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/storage/byte_codec.h"
#include "core/user/user_model.h"

namespace semrec {

// The encoding alone (no ownership): for CompactProfile and for tests that corrupt it. Decoding
// checks every count, length, enum and flag against the bytes, and returns false on anything
// Encode cannot have written. IsCompactProfile makes the same checks without building the
// profile (a few times faster): it is true exactly when decoding would succeed.
void EncodeCompactProfile(const UserProfile& profile, BufferWriter& out);
bool DecodeCompactProfile(std::string_view bytes, UserProfile* profile);
bool IsCompactProfile(std::string_view bytes);

class CompactProfile {
 public:
  CompactProfile() = default;  // empty: no profile
  static CompactProfile Encode(const UserProfile& profile);
  // A copy of bytes() of an encoded profile (as a snapshot stores them), checked but not
  // decoded: DATA_LOSS for bytes Encode did not write, so Decode of the result never fails.
  static absl::StatusOr<CompactProfile> FromBytes(std::string_view bytes);

  CompactProfile(const CompactProfile& other) noexcept : rep_(other.rep_) { Ref(); }
  CompactProfile(CompactProfile&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  CompactProfile& operator=(CompactProfile other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~CompactProfile() { Unref(); }

  // DATA_LOSS for an empty CompactProfile or bytes Encode did not write.
  absl::Status Decode(UserProfile* profile) const;

  bool empty() const { return rep_ == nullptr; }
  std::string_view bytes() const;
  // The heap block: count, length and bytes (what malloc adds to it is not counted).
  size_t allocated_bytes() const;

 private:
  // One allocation: this count, the length as a varint, then the bytes. A std::string would
  // add 32 bytes and its capacity slack, a shared_ptr a control block.
  struct Rep {
    std::atomic<uint32_t> refs;
  };
  explicit CompactProfile(Rep* rep) : rep_(rep) {}
  static CompactProfile Copy(std::string_view bytes);
  void Ref() const {
    if (rep_) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Unref();

  Rep* rep_ = nullptr;
};

}  // namespace semrec

#endif  // SEMREC_CORE_USER_COMPACT_PROFILE_H_
