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
    if (auto it = ids_.find(id); it != ids_.end()) return *it;
  }
  absl::MutexLock lock(&names_mu_);
  if (auto it = ids_.find(id); it != ids_.end()) return *it;
  names_.emplace_back(id);
  const uint32_t idx = static_cast<uint32_t>(names_.size() - 1);
  ids_.insert(idx);
  return idx;
}

bool CoOccurrenceModel::Lookup(std::string_view id, uint32_t* out) const {
  absl::ReaderMutexLock lock(&names_mu_);
  auto it = ids_.find(id);
  if (it == ids_.end()) return false;
  *out = *it;
  return true;
}

std::string CoOccurrenceModel::NameOf(uint32_t idx) const {
  absl::ReaderMutexLock lock(&names_mu_);
  return names_[idx];
}

const std::string* CoOccurrenceModel::IndexNamesLocked() {
  ids_.clear();
  ids_.reserve(names_.size());
  for (size_t i = 0; i < names_.size(); ++i) {
    if (!ids_.insert(static_cast<uint32_t>(i)).second) return &names_[i];
  }
  return nullptr;
}

const CoOccurrenceModel::Node* CoOccurrenceModel::Find(const Shard& shard, uint32_t idx) {
  const size_t slot = idx / kShards;
  if (slot >= shard.nodes.size() || !shard.nodes[slot].present) return nullptr;
  return &shard.nodes[slot];
}

CoOccurrenceModel::Node* CoOccurrenceModel::Find(Shard& shard, uint32_t idx) {
  return const_cast<Node*>(Find(static_cast<const Shard&>(shard), idx));
}

CoOccurrenceModel::Node& CoOccurrenceModel::Touch(Shard& shard, uint32_t idx) {
  const size_t slot = idx / kShards;
  if (slot >= shard.nodes.size()) shard.nodes.resize(slot + 1);
  Node& node = shard.nodes[slot];
  node.present = true;
  return node;
}

void CoOccurrenceModel::AddMass(uint32_t idx, float w) {
  Shard& shard = ShardOf(idx);
  absl::MutexLock lock(&shard.mu);
  Node& node = Touch(shard, idx);
  node.forgotten = false;
  node.mass += w;
}

double CoOccurrenceModel::MassOf(uint32_t idx) const {
  const Shard& shard = ShardOf(idx);
  absl::ReaderMutexLock lock(&shard.mu);
  const Node* node = Find(shard, idx);
  return node == nullptr ? 0.0 : node->mass;
}

void CoOccurrenceModel::AddPair(uint32_t from, uint32_t to, float w) {
  Shard& shard = ShardOf(from);
  absl::MutexLock lock(&shard.mu);
  std::vector<std::pair<uint32_t, float>>& co = Touch(shard, from).co;
  auto it =
      std::lower_bound(co.begin(), co.end(), to,
                       [](const std::pair<uint32_t, float>& p, uint32_t n) { return p.first < n; });
  if (it != co.end() && it->first == to) {
    it->second += w;
  } else {
    co.insert(it, {to, w});
  }
  // Bounded memory: past twice the budget, keep the strongest max_neighbors pairs.
  const size_t budget = static_cast<size_t>(options_.max_neighbors);
  if (co.size() > 2 * budget) {
    std::vector<std::pair<float, uint32_t>> all;
    all.reserve(co.size());
    for (const auto& [n, v] : co) all.push_back({v, n});
    std::nth_element(all.begin(), all.begin() + budget, all.end(), std::greater<>());
    co.clear();
    for (size_t i = 0; i < budget; ++i) co.emplace_back(all[i].second, all[i].first);
    std::sort(co.begin(), co.end());
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
    const Shard& shard = ShardOf(item);
    absl::ReaderMutexLock lock(&shard.mu);
    const Node* node = Find(shard, item);
    if (node == nullptr || node->forgotten) return out;
    mass = node->mass;
    raw.reserve(node->co.size());
    for (const auto& [other, v] : node->co) raw.push_back({v, other});
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
  for (size_t i = 0; i < keep; ++i)
    out.emplace_back(NameOf(scored[i].second), std::min(1.0f, scored[i].first));
  return out;
}

void CoOccurrenceModel::Forget(std::string_view item_id) {
  uint32_t item;
  if (!Lookup(item_id, &item)) return;
  Shard& shard = ShardOf(item);
  absl::MutexLock lock(&shard.mu);
  Node* node = Find(shard, item);
  if (node == nullptr) return;
  // Neighbours skip it from now on (its mass is 0); their entries are pruned over time.
  node->mass = 0;
  std::vector<std::pair<uint32_t, float>>().swap(node->co);
  node->forgotten = true;
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
  for (size_t s = 0; s < kShards; ++s) {
    const Shard& shard = shards_[s];
    absl::ReaderMutexLock lock(&shard.mu);
    for (size_t slot = 0; slot < shard.nodes.size(); ++slot) {
      const Node& node = shard.nodes[slot];
      if (!node.present) continue;
      State::Node out;
      out.item = static_cast<uint32_t>(slot * kShards + s);
      out.mass = node.mass;
      out.forgotten = node.forgotten;
      out.neighbors = node.co;
      state.nodes.push_back(std::move(out));
    }
  }
  return state;
}

absl::Status CoOccurrenceModel::Import(State state) {
  const size_t n = state.names.size();
  for (const auto& node : state.nodes) {
    bool ok = node.item < n;
    for (const auto& [other, w] : node.neighbors) ok = ok && other < n;
    if (!ok) return absl::InvalidArgumentError("collaborative state refers to an unnamed item");
  }
  absl::MutexLock names_lock(&names_mu_);
  names_.swap(state.names);
  if (const std::string* twice = IndexNamesLocked()) {
    const std::string name = *twice;
    names_.swap(state.names);  // the model is unchanged on error
    IndexNamesLocked();
    return absl::InvalidArgumentError(absl::StrCat("item '", name, "' is named twice"));
  }
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    shard.nodes.clear();
    shard.nodes.shrink_to_fit();
    shard.nodes.reserve((n + kShards - 1) / kShards);
  }
  for (auto& in : state.nodes) {
    // The pairs are taken over, not copied, sorted by neighbour (a neighbour listed twice keeps
    // its first weight).
    std::stable_sort(in.neighbors.begin(), in.neighbors.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    in.neighbors.erase(std::unique(in.neighbors.begin(), in.neighbors.end(),
                                   [](const auto& a, const auto& b) { return a.first == b.first; }),
                       in.neighbors.end());
    Shard& shard = ShardOf(in.item);
    absl::MutexLock lock(&shard.mu);
    Node& node = Touch(shard, in.item);
    node.mass = in.mass;
    node.forgotten = in.forgotten;
    node.co = std::move(in.neighbors);
  }
  return absl::OkStatus();
}

}  // namespace semrec
