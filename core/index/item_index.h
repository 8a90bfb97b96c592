// ItemIndex: approximate nearest-neighbour search over item vectors by inner product, with string
// ids, upsert, removal and filtered top-k. Vectors are expected unit length (score = cosine).
//
//   ASSIGN_OR_RETURN(auto index, HnswIndex::Create({.dimension = 384}));
//   RETURN_IF_ERROR(index->Upsert("movie-1", vec));
//   ASSIGN_OR_RETURN(auto hits, index->Search(query, 10, [](std::string_view id) { return true; }));
//
// Thread-safe: searches run concurrently; writes are serialized against searches.
#ifndef SEMREC_CORE_INDEX_ITEM_INDEX_H_
#define SEMREC_CORE_INDEX_ITEM_INDEX_H_

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace semrec {

struct IndexHit {
  std::string id;
  float score = 0;  // inner product with the query
};

// One item of a batch upsert: views of the caller's id and vector.
struct ItemVector {
  std::string_view id;
  absl::Span<const float> vector;
};

class ItemIndex {
 public:
  // Returns true for ids a search may return. Called under the index's read lock: it must not
  // call back into the index.
  using Accept = std::function<bool(std::string_view id)>;

  virtual ~ItemIndex() = default;

  virtual int dimension() const = 0;
  // Number of live items.
  virtual size_t size() const = 0;

  // Inserts `id` or replaces its vector. INVALID_ARGUMENT for a wrong dimension or empty id.
  virtual absl::Status Upsert(std::string_view id, absl::Span<const float> vector) = 0;
  // Upserts many items, as Upsert one by one would (for an id given twice, the later vector wins).
  // INVALID_ARGUMENT, naming the item, when any item is bad; then nothing is written. An
  // implementation may insert in parallel and hold searches off for the whole batch: for bulk
  // loads. This default upserts one item at a time.
  virtual absl::Status UpsertBatch(absl::Span<const ItemVector> items) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].id.empty() || static_cast<int>(items[i].vector.size()) != dimension()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "batch item ", i, " ('", std::string(items[i].id), "') has an empty id or dimension ",
            items[i].vector.size(), " instead of ", dimension()));
      }
    }
    for (const ItemVector& item : items) {
      if (absl::Status s = Upsert(item.id, item.vector); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  // NOT_FOUND when `id` is not in the index.
  virtual absl::Status Remove(std::string_view id) = 0;
  virtual bool Contains(std::string_view id) const = 0;
  // A copy of the stored vector; NOT_FOUND when absent.
  virtual absl::StatusOr<std::vector<float>> GetVector(std::string_view id) const = 0;
  // Copies of many vectors under one lock, in `ids` order; an empty vector for an absent id.
  virtual std::vector<std::vector<float>> GetVectors(absl::Span<const std::string> ids) const = 0;

  // Up to `k` accepted items, best first. Fewer only when fewer live items pass `accept`.
  virtual absl::StatusOr<std::vector<IndexHit>> Search(absl::Span<const float> query, int k,
                                                       const Accept& accept = nullptr) const = 0;

  // The exact top `k` among `candidates` (ids not in the index are skipped), best first: brute
  // force over a small set, e.g. the items of a rare category. Faster than a filtered Search when
  // the filter keeps a few percent of the items or less (index_scale_benchmark measures where).
  // This default reads the vectors with GetVectors.
  virtual absl::StatusOr<std::vector<IndexHit>> SearchAmong(
      absl::Span<const float> query, int k, absl::Span<const std::string> candidates) const {
    if (k <= 0) return absl::InvalidArgumentError("k must be positive");
    if (static_cast<int>(query.size()) != dimension()) {
      return absl::InvalidArgumentError(absl::StrCat("query vector has dimension ", query.size(),
                                                     ", the index has ", dimension()));
    }
    std::vector<std::vector<float>> vectors = GetVectors(candidates);
    std::vector<IndexHit> hits;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (vectors[i].empty()) continue;
      float score = 0;
      for (size_t j = 0; j < query.size(); ++j) score += query[j] * vectors[i][j];
      hits.push_back(IndexHit{candidates[i], score});
    }
    const size_t keep = std::min<size_t>(k, hits.size());
    std::partial_sort(hits.begin(), hits.begin() + keep, hits.end(),
                      [](const IndexHit& a, const IndexHit& b) { return a.score > b.score; });
    hits.resize(keep);
    return hits;
  }

  // Snapshots: writes the index into files in directory `dir` (blocking writes, not searches,
  // while it runs) and returns their names; LoadFrom replaces the contents with what SaveTo wrote.
  // DATA_LOSS when the files are unreadable or do not match this index's dimension.
  virtual absl::StatusOr<std::vector<std::string>> SaveTo(const std::string& dir) const = 0;
  virtual absl::Status LoadFrom(const std::string& dir) = 0;
};

}  // namespace semrec

#endif  // SEMREC_CORE_INDEX_ITEM_INDEX_H_
