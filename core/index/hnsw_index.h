// HnswIndex: the ItemIndex over hnswlib's HierarchicalNSW (inner-product space). The only file
// that includes hnswlib is hnsw_index.cc. Searches walk hnswlib's graph with semrec's own loop
// (hnswlib 0.6's searchKnn has no filter and bumps two shared atomic counters per hop), so a
// filter is applied inside the graph walk instead of by over-fetching.
//
// With Quantization::kInt8 the graph holds int8 codes of the vectors (int8_codes.h) and is
// built and searched with int8 inner products; fp32 copies sit beside it, in a separate array
// that searches touch only to rescore their best 4k candidates exactly (the scores returned are
// exact fp32 inner products) and that GetVector reads. It costs 8 + d bytes per item more than
// fp32, and searches 2-4x faster (benchmarks/index_scale_benchmark.cc).
//
// Vectors go into transparent huge pages where the kernel allows it (madvise), and LoadFrom
// reads hnswlib's graph file in one sequential pass.
//
//   HnswIndex::Options opts; opts.dimension = 384;
//   ASSIGN_OR_RETURN(std::unique_ptr<HnswIndex> index, HnswIndex::Create(opts));
//   index->Upsert("item-1", vec);
//
// Thread-safe. Searches and reads hold an absl::Mutex in reader mode. Writers run one at a time;
// a new item is linked into the graph beside the searches (hnswlib's own searchKnn is not safe
// against concurrent inserts, hnswlib issue #562: semrec's walk reads links as the .cc explains,
// starts from the entry point's own level, and skips labels not yet published), and published
// beside them too. Updates of existing items, removals and growth (resizeIndex, when the capacity
// doubles) hold the writer lock throughout. UpsertBatch inserts with several threads.
#ifndef SEMREC_CORE_INDEX_HNSW_INDEX_H_
#define SEMREC_CORE_INDEX_HNSW_INDEX_H_

#include <memory>
#include <string>

#include "core/index/item_index.h"

namespace semrec {

class HnswIndex final : public ItemIndex {
 public:
  enum class Quantization {
    kNone,  // fp32 vectors in the graph
    kInt8,  // int8 codes in the graph, exact fp32 rescoring of the candidates
  };

  struct Options {
    int dimension = 0;             // required
    int m = 16;                    // graph degree (hnswlib M); start-up only
    int ef_construction = 200;     // start-up only
    int ef_search = 64;            // candidate list size per search (at least k); SetSearchEf
    size_t initial_capacity = 1024;  // grows by doubling
    size_t random_seed = 100;
    // Start-up only; a snapshot loads only into an index with the quantization it was saved with.
    Quantization quantization = Quantization::kNone;
    // Threads UpsertBatch inserts with (hnswlib inserts in parallel; a thread per 8 new items at
    // most); start-up only. Helper threads inherit the calling thread's nice value.
    int insert_threads = 1;
  };

  static absl::StatusOr<std::unique_ptr<HnswIndex>> Create(const Options& options);
  ~HnswIndex() override;

  int dimension() const override;
  size_t size() const override;
  absl::Status Upsert(std::string_view id, absl::Span<const float> vector) override;
  // Inserts with Options::insert_threads threads, beside searches when the batch holds only new
  // items (an update in it holds the writer lock for the whole batch); published together.
  absl::Status UpsertBatch(absl::Span<const ItemVector> items) override;
  absl::Status Remove(std::string_view id) override;
  bool Contains(std::string_view id) const override;
  absl::StatusOr<std::vector<float>> GetVector(std::string_view id) const override;
  std::vector<std::vector<float>> GetVectors(absl::Span<const std::string> ids) const override;
  absl::StatusOr<std::vector<IndexHit>> Search(absl::Span<const float> query, int k,
                                               const Accept& accept = nullptr) const override;
  absl::StatusOr<std::vector<IndexHit>> SearchAmong(
      absl::Span<const float> query, int k,
      absl::Span<const std::string> candidates) const override;
  // Files: "hnsw.graph" (hnswlib's saveIndex format) and "hnsw.ids" (the id of every label), and
  // with kInt8 "hnsw.vectors" (the fp32 vectors). A loaded graph keeps the M and
  // ef_construction it was built with. FAILED_PRECONDITION when the snapshot's dimension or
  // quantization differs from this index's.
  absl::StatusOr<std::vector<std::string>> SaveTo(const std::string& dir) const override;
  absl::Status LoadFrom(const std::string& dir) override;

  // Changes the search candidate list size (at least k is always used). Takes the write lock, so
  // no search sees a half-changed value (hnswlib reads ef_ inside searchKnn).
  void SetSearchEf(int ef);

  Quantization quantization() const;
  // Name of the distance kernel searches use: "fp32-avx512", "fp32-avx2", "fp32-hnswlib-sse"
  // (hnswlib's, chosen when it was compiled), "int8-avx512vnni", "int8-avx2", "int8-portable".
  std::string kernel_name() const;

  // Slots held by removed items (hnswlib marks them deleted; they still take memory).
  size_t removed_slots() const;

 private:
  struct Impl;
  explicit HnswIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_INDEX_HNSW_INDEX_H_
