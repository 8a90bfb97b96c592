#include "core/user/user_model.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace semrec {

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kView: return "VIEW";
    case EventType::kClick: return "CLICK";
    case EventType::kLike: return "LIKE";
    case EventType::kAddToCart: return "ADD_TO_CART";
    case EventType::kPurchase: return "PURCHASE";
    case EventType::kRating: return "RATING";
    case EventType::kDislike: return "DISLIKE";
    case EventType::kSkip: return "SKIP";
    case EventType::kSearch: return "SEARCH";
  }
  return "UNKNOWN";
}

absl::Status UserModelOptions::Validate() const {
  if (!(half_life_seconds > 0)) {
    return absl::InvalidArgumentError("user half-life must be positive");
  }
  if (!(rating_scale > 0)) return absl::InvalidArgumentError("rating scale must be positive");
  for (float w : weights) {
    if (!std::isfinite(w) || std::fabs(w) > 100) {
      return absl::InvalidArgumentError("event weights must be finite and within [-100, 100]");
    }
  }
  if (max_recent == 0) return absl::InvalidArgumentError("max_recent must be at least 1");
  return absl::OkStatus();
}

float EventWeight(const UserModelOptions& options, const Event& event) {
  const float base = options.weights[static_cast<int>(event.type)];
  if (event.type == EventType::kRating) {
    const float half = options.rating_scale / 2;
    return base * (event.value - half) / half;
  }
  return base;
}

std::vector<float> UserProfile::InterestDirection() const {
  if (interest.empty() || !(positive_mass > 0)) return {};
  double norm = 0;
  for (float x : interest) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (norm < 1e-6 * positive_mass || norm < 1e-12) return {};
  std::vector<float> dir(interest.size());
  for (size_t i = 0; i < dir.size(); ++i) dir[i] = static_cast<float>(interest[i] / norm);
  return dir;
}

void ApplyEvent(const UserModelOptions& options, const Event& event,
                absl::Span<const float> vector, UserProfile& profile) {
  const double half_life_us = options.half_life_seconds * 1e6;
  double weight = EventWeight(options, event);
  if (profile.event_count == 0) profile.last_event_us = event.timestamp_us;
  if (event.timestamp_us > profile.last_event_us) {
    // Decay the state to the new event's time.
    const double f = std::exp2(-(event.timestamp_us - profile.last_event_us) / half_life_us);
    for (float& x : profile.interest) x = static_cast<float>(x * f);
    profile.positive_mass *= f;
    profile.last_event_us = event.timestamp_us;
  } else if (event.timestamp_us < profile.last_event_us) {
    // A late event: as if it had been applied in order and decayed since.
    weight *= std::exp2(-(profile.last_event_us - event.timestamp_us) / half_life_us);
  }
  if (!vector.empty() && weight != 0) {
    if (profile.interest.empty()) profile.interest.assign(vector.size(), 0.0f);
    if (profile.interest.size() == vector.size()) {
      for (size_t i = 0; i < vector.size(); ++i) {
        profile.interest[i] += static_cast<float>(weight * vector[i]);
      }
      if (weight > 0) profile.positive_mass += weight;
    }
  }
  ++profile.event_count;
  if (!event.item_id.empty()) profile.seen.insert(event.item_id);
  profile.recent.push_front(
      RecentEvent{event.item_id, event.type, event.value, event.timestamp_us});
  while (profile.recent.size() > options.max_recent) profile.recent.pop_back();
  if (!event.event_id.empty() && profile.event_id_set.insert(event.event_id).second) {
    profile.event_ids.push_back(event.event_id);
    while (profile.event_ids.size() > options.max_event_ids) {
      profile.event_id_set.erase(profile.event_ids.front());
      profile.event_ids.pop_front();
    }
  }
}

}  // namespace semrec
