#include "core/collab/co_occurrence.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace semrec {

absl::Status CoOccurrenceOptions::Validate() const {
  if (max_neighbors < 1) return absl::InvalidArgumentError("max_neighbors must be at least 1");
  if (!(shrinkage >= 0)) return absl::InvalidArgumentError("shrinkage must be >= 0");
  if (!(pair_half_life_seconds > 0)) {
    return absl::InvalidArgumentError("co-occurrence pair half-life must be positive");
  }
  return absl::OkStatus();
}

CoOccurrenceModel::CoOccurrenceModel(const CoOccurrenceOptions& options) : options_(options) {}

uint32_t CoOccurrenceModel::Intern(std::string_view id) {
  {
    absl::ReaderMutexLock lock(&names_mu_);
    if (auto it = ids_.find(id); it != ids_.end()) return it->second;
  }
  absl::MutexLock lock(&names_mu_);
  auto [it, inserted] = ids_.try_emplace(std::string(id), static_cast<uint32_t>(names_.size()));
  if (inserted) names_.emplace_back(id);
  return it->second;
}

bool CoOccurrenceModel::Lookup(std::string_view id, uint32_t* out) const {
  absl::ReaderMutexLock lock(&names_mu_);
  auto it = ids_.find(id);
  if (it == ids_.end()) return false;
  *out = it->second;
  return true;
}

std::string CoOccurrenceModel::NameOf(uint32_t idx) const {
  absl::ReaderMutexLock lock(&names_mu_);
  return names_[idx];
}

void CoOccurrenceModel::AddMass(uint32_t idx, float w) {
  Shard& shard = ShardOf(idx);
  absl::MutexLock lock(&shard.mu);
  Node& node = shard.nodes[idx];
  node.forgotten = false;
  node.mass += w;
}

double CoOccurrenceModel::MassOf(uint32_t idx) const {
  Shard& shard = ShardOf(idx);
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.nodes.find(idx);
  return it == shard.nodes.end() ? 0.0 : it->second.mass;
}

void CoOccurrenceModel::AddPair(uint32_t from, uint32_t to, float w) {
  Shard& shard = ShardOf(from);
  absl::MutexLock lock(&shard.mu);
  Node& node = shard.nodes[from];
  node.co[to] += w;
  // Bounded memory: past twice the budget, keep the strongest max_neighbors pairs.
  const size_t budget = static_cast<size_t>(options_.max_neighbors);
  if (node.co.size() > 2 * budget) {
    std::vector<std::pair<float, uint32_t>> all;
    all.reserve(node.co.size());
    for (const auto& [n, v] : node.co) all.push_back({v, n});
    std::nth_element(all.begin(), all.begin() + budget, all.end(), std::greater<>());
    node.co.clear();
    for (size_t i = 0; i < budget; ++i) node.co.emplace(all[i].second, all[i].first);
  }
}

void CoOccurrenceModel::Record(std::string_view item_id, float weight, int64_t timestamp_us,
                               absl::Span<const PastItem> previous) {
  if (!(weight > 0) || item_id.empty()) return;
  const uint32_t item = Intern(item_id);
  AddMass(item, weight);
  const double half_life_us = options_.pair_half_life_seconds * 1e6;
  for (const PastItem& p : previous) {
    if (p.item_id == item_id || !(p.weight > 0) || p.item_id.empty()) continue;
    const double gap = std::fabs(static_cast<double>(timestamp_us - p.timestamp_us));
    const float w = static_cast<float>(weight * p.weight * std::exp2(-gap / half_life_us));
    if (w <= 0) continue;
    const uint32_t other = Intern(p.item_id);
    AddPair(item, other, w);
    AddPair(other, item, w);
  }
}

std::vector<std::pair<std::string, float>> CoOccurrenceModel::Neighbors(std::string_view item_id,
                                                                        int n) const {
  std::vector<std::pair<std::string, float>> out;
  uint32_t item;
  if (n <= 0 || !Lookup(item_id, &item)) return out;
  std::vector<std::pair<float, uint32_t>> raw;
  double mass = 0;
  {
    Shard& shard = ShardOf(item);
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.nodes.find(item);
    if (it == shard.nodes.end() || it->second.forgotten) return out;
    mass = it->second.mass;
    raw.reserve(it->second.co.size());
    for (const auto& [other, v] : it->second.co) raw.push_back({v, other});
  }
  if (mass <= 0) return out;
  std::vector<std::pair<float, uint32_t>> scored;
  scored.reserve(raw.size());
  for (const auto& [v, other] : raw) {
    const double other_mass = MassOf(other);
    if (other_mass <= 0) continue;  // forgotten
    scored.push_back(
        {static_cast<float>(v / (std::sqrt(mass * other_mass) + options_.shrinkage)), other});
  }
  const size_t keep = std::min<size_t>(n, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + keep, scored.end(), std::greater<>());
  out.reserve(keep);
  for (size_t i = 0; i < keep; ++i) out.emplace_back(NameOf(scored[i].second), std::min(1.0f, scored[i].first));
  return out;
}

void CoOccurrenceModel::Forget(std::string_view item_id) {
  uint32_t item;
  if (!Lookup(item_id, &item)) return;
  Shard& shard = ShardOf(item);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.nodes.find(item);
  if (it == shard.nodes.end()) return;
  // Neighbours skip it from now on (its mass is 0); their entries are pruned over time.
  it->second.mass = 0;
  it->second.co.clear();
  it->second.forgotten = true;
}

size_t CoOccurrenceModel::items() const {
  absl::ReaderMutexLock lock(&names_mu_);
  return names_.size();
}

CoOccurrenceModel::State CoOccurrenceModel::Export() const {
  State state;
  {
    absl::ReaderMutexLock lock(&names_mu_);
    state.names = names_;
  }
  for (const Shard& shard : shards_) {
    absl::ReaderMutexLock lock(&shard.mu);
    for (const auto& [idx, node] : shard.nodes) {
      State::Node out;
      out.item = idx;
      out.mass = node.mass;
      out.forgotten = node.forgotten;
      out.neighbors.assign(node.co.begin(), node.co.end());
      state.nodes.push_back(std::move(out));
    }
  }
  return state;
}

absl::Status CoOccurrenceModel::Import(State state) {
  const size_t n = state.names.size();
  StringMap<uint32_t> ids;
  for (size_t i = 0; i < n; ++i) {
    if (!ids.try_emplace(state.names[i], static_cast<uint32_t>(i)).second) {
      return absl::InvalidArgumentError(absl::StrCat("item '", state.names[i], "' is named twice"));
    }
  }
  for (const auto& node : state.nodes) {
    bool ok = node.item < n;
    for (const auto& [other, w] : node.neighbors) ok = ok && other < n;
    if (!ok) return absl::InvalidArgumentError("collaborative state refers to an unnamed item");
  }
  absl::MutexLock names_lock(&names_mu_);
  names_ = std::move(state.names);
  ids_ = std::move(ids);
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    shard.nodes.clear();
  }
  for (auto& in : state.nodes) {
    Shard& shard = ShardOf(in.item);
    absl::MutexLock lock(&shard.mu);
    Node& node = shard.nodes[in.item];
    node.mass = in.mass;
    node.forgotten = in.forgotten;
    node.co.clear();
    node.co.insert(in.neighbors.begin(), in.neighbors.end());
  }
  return absl::OkStatus();
}

}  // namespace semrec
