// ItemCatalog: item metadata (text, categories, attributes) by id, and PopularityTracker: each
// item's time-decayed interaction weight, decayed by event time so a replayed log ranks items as
// they were ranked live.
//
//   ItemCatalog catalog;
//   catalog.Put(Item{.id = "book-1", .text = "A space opera", .categories = {"books"}});
//   std::shared_ptr<const Item> item = catalog.Get("book-1");
//
// Thread-safe: both classes lock internally; Get returns an immutable snapshot.
#ifndef SEMREC_CORE_CATALOG_ITEM_CATALOG_H_
#define SEMREC_CORE_CATALOG_ITEM_CATALOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/common/string_map.h"

namespace semrec {

struct Item {
  std::string id;
  std::string text;
  std::vector<std::string> categories;
  // Sorted by key, like std::map, in a B-tree: two short attributes take 160 bytes in one node
  // where std::map took 224 in two, and the member is half the size.
  absl::btree_map<std::string, std::string> attributes;

  // A short human name for explanations: the "title" attribute, else the text's first sentence
  // (at most 80 bytes, cut at a UTF-8 boundary).
  std::string DisplayName() const;
  bool HasCategory(std::string_view category) const;
  bool operator==(const Item& other) const {
    return id == other.id && text == other.text && categories == other.categories &&
           attributes == other.attributes;
  }
};

class ItemCatalog {
 public:
  // nullptr when absent.
  std::shared_ptr<const Item> Get(std::string_view id) const;
  // Get for many ids under one lock, in `ids` order (nullptr for the absent ones). The table's
  // slots for all of them are prefetched first, so their cache misses overlap instead of queueing
  // one after another (a Recommend looks up its k results this way).
  std::vector<std::shared_ptr<const Item>> GetMany(absl::Span<const std::string_view> ids) const;
  // Inserts or replaces; returns the previous entry (nullptr when new).
  std::shared_ptr<const Item> Put(Item item);
  // Returns false when absent.
  bool Remove(std::string_view id);
  size_t size() const;
  // All ids, sorted (a stable order for cold-start listings). Rebuilt only after a change.
  std::shared_ptr<const std::vector<std::string>> SortedIds() const;
  // Every item, in no particular order (snapshots).
  std::vector<std::shared_ptr<const Item>> All() const;

 private:
  // The items, found by their own id (a map keyed by a copy of the id took 32 more bytes a slot).
  struct ItemIdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return StringViewHash{}(id); }
    size_t operator()(const std::shared_ptr<const Item>& item) const { return (*this)(item->id); }
  };
  struct ItemIdEq {
    using is_transparent = void;
    static std::string_view Id(std::string_view id) { return id; }
    static std::string_view Id(const std::shared_ptr<const Item>& item) { return item->id; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Id(a) == Id(b);
    }
  };

  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::shared_ptr<const Item>, ItemIdHash, ItemIdEq> items_
      ABSL_GUARDED_BY(mu_);
  mutable std::shared_ptr<const std::vector<std::string>> sorted_ids_ ABSL_GUARDED_BY(mu_);
};

class PopularityTracker {
 public:
  explicit PopularityTracker(double half_life_seconds);

  // Adds `weight` (>= 0) at event time `timestamp_us`.
  void Record(std::string_view id, double weight, int64_t timestamp_us);
  void Forget(std::string_view id);
  // Decayed weight as of the latest event time seen.
  double Score(std::string_view id) const;
  // Scores of many ids under one lock, in `ids` order.
  std::vector<double> Scores(const std::vector<std::string_view>& ids) const;
  // Highest-scoring ids passing `accept`, best first, at most `n`.
  std::vector<std::pair<std::string, double>> Top(
      size_t n, const std::function<bool(std::string_view)>& accept) const;
  // The largest score (for normalizing); 0 when nothing was recorded.
  double MaxScore() const;

  // The whole state, for snapshots; Import replaces it.
  struct State {
    int64_t anchor_us = 0;
    int64_t latest_us = 0;
    bool started = false;
    std::vector<std::pair<std::string, double>> stored;  // relative to anchor_us
  };
  State Export() const;
  void Import(State state);

 private:
  // Scores are stored relative to anchor_us_: value(now) = stored * 2^((anchor - now)/half_life).
  // Rebased when the exponent for new events grows large.
  void RebaseLocked(int64_t new_anchor_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double ToNowLocked(double stored) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // The best kTopCacheSize ids (descending), rebuilt by Top() when older than 200 ms, after
  // Forget, or after any Record while fewer than kTopCacheSize items have scores. Scores decay
  // uniformly, so between rebuilds the order is only off by the events recorded since.
  static constexpr size_t kTopCacheSize = 1024;
  using RankedIds = std::vector<std::pair<std::string, double>>;
  std::shared_ptr<const RankedIds> CachedTopLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double half_life_us_;
  mutable absl::Mutex mu_;
  mutable std::shared_ptr<const RankedIds> top_cache_ ABSL_GUARDED_BY(mu_);
  mutable absl::Time top_cache_built_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  mutable bool top_cache_valid_ ABSL_GUARDED_BY(mu_) = false;
  int64_t anchor_us_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t latest_us_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  // An id in 16 bytes, where std::string takes 32: up to 15 bytes in place, a longer one on the
  // heap. At 1M items the scores take 55 bytes an entry instead of 90, and a lookup still finds
  // the id in the slot itself (ids kept apart in a list took 51 bytes, but Scores, on every
  // Recommend's path, went from 134 to 222 ns an id).
  class PackedId {
   public:
    explicit PackedId(std::string_view id);
    PackedId(PackedId&& other) noexcept;
    PackedId& operator=(PackedId&& other) noexcept;
    PackedId(const PackedId& other) : PackedId(other.view()) {}
    PackedId& operator=(const PackedId& other) { return *this = PackedId(other); }
    ~PackedId();
    std::string_view view() const;

   private:
    static constexpr unsigned char kOnHeap = 0xFF;  // in tag(); else the length held in place
    unsigned char tag() const { return static_cast<unsigned char>(bytes_[15]); }
    void Free();
    alignas(8) char bytes_[16];  // the id, then its length in the last byte; or a heap copy's
                                 // (char*, uint32_t length), then kOnHeap in the last byte
  };
  struct PackedIdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return StringViewHash{}(id); }
    size_t operator()(const PackedId& id) const { return StringViewHash{}(id.view()); }
  };
  struct PackedIdEq {
    using is_transparent = void;
    static std::string_view View(std::string_view id) { return id; }
    static std::string_view View(const PackedId& id) { return id.view(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return View(a) == View(b);
    }
  };
  absl::flat_hash_map<PackedId, double, PackedIdHash, PackedIdEq> stored_ ABSL_GUARDED_BY(mu_);
  // The largest of stored_, kept as Record raises values (MaxScore is on every Recommend's path:
  // a scan of a million-item tracker per call would cost more than the search).
  mutable double max_stored_ ABSL_GUARDED_BY(mu_) = 0;
  mutable bool max_valid_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace semrec

#endif  // SEMREC_CORE_CATALOG_ITEM_CATALOG_H_
