// SeenSet: the set of item ids a user has interacted with (UserProfile::seen), built so that
// copying it is cheap however long the user's history grows. A profile is copied on every write
// (readers keep immutable snapshots), and a plain hash set made each Feedback of a heavy user
// copy its whole history: 7,800 strings for the most active user of a 100k-user load run.
//
// Ids live in a small mutable head and a few frozen levels shared by every copy (like an LSM
// tree): when the head fills it is frozen as a new level, and a level is merged into the one
// above it while that one is less than 4 times its size. So a copy costs the head (at most 32
// ids) plus one shared pointer per level (about log4 of the size), a lookup probes the head and
// each level, and an id is copied a few times for each level it passes through (amortized
// O(log n) string copies per insert, with an occasional merge of a large level).
//
//   SeenSet seen;
//   seen.insert("item-1");
//   if (seen.contains("item-1")) ...
//   for (const std::string& id : seen) ...   // every id once, in no particular order
//
// Thread-safety: like a standard container (const methods may run concurrently; writes need
// exclusive access). Frozen levels are immutable and shared between copies safely.
#ifndef SEMREC_CORE_USER_SEEN_SET_H_
#define SEMREC_CORE_USER_SEEN_SET_H_

#include <cstddef>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/string_map.h"

namespace semrec {

class SeenSet {
 public:
  static constexpr size_t kHeadLimit = 32;
  static constexpr size_t kGrowth = 4;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string*;
    using reference = const std::string&;

    const_iterator() = default;
    reference operator*() const { return *it_; }
    pointer operator->() const { return &*it_; }
    const_iterator& operator++() {
      ++it_;
      SkipEmpty();
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const {
      return part_ == o.part_ && (part_ == end_part() || it_ == o.it_);
    }
    bool operator!=(const const_iterator& o) const { return !(*this == o); }

   private:
    friend class SeenSet;
    const_iterator(const SeenSet* set, size_t part) : set_(set), part_(part) {
      if (part_ < end_part()) {
        it_ = set_->Part(part_).begin();
        SkipEmpty();
      }
    }
    size_t end_part() const { return set_ ? set_->levels_.size() + 1 : 0; }
    void SkipEmpty() {
      while (part_ < end_part() && it_ == set_->Part(part_).end()) {
        if (++part_ < end_part()) it_ = set_->Part(part_).begin();
      }
    }

    const SeenSet* set_ = nullptr;
    size_t part_ = 0;  // levels_[0..n-1], then the head
    StringSet::const_iterator it_;
  };

  SeenSet() = default;
  // A copy shares the frozen levels. A head left larger than kHeadLimit by reserve() (a bulk
  // load that ended short) is frozen in the copy, so it is copied once, not on every write.
  SeenSet(const SeenSet& other);
  SeenSet& operator=(const SeenSet& other);
  SeenSet(SeenSet&&) noexcept = default;
  SeenSet& operator=(SeenSet&&) noexcept = default;

  bool contains(std::string_view id) const;
  // True when `id` was new.
  bool insert(std::string_view id);
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear();
  // Bulk loading (a profile decoded from storage): the next `n` inserts into an empty set build
  // one level instead of going through the head's merges.
  void reserve(size_t n);
  // How many frozen levels (tests, benchmarks).
  size_t levels() const { return levels_.size(); }

  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, levels_.size() + 1); }

  // Same ids, however they are laid out.
  bool operator==(const SeenSet& other) const;
  bool operator!=(const SeenSet& other) const { return !(*this == other); }

 private:
  const StringSet& Part(size_t i) const { return i < levels_.size() ? *levels_[i] : head_; }
  void Freeze();
  void MergeNewest();

  std::vector<std::shared_ptr<const StringSet>> levels_;  // oldest and largest first
  StringSet head_;
  size_t size_ = 0;
  size_t bulk_ = 0;  // reserve(): the head takes this many ids before it is frozen
};

}  // namespace semrec

#endif  // SEMREC_CORE_USER_SEEN_SET_H_
