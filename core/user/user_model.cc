#include "core/user/user_model.h"

#include <algorithm>
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

namespace {

double Norm(absl::Span<const float> v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  return std::sqrt(n);
}

// Moves a positive (or negative) weighted vector into the closest cluster, or a new one.
void UpdateClusters(const UserModelOptions& options, absl::Span<const float> vector, double weight,
                    std::vector<InterestCluster>& clusters) {
  if (options.max_interests == 0) return;
  int best = -1;
  double best_cos = -2;
  for (size_t i = 0; i < clusters.size(); ++i) {
    const double norm = Norm(clusters[i].vector);
    if (norm <= 0) continue;
    double dot = 0;
    for (size_t j = 0; j < vector.size(); ++j) dot += clusters[i].vector[j] * vector[j];
    const double cos = dot / norm;  // `vector` is unit length
    if (cos > best_cos) {
      best_cos = cos;
      best = static_cast<int>(i);
    }
  }
  if (weight < 0) {  // negative feedback pushes the closest taste away
    if (best >= 0) {
      for (size_t j = 0; j < vector.size(); ++j) clusters[best].vector[j] += weight * vector[j];
    }
    return;
  }
  if (best < 0 || best_cos < options.interest_join_similarity) {
    if (clusters.size() < options.max_interests) {
      clusters.push_back({std::vector<float>(vector.size(), 0.0f), 0});
      best = static_cast<int>(clusters.size()) - 1;
    } else {
      // Full: the faintest taste makes room if it has faded below this event's weight.
      auto faintest = std::min_element(
          clusters.begin(), clusters.end(),
          [](const InterestCluster& a, const InterestCluster& b) { return a.mass < b.mass; });
      if (faintest->mass < weight) {
        *faintest = {std::vector<float>(vector.size(), 0.0f), 0};
        best = static_cast<int>(faintest - clusters.begin());
      }
    }
  }
  if (best < 0) return;
  InterestCluster& c = clusters[best];
  if (c.vector.size() != vector.size()) return;
  for (size_t j = 0; j < vector.size(); ++j) c.vector[j] += static_cast<float>(weight * vector[j]);
  c.mass += weight;
}

}  // namespace

std::vector<std::vector<float>> UserProfile::InterestDirections(double min_share) const {
  std::vector<std::vector<float>> out;
  double total = 0;
  for (const auto& c : interests) total += c.mass;
  if (interests.size() <= 1 || !(total > 0)) {
    auto dir = InterestDirection();
    if (!dir.empty()) out.push_back(std::move(dir));
    return out;
  }
  std::vector<const InterestCluster*> order;
  for (const auto& c : interests) order.push_back(&c);
  std::sort(order.begin(), order.end(),
            [](const InterestCluster* a, const InterestCluster* b) { return a->mass > b->mass; });
  for (const InterestCluster* c : order) {
    if (c->mass < min_share * total) continue;
    const double norm = Norm(c->vector);
    if (norm < 1e-9) continue;
    std::vector<float> dir(c->vector.size());
    for (size_t j = 0; j < dir.size(); ++j) dir[j] = static_cast<float>(c->vector[j] / norm);
    out.push_back(std::move(dir));
  }
  if (out.empty()) {
    auto dir = InterestDirection();
    if (!dir.empty()) out.push_back(std::move(dir));
  }
  return out;
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
    for (auto& c : profile.interests) {
      for (float& x : c.vector) x = static_cast<float>(x * f);
      c.mass *= f;
    }
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
      UpdateClusters(options, vector, weight, profile.interests);
    }
  }
  ++profile.event_count;
  if (!event.item_id.empty()) profile.seen.insert(event.item_id);
  profile.recent.insert(profile.recent.begin(),
                        RecentEvent{event.item_id, event.type, event.value, event.timestamp_us});
  if (profile.recent.size() > options.max_recent) {
    profile.recent.erase(profile.recent.begin() + options.max_recent, profile.recent.end());
  }
  if (!event.event_id.empty() && profile.event_id_set.insert(event.event_id).second) {
    profile.event_ids.push_back(event.event_id);
    if (profile.event_ids.size() > options.max_event_ids) {
      const size_t drop = profile.event_ids.size() - options.max_event_ids;
      for (size_t i = 0; i < drop; ++i) profile.event_id_set.erase(profile.event_ids[i]);
      profile.event_ids.erase(profile.event_ids.begin(), profile.event_ids.begin() + drop);
    }
  }
}

}  // namespace semrec
