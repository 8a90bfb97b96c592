#include "core/user/compact_profile.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

namespace semrec {
namespace {

// Layout (little-endian, varints as in BufferWriter):
//   u8 flags, f64 positive_mass, i64 last_event_us, varint event_count,
//   [vector interest]                       when kInterestStored
//   varint clusters, each: f64 mass, vector
//   varint recent, each: string item_id, u8 type (| kHasValue: f32 value follows), varint
//                        zigzag(previous timestamp - timestamp), the first after last_event_us
//   varint seen ids, strings: all of them, or with kSeenExtendsRecent those not in `recent`
//   varint event ids, strings (event_id_set is rebuilt from them)
// vector: varint dimension, then when non-zero: the int8 codes and the f32 scale.
constexpr uint8_t kInterestStored = 1;
constexpr uint8_t kInterestIsClusterSum = 2;  // interest omitted: the sum of the clusters
constexpr uint8_t kSeenExtendsRecent = 4;     // seen = recent item ids + the ids listed
constexpr uint8_t kKnownFlags = kInterestStored | kInterestIsClusterSum | kSeenExtendsRecent;
constexpr uint8_t kHasValue = 0x80;
// The interest is left out when ||interest - sum of clusters|| <= this * ||interest||. Float
// rounding keeps the two within ~1e-6 of each other; a missed negative event or a replaced
// cluster moves them apart by a whole event's weight.
constexpr double kClusterSumTolerance = 1e-4;

void PutVector(absl::Span<const float> v, std::string& codes, BufferWriter& out) {
  float max_abs = 0;
  for (float x : v) max_abs = std::max(max_abs, std::fabs(x));  // NaN compares false: skipped
  if (!std::isfinite(max_abs)) {  // an infinity: scale the finite values, clamp the rest
    max_abs = 0;
    for (float x : v) {
      if (std::isfinite(x)) max_abs = std::max(max_abs, std::fabs(x));
    }
  }
  // Decayed sums, not unit vectors: the scale carries the norm, so it is stored exactly.
  const float scale = max_abs / 127;
  const float inverse = scale > 0 ? 1 / scale : 0;
  const bool subnormal = !std::isfinite(inverse);  // a vector decayed for a hundred half-lives
  codes.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    // round(x / scale) within [-127, 127] without a libm call per element (std::round is one,
    // and was a third of the encoding time); NaN becomes 127 through the comparisons, never an
    // invalid cast.
    float y = subnormal ? v[i] / scale : v[i] * inverse;
    y = y < 127.0f ? y : 127.0f;
    y = y > -127.0f ? y : -127.0f;
    codes[i] = static_cast<char>(static_cast<int>(y + std::copysign(0.5f, y)));
  }
  out.PutString(codes);
  if (!v.empty()) out.PutFloat(scale);
}

// Reads a vector's codes into `codes`; `v` (null: only checked) gets the decoded floats.
bool GetVector(BufferReader& in, std::string& codes, std::vector<float>* v) {
  if (!in.GetString(&codes)) return false;
  if (v) v->clear();
  if (codes.empty()) return true;
  float scale;
  if (!in.GetFloat(&scale) || !std::isfinite(scale) || scale < 0) return false;
  if (!v) return true;
  v->resize(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) {
    (*v)[i] = static_cast<float>(static_cast<int8_t>(codes[i])) * scale;
  }
  return true;
}

bool InterestIsClusterSum(const UserProfile& p) {
  if (p.interests.empty() || p.interest.empty()) return false;
  for (const InterestCluster& c : p.interests) {
    if (c.vector.size() != p.interest.size()) return false;
  }
  // The difference, as the decoder's float sum of the clusters would leave it.
  std::vector<float> residual = p.interest;
  for (const InterestCluster& c : p.interests) {
    for (size_t j = 0; j < residual.size(); ++j) residual[j] -= c.vector[j];
  }
  double diff = 0, norm = 0;
  for (size_t j = 0; j < residual.size(); ++j) {
    diff += static_cast<double>(residual[j]) * residual[j];
    norm += static_cast<double>(p.interest[j]) * p.interest[j];
  }
  return diff <= kClusterSumTolerance * kClusterSumTolerance * norm;
}

bool SeenExtendsRecent(const UserProfile& p) {
  for (const RecentEvent& e : p.recent) {
    if (!e.item_id.empty() && !p.seen.contains(e.item_id)) return false;
  }
  return true;
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ (v < 0 ? ~0ull : 0ull); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

size_t VarintLength(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// Reads the layout above into `p`, or with a null `p` only checks it: one parser, so the check
// accepts exactly the bytes decoding accepts. Checking builds nothing (no vectors, no sets); the
// strings it reads go through one reused buffer.
bool ParseCompactProfile(std::string_view bytes, UserProfile* p) {
  if (p) *p = UserProfile();
  BufferReader in(bytes);
  uint8_t flags;
  double positive_mass;
  int64_t last_event_us;
  uint64_t count, n;
  if (!in.GetU8(&flags) || (flags & ~kKnownFlags) != 0 ||
      (flags & (kInterestStored | kInterestIsClusterSum)) ==
          (kInterestStored | kInterestIsClusterSum) ||
      !in.GetDouble(&positive_mass) || !in.GetI64(&last_event_us) || !in.GetVarint(&count)) {
    return false;
  }
  if (p) {
    p->positive_mass = positive_mass;
    p->last_event_us = last_event_us;
    p->event_count = static_cast<int64_t>(count);
  }
  std::string codes;  // also the buffer for strings that are only checked
  if ((flags & kInterestStored) &&
      (!GetVector(in, codes, p ? &p->interest : nullptr) || codes.empty())) {
    return false;
  }
  if (!in.GetCount(&n, 9)) return false;
  if (p) p->interests.resize(n);
  size_t dimension = 0;  // of the first cluster
  bool same_dimension = true;
  for (uint64_t i = 0; i < n; ++i) {
    double mass;
    if (!in.GetDouble(&mass) || !GetVector(in, codes, p ? &p->interests[i].vector : nullptr)) {
      return false;
    }
    if (p) p->interests[i].mass = mass;
    if (i == 0) dimension = codes.size();
    same_dimension = same_dimension && codes.size() == dimension;
  }
  if (flags & kInterestIsClusterSum) {
    if (n == 0 || dimension == 0 || !same_dimension) return false;
    if (p) {
      p->interest.assign(dimension, 0.0f);
      for (const InterestCluster& c : p->interests) {
        for (size_t j = 0; j < dimension; ++j) p->interest[j] += c.vector[j];
      }
    }
  }
  if (!in.GetCount(&n, 3)) return false;
  if (p) p->recent.resize(n);
  uint64_t previous = static_cast<uint64_t>(last_event_us);
  for (uint64_t i = 0; i < n; ++i) {
    std::string& item_id = p ? p->recent[i].item_id : codes;
    uint8_t type;
    float value = 0;
    uint64_t delta;
    if (!in.GetString(&item_id) || !in.GetU8(&type)) return false;
    if ((type & kHasValue) && !in.GetFloat(&value)) return false;
    type &= ~kHasValue;
    if (type < 1 || type >= kEventTypeCount || !in.GetVarint(&delta)) return false;
    previous -= static_cast<uint64_t>(UnZigZag(delta));
    if (p) {
      RecentEvent& e = p->recent[i];
      e.type = static_cast<EventType>(type);
      e.value = value;
      e.timestamp_us = static_cast<int64_t>(previous);
    }
  }
  if (!in.GetCount(&n)) return false;
  if (p) {
    p->seen.reserve(n + ((flags & kSeenExtendsRecent) ? p->recent.size() : 0));
    if (flags & kSeenExtendsRecent) {
      for (const RecentEvent& e : p->recent) {
        if (!e.item_id.empty()) p->seen.insert(e.item_id);
      }
    }
  }
  for (uint64_t i = 0; i < n; ++i) {
    if (!in.GetString(&codes)) return false;
    if (p) p->seen.insert(codes);
  }
  if (!in.GetCount(&n)) return false;
  if (p) {
    p->event_ids.resize(n);
    p->event_id_set.reserve(n);
  }
  for (uint64_t i = 0; i < n; ++i) {
    std::string& id = p ? p->event_ids[i] : codes;
    if (!in.GetString(&id)) return false;
    if (p) p->event_id_set.insert(id);
  }
  return in.done();
}

}  // namespace

void EncodeCompactProfile(const UserProfile& p, BufferWriter& out) {
  uint8_t flags = 0;
  if (InterestIsClusterSum(p)) {
    flags |= kInterestIsClusterSum;
  } else if (!p.interest.empty()) {
    flags |= kInterestStored;
  }
  const bool seen_extends_recent = SeenExtendsRecent(p);
  if (seen_extends_recent) flags |= kSeenExtendsRecent;
  out.PutU8(flags);
  out.PutDouble(p.positive_mass);
  out.PutI64(p.last_event_us);
  out.PutVarint(static_cast<uint64_t>(p.event_count));
  std::string codes;
  if (flags & kInterestStored) PutVector(p.interest, codes, out);
  out.PutVarint(p.interests.size());
  for (const InterestCluster& c : p.interests) {
    out.PutDouble(c.mass);
    PutVector(c.vector, codes, out);
  }
  out.PutVarint(p.recent.size());
  uint64_t previous = static_cast<uint64_t>(p.last_event_us);
  for (const RecentEvent& e : p.recent) {
    out.PutString(e.item_id);
    uint32_t value_bits;
    std::memcpy(&value_bits, &e.value, sizeof(value_bits));
    out.PutU8(static_cast<uint8_t>(e.type) | (value_bits != 0 ? kHasValue : 0));
    if (value_bits != 0) out.PutFloat(e.value);
    // Unsigned arithmetic: wraps instead of overflowing, and decoding wraps back.
    const uint64_t t = static_cast<uint64_t>(e.timestamp_us);
    out.PutVarint(ZigZag(static_cast<int64_t>(previous - t)));
    previous = t;
  }
  if (seen_extends_recent) {
    StringViewSet in_recent;
    for (const RecentEvent& e : p.recent) {
      if (!e.item_id.empty()) in_recent.insert(e.item_id);
    }
    out.PutVarint(p.seen.size() - in_recent.size());
    for (const std::string& id : p.seen) {
      if (!in_recent.contains(id)) out.PutString(id);
    }
  } else {
    out.PutVarint(p.seen.size());
    for (const std::string& id : p.seen) out.PutString(id);
  }
  out.PutVarint(p.event_ids.size());
  for (const std::string& id : p.event_ids) out.PutString(id);
}

bool DecodeCompactProfile(std::string_view bytes, UserProfile* profile) {
  return ParseCompactProfile(bytes, profile);
}

bool IsCompactProfile(std::string_view bytes) { return ParseCompactProfile(bytes, nullptr); }

CompactProfile CompactProfile::Encode(const UserProfile& profile) {
  BufferWriter out;
  EncodeCompactProfile(profile, out);
  return Copy(out.data());
}

absl::StatusOr<CompactProfile> CompactProfile::FromBytes(std::string_view bytes) {
  if (!IsCompactProfile(bytes)) return absl::DataLossError("malformed compact user profile");
  return Copy(bytes);
}

CompactProfile CompactProfile::Copy(std::string_view bytes) {
  char* block =
      static_cast<char*>(::operator new(sizeof(Rep) + VarintLength(bytes.size()) + bytes.size()));
  Rep* rep = new (block) Rep{{1}};
  char* p = block + sizeof(Rep);
  for (uint64_t v = bytes.size();; v >>= 7) {
    *p++ = static_cast<char>(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
    if (v < 0x80) break;
  }
  std::memcpy(p, bytes.data(), bytes.size());
  return CompactProfile(rep);
}

std::string_view CompactProfile::bytes() const {
  if (!rep_) return {};
  const char* p = reinterpret_cast<const char*>(rep_) + sizeof(Rep);
  uint64_t size = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(*p++);
    size |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return std::string_view(p, size);
}

size_t CompactProfile::allocated_bytes() const {
  if (!rep_) return 0;
  const size_t size = bytes().size();
  return sizeof(Rep) + VarintLength(size) + size;
}

absl::Status CompactProfile::Decode(UserProfile* profile) const {
  if (!DecodeCompactProfile(bytes(), profile)) {
    return absl::DataLossError(rep_ ? "malformed compact user profile" : "empty compact profile");
  }
  return absl::OkStatus();
}

void CompactProfile::Unref() {
  if (rep_ && rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    rep_->~Rep();
    ::operator delete(rep_);
  }
}

}  // namespace semrec
