// The online user model: interaction events, per-type weights, and the arithmetic that moves a
// user's interest vector (time decay by event time, pull toward liked items, push away from
// disliked ones). Shared by every UserStore implementation.
//
//   UserProfile profile;
//   ApplyEvent(options, event, item_vector, profile);   // decays, then adds weight * vector
//   std::vector<float> target = profile.InterestDirection();   // unit vector or empty
//
// Thread-compatible: plain values and pure functions.
#ifndef SEMREC_CORE_USER_USER_MODEL_H_
#define SEMREC_CORE_USER_USER_MODEL_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/common/string_map.h"
#include "core/user/seen_set.h"
#include "absl/status/status.h"
#include "absl/types/span.h"

namespace semrec {

enum class EventType : int {
  kView = 1,
  kClick = 2,
  kLike = 3,
  kAddToCart = 4,
  kPurchase = 5,
  kRating = 6,
  kDislike = 7,
  kSkip = 8,
  kSearch = 9,
};
constexpr int kEventTypeCount = 10;  // indexable by static_cast<int>(type)
const char* EventTypeName(EventType type);

struct Event {
  std::string item_id;  // empty only for SEARCH
  EventType type = EventType::kView;
  float value = 0;            // RATING: the rating
  int64_t timestamp_us = 0;   // event time, microseconds since the Unix epoch
  std::string event_id;       // optional idempotency key
  std::string text;           // SEARCH: the query
};

struct UserModelOptions {
  double half_life_seconds = 30 * 86400.0;  // interest decay by event time; run-time changeable
  // Weight per EventType (index = enum value). Negative pushes away. RATING is computed from the
  // value instead: (value - scale/2) / (scale/2), so 5/5 -> +1, 1/5 -> -0.6.
  std::array<float, kEventTypeCount> weights = {0,    /*VIEW*/ 0.1f, /*CLICK*/ 0.3f,
                                                /*LIKE*/ 1.0f,  /*ADD_TO_CART*/ 0.6f,
                                                /*PURCHASE*/ 1.0f, /*RATING*/ 1.0f,
                                                /*DISLIKE*/ -1.0f, /*SKIP*/ -0.2f,
                                                /*SEARCH*/ 0.5f};
  float rating_scale = 5.0f;   // RATING values must lie in [0, rating_scale]
  size_t max_recent = 50;      // recent events kept per user
  // Multi-interest users: up to this many interest clusters. A positive event joins the cluster
  // whose direction is closest if the cosine is at least `interest_join_similarity`, else starts
  // a new one (replacing the faintest when full). 1 = a single interest vector.
  size_t max_interests = 3;
  float interest_join_similarity = 0.3f;
  size_t max_event_ids = 1000; // idempotency keys remembered per user

  absl::Status Validate() const;
};

// The signed weight an event adds to the interest vector.
float EventWeight(const UserModelOptions& options, const Event& event);

struct RecentEvent {
  std::string item_id;
  EventType type;
  float value;
  int64_t timestamp_us;
};

// One of a user's tastes: a decayed sum of the vectors of the positive events that joined it.
struct InterestCluster {
  std::vector<float> vector;
  double mass = 0;  // decayed sum of the weights that joined it
};

struct UserProfile {
  std::vector<float> interest;   // decayed sum of weight * vector; empty before any vector event
  double positive_mass = 0;      // decayed sum of positive weights; 0 = no positive signal yet
  int64_t last_event_us = 0;     // time interest and positive_mass are decayed to
  int64_t event_count = 0;
  // Vectors, not deques: libstdc++'s std::deque allocates 576 bytes even when empty, which is
  // about 1 GB over a million profiles; these stay short (max_recent, max_event_ids).
  std::vector<RecentEvent> recent;         // newest first, at most max_recent
  SeenSet seen;     // items the user interacted with (cheap to copy: see seen_set.h)
  std::vector<std::string> event_ids;      // idempotency keys, oldest first
  StringSet event_id_set;
  std::vector<InterestCluster> interests;  // at most max_interests, by creation

  // The unit interest direction, or empty when there is no positive signal to follow.
  std::vector<float> InterestDirection() const;
  // Unit directions of the clusters holding at least `min_share` of the clusters' total mass,
  // strongest first; the single InterestDirection() when there is at most one.
  std::vector<std::vector<float>> InterestDirections(double min_share = 0.15) const;
  bool HasEventId(const std::string& event_id) const { return event_id_set.contains(event_id); }
};

// Applies one event to `profile`. `vector` is the item's (or the search text's) unit embedding;
// empty when there is none, in which case only history (seen, recent, counts) changes.
// Events older than the profile's last event are added with their weight decayed accordingly, so
// out-of-order delivery gives the same vector as in-order delivery.
void ApplyEvent(const UserModelOptions& options, const Event& event,
                absl::Span<const float> vector, UserProfile& profile);

}  // namespace semrec

#endif  // SEMREC_CORE_USER_USER_MODEL_H_
