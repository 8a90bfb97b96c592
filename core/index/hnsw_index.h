// HnswIndex: the ItemIndex over hnswlib's HierarchicalNSW (inner-product space). The only file
// that includes hnswlib is hnsw_index.cc.
//
//   HnswIndex::Options opts; opts.dimension = 384;
//   ASSIGN_OR_RETURN(std::unique_ptr<HnswIndex> index, HnswIndex::Create(opts));
//   index->Upsert("item-1", vec);
//
// Thread-safe: an absl::Mutex in reader mode guards searches, in writer mode inserts, removals
// and growth (hnswlib's search is not safe against concurrent inserts, hnswlib issue #562, and
// resizeIndex is not thread-safe).
#ifndef SEMREC_CORE_INDEX_HNSW_INDEX_H_
#define SEMREC_CORE_INDEX_HNSW_INDEX_H_

#include <memory>

#include "core/index/item_index.h"

namespace semrec {

class HnswIndex final : public ItemIndex {
 public:
  struct Options {
    int dimension = 0;             // required
    int m = 16;                    // graph degree (hnswlib M); start-up only
    int ef_construction = 200;     // start-up only
    int ef_search = 64;            // candidate list size per search (at least k); SetSearchEf
    size_t initial_capacity = 1024;  // grows by doubling
    size_t random_seed = 100;
  };

  static absl::StatusOr<std::unique_ptr<HnswIndex>> Create(const Options& options);
  ~HnswIndex() override;

  int dimension() const override;
  size_t size() const override;
  absl::Status Upsert(std::string_view id, absl::Span<const float> vector) override;
  absl::Status Remove(std::string_view id) override;
  bool Contains(std::string_view id) const override;
  absl::StatusOr<std::vector<float>> GetVector(std::string_view id) const override;
  std::vector<std::vector<float>> GetVectors(absl::Span<const std::string> ids) const override;
  absl::StatusOr<std::vector<IndexHit>> Search(absl::Span<const float> query, int k,
                                               const Accept& accept = nullptr) const override;
  // Files: "hnsw.graph" (hnswlib's saveIndex format) and "hnsw.ids" (the id of every label).
  // A loaded graph keeps the M and ef_construction it was built with.
  absl::StatusOr<std::vector<std::string>> SaveTo(const std::string& dir) const override;
  absl::Status LoadFrom(const std::string& dir) override;

  // Changes the search candidate list size (at least k is always used). Takes the write lock, so
  // no search sees a half-changed value (hnswlib reads ef_ inside searchKnn).
  void SetSearchEf(int ef);

  // Slots held by removed items (hnswlib marks them deleted; they still take memory).
  size_t removed_slots() const;

 private:
  struct Impl;
  explicit HnswIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_INDEX_HNSW_INDEX_H_
