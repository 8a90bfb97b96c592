#include "core/encoder/caching_encoder.h"

namespace semrec {

namespace {
// Per-entry bookkeeping beyond the text and the floats: list node, hash slot, vector header.
constexpr size_t kEntryOverheadBytes = 96;
}  // namespace

CachingEncoder::CachingEncoder(const Options& options, std::unique_ptr<Encoder> inner)
    : options_(options), inner_(std::move(inner)) {}

size_t CachingEncoder::EntryBytes(const Entry& e) const {
  // The text is stored twice: in the list entry and as the hash key.
  return 2 * e.text.size() + e.vector.size() * sizeof(float) + kEntryOverheadBytes;
}

bool CachingEncoder::Lookup(const std::string& text, std::vector<float>& out) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(text);
  if (it == index_.end()) return false;
  lru_.splice(lru_.begin(), lru_, it->second);
  out = it->second->vector;
  return true;
}

void CachingEncoder::Insert(const std::string& text, const std::vector<float>& vector) {
  Entry entry{text, vector};
  const size_t size = EntryBytes(entry);
  if (size > options_.capacity_bytes) return;
  absl::MutexLock lock(&mu_);
  if (index_.contains(text)) return;  // inserted by a concurrent miss
  lru_.push_front(std::move(entry));
  index_.emplace(text, lru_.begin());
  bytes_ += size;
  while (bytes_ > options_.capacity_bytes && !lru_.empty()) {
    const Entry& victim = lru_.back();
    bytes_ -= EntryBytes(victim);
    index_.erase(victim.text);
    lru_.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

absl::StatusOr<std::vector<std::vector<float>>> CachingEncoder::Encode(
    absl::Span<const std::string> texts, TextKind kind) {
  if (kind != TextKind::kQuery || options_.capacity_bytes == 0) {
    return inner_->Encode(texts, kind);
  }
  std::vector<std::vector<float>> out(texts.size());
  std::vector<size_t> miss_rows;
  std::vector<std::string> miss_texts;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!Lookup(texts[i], out[i])) {
      miss_rows.push_back(i);
      miss_texts.push_back(texts[i]);
    }
  }
  hits_.fetch_add(static_cast<int64_t>(texts.size() - miss_rows.size()), std::memory_order_relaxed);
  misses_.fetch_add(static_cast<int64_t>(miss_rows.size()), std::memory_order_relaxed);
  if (miss_rows.empty()) return out;
  auto encoded = inner_->Encode(miss_texts, kind);
  if (!encoded.ok()) return encoded.status();
  for (size_t j = 0; j < miss_rows.size(); ++j) {
    Insert(miss_texts[j], (*encoded)[j]);
    out[miss_rows[j]] = std::move((*encoded)[j]);
  }
  return out;
}

EncoderStats CachingEncoder::stats() const {
  EncoderStats s = inner_->stats();
  s.cache_hits = hits_.load(std::memory_order_relaxed);
  s.cache_misses = misses_.load(std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  s.cache_entries = static_cast<int64_t>(lru_.size());
  s.cache_bytes = static_cast<int64_t>(bytes_);
  return s;
}

}  // namespace semrec
