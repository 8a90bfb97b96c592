#include "core/catalog/item_catalog.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace semrec {
namespace {

// Longest prefix of `s` of at most `max` bytes that does not split a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

std::string Item::DisplayName() const {
  if (auto it = attributes.find("title"); it != attributes.end() && !it->second.empty()) {
    return it->second;
  }
  std::string_view t = text;
  // First sentence: up to ". " or a newline.
  size_t end = std::min(t.find(". "), t.find('\n'));
  if (end != std::string_view::npos) t = t.substr(0, end);
  std::string_view cut = Utf8Prefix(t, 80);
  std::string out(cut);
  if (cut.size() < t.size()) out += "...";
  return out;
}

bool Item::HasCategory(std::string_view category) const {
  return std::find(categories.begin(), categories.end(), category) != categories.end();
}

std::shared_ptr<const Item> ItemCatalog::Get(std::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = items_.find(id);
  return it == items_.end() ? nullptr : *it;
}

std::vector<std::shared_ptr<const Item>> ItemCatalog::GetMany(
    absl::Span<const std::string_view> ids) const {
  std::vector<std::shared_ptr<const Item>> out(ids.size());
  absl::ReaderMutexLock lock(&mu_);
  for (std::string_view id : ids) items_.prefetch(id);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (auto it = items_.find(ids[i]); it != items_.end()) out[i] = *it;
  }
  return out;
}

std::shared_ptr<const Item> ItemCatalog::Put(Item item) {
  auto entry = std::make_shared<const Item>(std::move(item));
  absl::MutexLock lock(&mu_);
  auto it = items_.find(entry->id);
  if (it == items_.end()) {
    items_.insert(std::move(entry));
    sorted_ids_.reset();
    return nullptr;
  }
  std::shared_ptr<const Item> previous = *it;
  items_.erase(it);  // a set's elements are immutable: the new entry replaces it
  items_.insert(std::move(entry));
  return previous;
}

bool ItemCatalog::Remove(std::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = items_.find(id);
  if (it == items_.end()) return false;
  items_.erase(it);
  sorted_ids_.reset();
  return true;
}

size_t ItemCatalog::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return items_.size();
}

std::shared_ptr<const std::vector<std::string>> ItemCatalog::SortedIds() const {
  absl::MutexLock lock(&mu_);
  if (!sorted_ids_) {
    auto ids = std::make_shared<std::vector<std::string>>();
    ids->reserve(items_.size());
    for (const auto& item : items_) ids->push_back(item->id);
    std::sort(ids->begin(), ids->end());
    sorted_ids_ = std::move(ids);
  }
  return sorted_ids_;
}

std::vector<std::shared_ptr<const Item>> ItemCatalog::All() const {
  absl::MutexLock lock(&mu_);
  return std::vector<std::shared_ptr<const Item>>(items_.begin(), items_.end());
}

PopularityTracker::PackedId::PackedId(std::string_view id) {
  std::memset(bytes_, 0, sizeof(bytes_));
  if (id.size() < sizeof(bytes_)) {
    std::memcpy(bytes_, id.data(), id.size());
    bytes_[15] = static_cast<char>(id.size());
    return;
  }
  char* heap = new char[id.size()];
  std::memcpy(heap, id.data(), id.size());
  const uint32_t size = static_cast<uint32_t>(id.size());  // ids are far shorter than 4 GiB
  std::memcpy(bytes_, &heap, sizeof(heap));
  std::memcpy(bytes_ + sizeof(heap), &size, sizeof(size));
  bytes_[15] = static_cast<char>(kOnHeap);
}

PopularityTracker::PackedId::PackedId(PackedId&& other) noexcept {
  std::memcpy(bytes_, other.bytes_, sizeof(bytes_));
  std::memset(other.bytes_, 0, sizeof(other.bytes_));  // empty, in place
}

PopularityTracker::PackedId& PopularityTracker::PackedId::operator=(PackedId&& other) noexcept {
  if (this != &other) {
    Free();
    std::memcpy(bytes_, other.bytes_, sizeof(bytes_));
    std::memset(other.bytes_, 0, sizeof(other.bytes_));
  }
  return *this;
}

PopularityTracker::PackedId::~PackedId() { Free(); }

void PopularityTracker::PackedId::Free() {
  if (tag() != kOnHeap) return;
  char* heap;
  std::memcpy(&heap, bytes_, sizeof(heap));
  delete[] heap;
}

std::string_view PopularityTracker::PackedId::view() const {
  if (tag() != kOnHeap) return std::string_view(bytes_, tag());
  const char* heap;
  uint32_t size;
  std::memcpy(&heap, bytes_, sizeof(heap));
  std::memcpy(&size, bytes_ + sizeof(heap), sizeof(size));
  return std::string_view(heap, size);
}

PopularityTracker::PopularityTracker(double half_life_seconds)
    : half_life_us_(std::max(1.0, half_life_seconds) * 1e6) {}

double PopularityTracker::ToNowLocked(double stored) const {
  return stored * std::exp2((anchor_us_ - latest_us_) / half_life_us_);
}

void PopularityTracker::RebaseLocked(int64_t new_anchor_us) {
  const double factor = std::exp2((anchor_us_ - new_anchor_us) / half_life_us_);
  for (auto& [id, s] : stored_) s *= factor;
  max_stored_ *= factor;
  top_cache_valid_ = false;
  anchor_us_ = new_anchor_us;
}

