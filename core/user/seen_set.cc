#include "core/user/seen_set.h"

#include <utility>

namespace semrec {

SeenSet::SeenSet(const SeenSet& other) { *this = other; }

SeenSet& SeenSet::operator=(const SeenSet& other) {
  if (this == &other) return *this;
  levels_ = other.levels_;
  size_ = other.size_;
  bulk_ = 0;
  if (other.head_.size() > kHeadLimit) {
    head_ = StringSet();
    levels_.push_back(std::make_shared<const StringSet>(other.head_));
    MergeNewest();
  } else {
    head_ = other.head_;
  }
  return *this;
}

bool SeenSet::contains(std::string_view id) const {
  if (head_.contains(id)) return true;
  for (const auto& level : levels_) {
    if (level->contains(id)) return true;
  }
  return false;
}

bool SeenSet::insert(std::string_view id) {
  if (contains(id)) return false;
  head_.emplace(id);
  ++size_;
  if (head_.size() >= kHeadLimit && head_.size() >= bulk_) Freeze();
  return true;
}

void SeenSet::clear() {
  levels_.clear();
  head_.clear();
  size_ = 0;
  bulk_ = 0;
}

void SeenSet::reserve(size_t n) {
  if (size_ != 0 || n <= kHeadLimit) return;
  bulk_ = n;
  head_.reserve(n);
}

void SeenSet::Freeze() {
  bulk_ = 0;
  levels_.push_back(std::make_shared<const StringSet>(std::move(head_)));
  head_ = StringSet();
  MergeNewest();
}

void SeenSet::MergeNewest() {
  // Merge the newest level into the one above while that one is not kGrowth times larger.
  while (levels_.size() >= 2 &&
         levels_[levels_.size() - 2]->size() < kGrowth * levels_.back()->size()) {
    const StringSet& upper = *levels_[levels_.size() - 2];
    const StringSet& lower = *levels_.back();
    auto merged = std::make_shared<StringSet>();
    merged->reserve(upper.size() + lower.size());
    merged->insert(upper.begin(), upper.end());
    merged->insert(lower.begin(), lower.end());
    levels_.pop_back();
    levels_.back() = std::move(merged);
  }
}

bool SeenSet::operator==(const SeenSet& other) const {
  if (size_ != other.size_) return false;
  for (const std::string& id : *this) {
    if (!other.contains(id)) return false;
  }
  return true;
}

}  // namespace semrec