void PopularityTracker::Record(std::string_view id, double weight, int64_t timestamp_us) {
  if (!(weight > 0)) return;
  absl::MutexLock lock(&mu_);
  if (!started_) {
    anchor_us_ = latest_us_ = timestamp_us;
    started_ = true;
  }
  latest_us_ = std::max(latest_us_, timestamp_us);
  // Keep exponents small: rebase once events are 64 half-lives past the anchor.
  if ((latest_us_ - anchor_us_) / half_life_us_ > 64) RebaseLocked(latest_us_);
  const double stored = stored_[id] +=
      weight * std::exp2((timestamp_us - anchor_us_) / half_life_us_);
  max_stored_ = std::max(max_stored_, stored);  // stored values only grow between rebases
  // Small trackers are ranked afresh on every Top(); large ones at most every 200 ms.
  if (!top_cache_ || top_cache_->size() < kTopCacheSize) top_cache_valid_ = false;
}

void PopularityTracker::Forget(std::string_view id) {
  absl::MutexLock lock(&mu_);
  if (auto it = stored_.find(id); it != stored_.end()) {
    if (it->second >= max_stored_) max_valid_ = false;  // found again by the next MaxScore
    stored_.erase(it);
  }
  top_cache_valid_ = false;
}

double PopularityTracker::Score(std::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = stored_.find(id);
  return it == stored_.end() ? 0.0 : ToNowLocked(it->second);
}

std::vector<double> PopularityTracker::Scores(const std::vector<std::string_view>& ids) const {
  std::vector<double> out(ids.size(), 0.0);
  absl::ReaderMutexLock lock(&mu_);
  for (std::string_view id : ids) stored_.prefetch(id);  // the misses overlap (as in GetMany)
  for (size_t i = 0; i < ids.size(); ++i) {
    if (auto it = stored_.find(ids[i]); it != stored_.end()) out[i] = ToNowLocked(it->second);
  }
  return out;
}

PopularityTracker::State PopularityTracker::Export() const {
  absl::ReaderMutexLock lock(&mu_);
  State state;
  state.anchor_us = anchor_us_;
  state.latest_us = latest_us_;
  state.started = started_;
  state.stored.reserve(stored_.size());
  for (const auto& [id, s] : stored_) state.stored.emplace_back(id.view(), s);
  return state;
}

void PopularityTracker::Import(State state) {
  absl::MutexLock lock(&mu_);
  anchor_us_ = state.anchor_us;
  latest_us_ = state.latest_us;
  started_ = state.started;
  stored_.clear();
  stored_.reserve(state.stored.size());
  for (const auto& [id, s] : state.stored) stored_[id] = s;
  max_valid_ = false;
  top_cache_valid_ = false;
  top_cache_.reset();
}

double PopularityTracker::MaxScore() const {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (max_valid_) return ToNowLocked(max_stored_);
  }
  // After a Forget of the most popular item or an Import: one scan, then incremental again.
  absl::MutexLock lock(&mu_);
  if (!max_valid_) {
    max_stored_ = 0;
    for (const auto& [id, s] : stored_) max_stored_ = std::max(max_stored_, s);
    max_valid_ = true;
  }
  return ToNowLocked(max_stored_);
}

std::shared_ptr<const PopularityTracker::RankedIds> PopularityTracker::CachedTopLocked() const {
  constexpr absl::Duration kTopCacheAge = absl::Milliseconds(200);
  const absl::Time now = absl::Now();
  if (top_cache_valid_ && now - top_cache_built_ < kTopCacheAge) return top_cache_;
  std::vector<std::pair<double, std::string_view>> all;
  all.reserve(stored_.size());
  for (const auto& [id, s] : stored_) all.push_back({s, id.view()});
  auto better = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  const size_t keep = std::min(all.size(), kTopCacheSize);
  std::partial_sort(all.begin(), all.begin() + keep, all.end(), better);
  auto ranked = std::make_shared<RankedIds>();
  ranked->reserve(keep);
  for (size_t i = 0; i < keep; ++i) ranked->emplace_back(all[i].second, all[i].first);
  top_cache_ = std::move(ranked);
  top_cache_built_ = now;
  top_cache_valid_ = true;
  return top_cache_;
}

std::vector<std::pair<std::string, double>> PopularityTracker::Top(
    size_t n, const std::function<bool(std::string_view)>& accept) const {
  std::shared_ptr<const RankedIds> cached;  // shared, not copied: this is on every request
  double to_now = 1.0;
  {
    absl::MutexLock lock(&mu_);
    cached = CachedTopLocked();
    to_now = ToNowLocked(1.0);
  }
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [id, stored] : *cached) {
    if (out.size() >= n) break;
    if (accept && !accept(id)) continue;
    out.emplace_back(id, stored * to_now);
  }
  if (out.size() >= n || cached->size() < kTopCacheSize) return out;
  // The filter rejected most of the cached head: rank everything.
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::pair<double, std::string_view>> all;
  all.reserve(stored_.size());
  for (const auto& [id, s] : stored_) all.push_back({s, id.view()});
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  out.clear();
  for (const auto& [s, id] : all) {
    if (out.size() >= n) break;
    if (accept && !accept(id)) continue;
    out.emplace_back(id, ToNowLocked(s));
  }
  return out;
}

}  // namespace semrec
