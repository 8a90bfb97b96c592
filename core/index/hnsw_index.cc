#include "core/index/hnsw_index.h"

#include <hnswlib/hnswlib.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <queue>
#include <stdexcept>
#include <thread>

#include "core/common/status_macros.h"
#include "core/common/string_map.h"
#include "core/index/fp32_kernels.h"
#include "core/index/int8_codes.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace semrec {
namespace {

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::labeltype;
using hnswlib::tableint;
using Quantization = HnswIndex::Quantization;

// The fp32 space: hnswlib's inner-product space, with the widest kernel this CPU runs
// (fp32_kernels.h) when hnswlib was compiled for less.
class Fp32Space final : public hnswlib::SpaceInterface<float> {
 public:
  explicit Fp32Space(int dim) : hnswlib_(dim), dim_(dim), kernel_(BestFp32Kernel()) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override {
    return kernel_ ? kernel_->distance : hnswlib_.get_dist_func();
  }
  void* get_dist_func_param() override {
    return kernel_ ? static_cast<void*>(&dim_) : hnswlib_.get_dist_func_param();
  }
  std::string name() const {
    if (kernel_) return absl::StrCat("fp32-", kernel_->name);
#if defined(USE_AVX512)
    return "fp32-hnswlib-avx512";
#elif defined(USE_AVX)
    return "fp32-hnswlib-avx";
#elif defined(USE_SSE)
    return "fp32-hnswlib-sse";
#else
    return "fp32-hnswlib";
#endif
  }

 private:
  hnswlib::InnerProductSpace hnswlib_;
  size_t dim_;
  const Fp32Kernel* kernel_;
};

// The int8 space: vectors stored as int8_codes.h encodes them, compared by int8 inner product.
class Int8Space final : public hnswlib::SpaceInterface<float> {
 public:
  explicit Int8Space(int dim) : padded_dim_(Int8PaddedDim(dim)), bytes_(Int8CodeBytes(dim)) {}
  size_t get_data_size() override { return bytes_; }
  hnswlib::DISTFUNC<float> get_dist_func() override { return BestInt8Kernel().distance; }
  void* get_dist_func_param() override { return &padded_dim_; }

 private:
  size_t padded_dim_;
  size_t bytes_;
};

// Asks for transparent huge pages over the whole 2 MiB pages inside [p, p + bytes): a search
// touches vectors all over the index, and with 4 KiB pages nearly every one is a TLB miss once
// the index is larger than the TLB covers (~10 MB). A hint only: without THP nothing changes.
void AdviseHugePages(void* p, size_t bytes) {
  constexpr uintptr_t kHuge = 2u << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// The base layer of `g` (vectors, links, labels: what searches read) in huge pages.
void AdviseHugePages(Graph& g) {
  AdviseHugePages(g.data_level0_memory_, g.max_elements_ * g.size_data_per_element_);
}

// fp32 copies of the vectors by label, in chunks (growing never moves what is stored, nor
// needs twice the memory for a moment). Kept beside an int8 graph.
class VectorStore {
 public:
  explicit VectorStore(int dim) : dim_(dim) {}
  // Throws std::bad_alloc.
  void Reserve(size_t labels) {
    const size_t bytes = kChunk * dim_ * sizeof(float);
    while (chunks_.size() * kChunk < labels) {
      void* p = std::aligned_alloc(2u << 20, (bytes + (2u << 20) - 1) & ~size_t{(2u << 20) - 1});
      if (p == nullptr) throw std::bad_alloc();
      AdviseHugePages(p, bytes);
      chunks_.emplace_back(static_cast<float*>(p));
    }
  }
  size_t capacity() const { return chunks_.size() * kChunk; }
  const float* Get(labeltype label) const {
    return chunks_[label / kChunk].get() + (label % kChunk) * dim_;
  }
  void Put(labeltype label, const float* v) {
    std::memcpy(chunks_[label / kChunk].get() + (label % kChunk) * dim_, v, dim_ * sizeof(float));
  }
  void Clear() { chunks_.clear(); }

 private:
  static constexpr size_t kChunk = 4096;
  size_t dim_;
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<float[], Free>> chunks_;
};

// Every label's id ("" once removed) and graph element, and the live labels found by id. The set
// holds 4-byte labels and reaches the strings through the list, so each id is stored once (a map
// keyed by std::string would take ~80 more bytes per item). Readers find a label's element here,
// never in hnswlib's label_lookup_ (an unordered_map that inserts rehash while they read).
//
// Thread contract (HnswIndex::Impl holds it): one writer at a time; Append runs beside readers,
// which see labels below labels() only: the lists never move while readers run (Reserve, which
// may move them, runs with no reader), a slot is written before labels() counts it, and the set
// has a lock of its own, held for a lookup or an insert only. Never moved once built: the set's
// functors point at the list (owners hold it by unique_ptr).
class IdTable {
 public:
  IdTable() : live_(0, IndexedStringHash{&ids_}, IndexedStringEq{&ids_}) {}
  IdTable(const IdTable&) = delete;
  IdTable& operator=(const IdTable&) = delete;

  size_t labels() const { return published_.load(std::memory_order_acquire); }
  size_t live() const { return live_count_.load(std::memory_order_relaxed); }
  const std::string& id(labeltype label) const { return ids_[label]; }
  tableint element(labeltype label) const { return elements_[label]; }
  void SetElement(labeltype label, tableint element) { elements_[label] = element; }
  const std::vector<std::string>& ids() const { return ids_; }
  // Whether `more` labels can be appended beside readers (without moving the lists or growing
  // the set).
  bool HasRoomFor(size_t more) const {
    absl::ReaderMutexLock lock(&live_mu_);
    return ids_.size() + more <= ids_.capacity() && elements_.size() + more <= elements_.capacity() &&
           live_.size() + more <= reserved_live_;
  }

  // The label of a live id, or -1.
  int64_t Find(std::string_view id) const {
    absl::ReaderMutexLock lock(&live_mu_);
    auto it = live_.find(id);
    return it == live_.end() ? -1 : static_cast<int64_t>(*it);
  }
  // Gives `id` (not live), stored in graph element `element`, the next label; false for a
  // duplicate.
  bool Append(std::string id, tableint element) {
    ids_.push_back(std::move(id));
    elements_.push_back(element);
    if (!ids_.back().empty()) {  // else a removed item's slot
      absl::MutexLock lock(&live_mu_);
      if (!live_.insert(static_cast<uint32_t>(ids_.size() - 1)).second) {
        ids_.pop_back();
        elements_.pop_back();
        return false;
      }
      live_count_.fetch_add(1, std::memory_order_relaxed);
    }
    published_.store(ids_.size(), std::memory_order_release);
    return true;
  }
  // With no reader.
  void Remove(labeltype label) {
    absl::MutexLock lock(&live_mu_);
    live_.erase(static_cast<uint32_t>(label));  // hashes the id: before clearing it
    ids_[label].clear();
    live_count_.fetch_sub(1, std::memory_order_relaxed);
  }
  // Room for `labels` labels, `live` of them live. With no reader.
  void Reserve(size_t labels, size_t live) {
    ids_.reserve(labels);
    elements_.reserve(labels);
    absl::MutexLock lock(&live_mu_);
    live_.reserve(live);
    reserved_live_ = std::max(reserved_live_, live);
  }

 private:
  std::vector<std::string> ids_;
  std::vector<tableint> elements_;
  std::atomic<size_t> published_{0};
  std::atomic<size_t> live_count_{0};
  mutable absl::Mutex live_mu_;
  IndexedStringSet live_ ABSL_GUARDED_BY(live_mu_);
  size_t reserved_live_ ABSL_GUARDED_BY(live_mu_) = 0;
};

using Candidate = std::pair<float, tableint>;  // (distance, internal id)

// With int8 codes, how many candidates per result get an exact fp32 rescoring.
constexpr size_t kRescoreFactor = 4;
struct FartherOnTop {
  bool operator()(const Candidate& a, const Candidate& b) const { return a.first < b.first; }
};
struct CloserOnTop {
  bool operator()(const Candidate& a, const Candidate& b) const { return a.first > b.first; }
};
using ResultHeap = std::priority_queue<Candidate, std::vector<Candidate>, FartherOnTop>;
using FrontierHeap = std::priority_queue<Candidate, std::vector<Candidate>, CloserOnTop>;

inline float Distance(const Graph& g, const void* query, tableint id) {
  return g.fstdistfunc_(query, g.getDataByInternalId(id), g.dist_func_param_);
}

// Searches walk the graph while one insert may be linking a new element into it (see
// HnswIndex::Impl): every link count and link is read once, as a relaxed atomic load, so the
// compiler never reads a value twice that the insert changes in between. Whatever a search reads
// is an element that exists: hnswlib appends a link to a list before raising its count, rewrites
// a full list with other existing elements, and writes a new element's vector, label and level
// before any list links to it. One exception: a new element's own list at a level is counted
// before its links are written (mutuallyConnectNewElement), and the element is already
// reachable from the level above, so that list can be read holding zeros: element 0. At the base
// layer element 0 is a real element; above it, element 0 may not reach the level, so the descent
// follows only neighbours whose level reaches the one it walks. A search may see a list before or
// after an insert changes it; either is a valid graph.
inline int LinkCount(const unsigned int* list, size_t max) {
  const unsigned short count =
      __atomic_load_n(reinterpret_cast<const unsigned short*>(list), __ATOMIC_RELAXED);
  return static_cast<int>(std::min<size_t>(count, max));
}
inline tableint Link(const unsigned int* list, int j) {
  return __atomic_load_n(reinterpret_cast<const tableint*>(list + 1) + j, __ATOMIC_RELAXED);
}

// Greedy descent through the upper layers: the base layer's entry point for `query`. It starts at
// the entry point's own level, not hnswlib's maxlevel_: an insert that raises the graph's top
// level writes the two one after the other, and a search that read the new level with the old
// entry point would read links that element does not have.
tableint DescendToBaseLayer(const Graph& g, const void* query) {
  tableint current = __atomic_load_n(&g.enterpoint_node_, __ATOMIC_RELAXED);
  float current_distance = Distance(g, query, current);
  for (int level = g.element_levels_[current]; level > 0; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      const unsigned int* list = g.get_linklist(current, level);
      const int size = LinkCount(list, g.maxM_);
      for (int i = 0; i < size; ++i) {
        const tableint neighbour = Link(list, i);
        if (__atomic_load_n(&g.element_levels_[neighbour], __ATOMIC_RELAXED) < level) continue;
        const float d = Distance(g, query, neighbour);
        if (d < current_distance) {
          current_distance = d;
          current = neighbour;
          changed = true;
        }
      }
    }
  }
  return current;
}

using Found = std::pair<float, labeltype>;  // (distance, label)

// Best-first search of the base layer from `entry` (hnswlib's searchBaseLayerST, without its
// shared counters): the `ef` closest elements that are not deleted and that `keep` accepts
// (kFiltered), closest first, by label. Rejected elements are still walked through, so a
// selective filter explores further instead of losing results.
template <bool kFiltered, typename Keep>
std::vector<Found> SearchBaseLayer(const Graph& g, tableint entry, const void* query, size_t ef,
                                   const Keep& keep) {
  hnswlib::VisitedList* visited_list = g.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = visited_list->mass;
  const hnswlib::vl_type tag = visited_list->curV;
  // Without deletions or a filter every element reached is a result, so the walk may stop as
  // soon as the frontier is farther than the worst result (as hnswlib does).
  const bool must_fill = kFiltered || g.num_deleted_ > 0;
  auto admissible = [&](tableint id) {
    return !g.isMarkedDeleted(id) && (!kFiltered || keep(g.getExternalLabel(id)));
  };

  std::vector<Candidate> storage;
  storage.reserve(ef + 1);
  ResultHeap results(FartherOnTop{}, std::move(storage));
  FrontierHeap frontier;
  float bound = std::numeric_limits<float>::max();
  const float d0 = Distance(g, query, entry);
  if (admissible(entry)) {
    results.emplace(d0, entry);
    bound = d0;
  }
  frontier.emplace(d0, entry);
  visited[entry] = tag;

  const char* level0 = g.data_level0_memory_ + g.offsetData_;
  const size_t stride = g.size_data_per_element_;
  const int lines = static_cast<int>((g.data_size_ + 63) / 64);
  std::vector<tableint> neighbours(g.maxM0_);  // the list's links, then its unvisited ones
  while (!frontier.empty()) {
    const Candidate current = frontier.top();
    if (current.first > bound && (results.size() == ef || !must_fill)) break;
    frontier.pop();
    const unsigned int* list = g.get_linklist0(current.second);
    const int size = LinkCount(list, g.maxM0_);
    // The unvisited neighbours' vectors are requested from memory all at once, every cache line
    // of them, before any is compared: a large index's walk waits on memory, not arithmetic,
    // and this keeps many misses in flight instead of one or two (hnswlib prefetches one line
    // of the next neighbour only).
    for (int j = 0; j < size; ++j) {
      neighbours[j] = Link(list, j);
      __builtin_prefetch(visited + neighbours[j]);
    }
    int count = 0;  // the unvisited ones, compacted in place (count <= j)
    for (int j = 0; j < size; ++j) {
      const tableint id = neighbours[j];
      if (visited[id] == tag) continue;
      visited[id] = tag;
      neighbours[count++] = id;
      const char* data = level0 + id * stride;
      for (int l = 0; l < lines; ++l) __builtin_prefetch(data + 64 * l);
    }
    for (int j = 0; j < count; ++j) {
      const tableint id = neighbours[j];
      const float d = g.fstdistfunc_(query, level0 + id * stride, g.dist_func_param_);
      if (results.size() < ef || d < bound) {
        frontier.emplace(d, id);
        if (admissible(id)) {
          results.emplace(d, id);
          if (results.size() > ef) results.pop();
          bound = results.top().first;
        }
      }
    }
  }
  g.visited_list_pool_->releaseVisitedList(visited_list);

  std::vector<Found> out(results.size());
  for (size_t i = out.size(); i-- > 0; results.pop()) {
    out[i] = Found(results.top().first, g.getExternalLabel(results.top().second));
  }
  return out;
}

}  // namespace

struct HnswIndex::Impl {
  Options options;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;  // the graph's
  // fp32 inner products: the graph's space without quantization, else exact rescoring.
  std::unique_ptr<Fp32Space> fp32_space;

  // Writers (Upsert, UpsertBatch, Remove, LoadFrom) take write_mu, one at a time, and SaveTo takes
  // it to see no insert half done. `mu` guards what searches read. A new item is linked into the
  // graph under `mu` in reader mode, beside the searches (hnswlib locks the lists it changes; a
  // search reads them as the comment above LinkCount says), then published, its id appended to
  // `ids`, still beside them (IdTable's thread contract). Until then searches skip its label
  // (labels >= ids->labels()) and no reader can find it by id. Updates of an existing item,
  // removals and growth hold `mu` in writer mode throughout: readers never see a vector half
  // rewritten, and resizeIndex moves everything.
  mutable absl::Mutex write_mu ABSL_ACQUIRED_BEFORE(mu);
  mutable absl::Mutex mu;
  std::unique_ptr<Graph> graph ABSL_GUARDED_BY(mu);
  // Labels are never reused: a removed item's slot stays marked deleted in the graph, and
  // re-adding the id takes a fresh label.
  std::unique_ptr<IdTable> ids ABSL_GUARDED_BY(mu) = std::make_unique<IdTable>();
  size_t removed ABSL_GUARDED_BY(mu) = 0;
  size_t ef ABSL_GUARDED_BY(mu) = 64;
  VectorStore exact ABSL_GUARDED_BY(mu);  // kInt8 only: fp32 vectors by label

  explicit Impl(const Options& o) : options(o), exact(o.dimension) {}

  bool int8() const { return options.quantization == Quantization::kInt8; }
  size_t code_bytes() const { return space->get_data_size(); }

  absl::Status CheckDim(absl::Span<const float> v, const char* what) const {
    if (static_cast<int>(v.size()) != options.dimension) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has dimension ", v.size(),
                                                     ", the index has ", options.dimension));
    }
    return absl::OkStatus();
  }

  // What the graph stores for `v`: the vector itself, or its int8 codes written to `buffer`.
  const void* GraphForm(absl::Span<const float> v, std::vector<char>& buffer) const {
    if (!int8()) return v.data();
    buffer.resize(code_bytes());
    EncodeInt8(v, buffer.data());
    return buffer.data();
  }

  // Whether `more` new elements need Grow first.
  bool NeedsGrow(size_t more) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    const size_t needed = graph->cur_element_count + more;
    return needed > graph->max_elements_ || (int8() && needed > exact.capacity()) ||
           !ids->HasRoomFor(more);
  }

  // Makes room for `more` new elements (doubling). Every label has its element (removed ones
  // keep theirs), so labels and elements are counted alike. Throws what hnswlib throws.
  void Grow(size_t more) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const size_t needed = graph->cur_element_count + more;
    if (needed > graph->max_elements_) {
      graph->resizeIndex(std::max<size_t>({graph->max_elements_ * 2, needed, 16}));
      AdviseHugePages(*graph);
    }
    if (int8()) exact.Reserve(needed);
    // Labels never outnumber elements: room for a label per element, so that publishing one
    // never moves the id lists under a search.
    ids->Reserve(graph->max_elements_, graph->max_elements_);
  }

  // Inserts or updates the element of `label`; returns the element. Throws what hnswlib throws.
  tableint Put(labeltype label, absl::Span<const float> v, std::vector<char>& buffer)
      ABSL_SHARED_LOCKS_REQUIRED(mu) {
    if (int8()) exact.Put(label, v.data());
    return graph->addPoint(GraphForm(v, buffer), label, -1);
  }

  // Gives the ids, linked into the graph as their elements, the next labels, in order. Runs
  // beside the searches (IdTable's thread contract) when Grow made room, as it does before every
  // insert; under the writer lock otherwise. The caller holds write_mu.
  void Publish(absl::Span<const std::pair<std::string_view, tableint>> items)
      ABSL_LOCKS_EXCLUDED(mu) {
    {
      absl::ReaderMutexLock lock(&mu);
      if (ids->HasRoomFor(items.size())) {
        for (const auto& [id, element] : items) ids->Append(std::string(id), element);
        return;
      }
    }
    absl::MutexLock lock(&mu);
    for (const auto& [id, element] : items) ids->Append(std::string(id), element);
  }

  // The fp32 vector of a published label.
  const float* VectorData(labeltype label) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    if (int8()) return exact.Get(label);
    return reinterpret_cast<const float*>(graph->getDataByInternalId(ids->element(label)));
  }
  std::vector<float> VectorOf(labeltype label) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    const float* v = VectorData(label);
    return std::vector<float>(v, v + options.dimension);
  }
};

HnswIndex::HnswIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HnswIndex::~HnswIndex() = default;

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Create(const Options& options) {
  if (options.dimension <= 0) return absl::InvalidArgumentError("index dimension must be positive");
  if (options.m < 2 || options.m > 128) return absl::InvalidArgumentError("index M must be 2..128");
  if (options.ef_construction < 1 || options.ef_search < 1) {
    return absl::InvalidArgumentError("index ef_construction and ef_search must be positive");
  }
  if (options.insert_threads < 1) {
    return absl::InvalidArgumentError("index insert_threads must be positive");
  }
  auto impl = std::make_unique<Impl>(options);
  impl->fp32_space = std::make_unique<Fp32Space>(options.dimension);
  if (options.quantization == Quantization::kInt8) {
    impl->space = std::make_unique<Int8Space>(options.dimension);
  } else {
    impl->space = std::make_unique<Fp32Space>(options.dimension);
  }
  try {
    absl::MutexLock lock(&impl->mu);
    impl->graph =
        std::make_unique<Graph>(impl->space.get(), std::max<size_t>(options.initial_capacity, 16),
                                options.m, options.ef_construction, options.random_seed);
    AdviseHugePages(*impl->graph);
    impl->ids->Reserve(impl->graph->max_elements_, impl->graph->max_elements_);
    impl->ef = options.ef_search;
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate the HNSW index: ", e.what()));
  }
  return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
}

int HnswIndex::dimension() const { return impl_->options.dimension; }

HnswIndex::Quantization HnswIndex::quantization() const { return impl_->options.quantization; }

std::string HnswIndex::kernel_name() const {
  if (impl_->int8()) return absl::StrCat("int8-", BestInt8Kernel().name);
  return impl_->fp32_space->name();
}

size_t HnswIndex::size() const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return impl_->ids->live();
}

void HnswIndex::SetSearchEf(int ef) {
  absl::MutexLock lock(&impl_->mu);
  impl_->ef = std::max(1, ef);
}

size_t HnswIndex::removed_slots() const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return impl_->removed;
}

absl::Status HnswIndex::Upsert(std::string_view id, absl::Span<const float> vector) {
  if (id.empty()) return absl::InvalidArgumentError("item id is empty");
  if (auto s = impl_->CheckDim(vector, "item vector"); !s.ok()) return s;
  Impl& impl = *impl_;
  std::vector<char> buffer;
  absl::MutexLock writer(&impl.write_mu);
  try {
    int64_t existing;
    bool grow;
    {
      absl::ReaderMutexLock lock(&impl.mu);
      existing = impl.ids->Find(id);
      grow = existing < 0 && impl.NeedsGrow(1);
    }
    if (existing >= 0) {
      absl::MutexLock lock(&impl.mu);
      impl.Put(existing, vector, buffer);  // hnswlib updates in place
      return absl::OkStatus();
    }
    if (grow) {
      absl::MutexLock lock(&impl.mu);
      impl.Grow(1);
    }
    // Linked beside the searches, then published. If Put throws after hnswlib took an element,
    // the label stays unpublished and the next insert takes it over (addPoint updates it).
    labeltype label;
    tableint element;
    {
      absl::ReaderMutexLock lock(&impl.mu);
      label = impl.ids->labels();
      element = impl.Put(label, vector, buffer);
    }
    const std::pair<std::string_view, tableint> item(id, element);
    impl.Publish({&item, 1});
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW insert of '", std::string(id), "' failed: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status HnswIndex::UpsertBatch(absl::Span<const ItemVector> items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("batch item ", i, " has an empty id"));
    }
    if (auto s = impl_->CheckDim(items[i].vector, "batch item vector"); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch item ", i, " ('", std::string(items[i].id), "'): ", s.message()));
    }
  }
  Impl& impl = *impl_;
  absl::MutexLock writer(&impl.write_mu);
  // Labels first, one thread: each label is written once (the last item naming its id), since
  // hnswlib must not insert and update one label at the same time. Existing ids keep theirs; new
  // ids take the next labels, in order, and are published once inserted.
  absl::flat_hash_map<labeltype, size_t> item_of_label;
  item_of_label.reserve(items.size());
  absl::flat_hash_map<std::string_view, labeltype> new_labels;
  size_t first_new;
  bool updates = false, grow;
  {
    absl::ReaderMutexLock lock(&impl.mu);
    first_new = impl.ids->labels();
    for (size_t i = 0; i < items.size(); ++i) {
      int64_t label = impl.ids->Find(items[i].id);
      if (label < 0) {
        label = new_labels.try_emplace(items[i].id, first_new + new_labels.size()).first->second;
      } else {
        updates = true;
      }
      item_of_label[label] = i;
    }
    grow = impl.NeedsGrow(new_labels.size());
  }
  std::vector<std::pair<labeltype, size_t>> work(item_of_label.begin(), item_of_label.end());
  std::sort(work.begin(), work.end());  // new labels in order, as single upserts would take them
  if (grow) {
    absl::MutexLock lock(&impl.mu);
    try {
      impl.Grow(new_labels.size());
    } catch (const std::exception& e) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot grow the HNSW index: ", e.what()));
    }
  }

  std::vector<tableint> elements(work.size());
  std::vector<char> inserted(work.size(), 0);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  absl::Mutex error_mu;
  std::string error;
  // Updates of existing items hold `mu` in writer mode (readers never see a vector half
  // rewritten); a batch of new items only is linked beside the searches.
  auto insert = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {  // runs while this thread holds mu
    std::vector<char> buffer;
    for (size_t w;
         !failed.load(std::memory_order_relaxed) && (w = next.fetch_add(1)) < work.size();) {
      const auto& [label, i] = work[w];
      try {
        elements[w] = impl.Put(label, items[i].vector, buffer);
        inserted[w] = 1;
      } catch (const std::exception& e) {
        absl::MutexLock l(&error_mu);
        if (!failed.exchange(true)) {
          error =
              absl::StrCat("HNSW insert of '", std::string(items[i].id), "' failed: ", e.what());
        }
      }
    }
  };
  // A thread per 8 items at most: starting one costs about one insert into a small graph (tens of
  // microseconds), and an insert into a large one ~2 ms, so an online batch of 50 new items uses
  // every insert thread.
  const size_t threads = std::min<size_t>(impl.options.insert_threads, 1 + work.size() / 8);
  {
    std::optional<absl::MutexLock> exclusive;
    std::optional<absl::ReaderMutexLock> shared;
    if (updates) {
      exclusive.emplace(&impl.mu);
    } else {
      shared.emplace(&impl.mu);
    }
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < threads; ++t) helpers.emplace_back(insert);
    insert();
    for (auto& t : helpers) t.join();
  }
  // Publishes the new items, in label order, up to the first that failed: the labels after it
  // stay unpublished and later inserts take their elements over.
  std::vector<std::string_view> new_ids(new_labels.size());
  for (const auto& [id, label] : new_labels) new_ids[label - first_new] = id;
  std::vector<std::pair<std::string_view, tableint>> published;
  for (size_t w = 0; w < work.size(); ++w) {
    const labeltype label = work[w].first;
    if (label < first_new) continue;
    if (!inserted[w]) break;
    published.emplace_back(new_ids[label - first_new], elements[w]);
  }
  impl.Publish(published);
  if (failed) return absl::InternalError(error);  // out of memory: the batch is partly applied
  return absl::OkStatus();
}

absl::Status HnswIndex::Remove(std::string_view id) {
  absl::MutexLock writer(&impl_->write_mu);
  absl::MutexLock lock(&impl_->mu);
  const int64_t label = impl_->ids->Find(id);
  if (label < 0) {
    return absl::NotFoundError(absl::StrCat("item '", std::string(id), "' is not in the index"));
  }
  try {
    impl_->graph->markDelete(label);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW delete of '", std::string(id), "' failed: ", e.what()));
  }
  impl_->ids->Remove(label);
  ++impl_->removed;
  return absl::OkStatus();
}

bool HnswIndex::Contains(std::string_view id) const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return impl_->ids->Find(id) >= 0;
}

absl::StatusOr<std::vector<float>> HnswIndex::GetVector(std::string_view id) const {
  absl::ReaderMutexLock lock(&impl_->mu);
  const int64_t label = impl_->ids->Find(id);
  if (label < 0) {
    return absl::NotFoundError(absl::StrCat("item '", std::string(id), "' is not in the index"));
  }
  return impl_->VectorOf(label);
}

std::vector<std::vector<float>> HnswIndex::GetVectors(absl::Span<const std::string> ids) const {
  std::vector<std::vector<float>> out(ids.size());
  absl::ReaderMutexLock lock(&impl_->mu);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t label = impl_->ids->Find(ids[i]);
    if (label >= 0) out[i] = impl_->VectorOf(label);
  }
  return out;
}

absl::StatusOr<std::vector<IndexHit>> HnswIndex::Search(absl::Span<const float> query, int k,
                                                        const Accept& accept) const {
  if (k <= 0) return absl::InvalidArgumentError("k must be positive");
  if (auto s = impl_->CheckDim(query, "query vector"); !s.ok()) return s;
  thread_local std::vector<char> buffer;
  const void* graph_query = impl_->GraphForm(query, buffer);
  absl::ReaderMutexLock lock(&impl_->mu);
  const Graph& graph = *impl_->graph;
  std::vector<IndexHit> hits;
  const size_t live = impl_->ids->live();
  if (live == 0) return hits;
  const size_t want = std::min<size_t>(k, live);
  const size_t ef = std::max<size_t>(impl_->ef, want);
  const IdTable& ids = *impl_->ids;
  const size_t published = ids.labels();  // an insert may be linking the next label right now
  std::vector<Found> found;
  try {
    const tableint entry = DescendToBaseLayer(graph, graph_query);
    if (accept) {
      auto keep = [&](labeltype label) { return label < published && accept(ids.id(label)); };
      found = SearchBaseLayer<true>(graph, entry, graph_query, ef, keep);
    } else {
      found = SearchBaseLayer<false>(graph, entry, graph_query, ef, [](labeltype) { return true; });
      found.erase(std::remove_if(found.begin(), found.end(),
                                 [&](const Found& f) { return f.second >= published; }),
                  found.end());
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW search failed: ", e.what()));
  }
  std::vector<std::pair<float, labeltype>> scored;  // (inner product, label), best first
  scored.reserve(found.size());
  if (impl_->int8()) {
    // The best 4k candidates by int8 distance get their exact inner product (rescoring 2k
    // already gave the recall of rescoring all ef of them, on isotropic and on low-rank data,
    // in index_scale_benchmark); their vectors are fetched together.
    found.resize(std::min(found.size(), kRescoreFactor * want));
    for (const Found& f : found) __builtin_prefetch(impl_->exact.Get(f.second));
    const auto ip = impl_->fp32_space->get_dist_func();
    const void* dim = impl_->fp32_space->get_dist_func_param();
    for (const Found& f : found) {
      scored.emplace_back(1.0f - ip(query.data(), impl_->exact.Get(f.second), dim), f.second);
    }
    const size_t keep = std::min(want, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + keep, scored.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    scored.resize(keep);
  } else {
    for (size_t i = 0; i < found.size() && i < want; ++i) {
      scored.emplace_back(1.0f - found[i].first, found[i].second);
    }
  }
  hits.reserve(scored.size());
  for (const auto& [score, label] : scored) hits.push_back(IndexHit{ids.id(label), score});
  return hits;
}

absl::StatusOr<std::vector<IndexHit>> HnswIndex::SearchAmong(
    absl::Span<const float> query, int k, absl::Span<const std::string> candidates) const {
  if (k <= 0) return absl::InvalidArgumentError("k must be positive");
  if (auto s = impl_->CheckDim(query, "query vector"); !s.ok()) return s;
  const auto ip = impl_->fp32_space->get_dist_func();
  const void* dim = impl_->fp32_space->get_dist_func_param();
  absl::ReaderMutexLock lock(&impl_->mu);
  // Min-heap of the best k (score, candidate index).
  std::priority_queue<std::pair<float, size_t>, std::vector<std::pair<float, size_t>>,
                      std::greater<>>
      best;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const int64_t label = impl_->ids->Find(candidates[i]);
    if (label < 0) continue;
    const float score = 1.0f - ip(query.data(), impl_->VectorData(label), dim);
    if (best.size() < static_cast<size_t>(k)) {
      best.emplace(score, i);
    } else if (score > best.top().first) {
      best.pop();
      best.emplace(score, i);
    }
  }
  std::vector<IndexHit> hits(best.size());
  for (size_t i = hits.size(); i-- > 0; best.pop()) {
    hits[i] = IndexHit{candidates[best.top().second], best.top().first};
  }
  return hits;
}

namespace {
constexpr char kGraphFile[] = "hnsw.graph";
constexpr char kIdsFile[] = "hnsw.ids";
constexpr char kVectorsFile[] = "hnsw.vectors";
// 1: fp32 graph. 2: adds the quantization (only int8 snapshots use it, so fp32 ones stay
// readable by builds that know only format 1).
constexpr uint64_t kIdsFormatFp32 = 1;
constexpr uint64_t kIdsFormatQuantized = 2;
constexpr uint64_t kQuantizationInt8 = 1;
constexpr size_t kVectorsPerRecord = 1024;

const char* QuantizationName(Quantization q) { return q == Quantization::kInt8 ? "int8" : "fp32"; }

// The size hnswlib's saveIndex writes for `g` (it does not report write errors itself).
size_t ExpectedGraphBytes(const Graph& g) {
  size_t bytes = sizeof(g.offsetLevel0_) + sizeof(g.max_elements_) + sizeof(g.cur_element_count) +
                 sizeof(g.size_data_per_element_) + sizeof(g.label_offset_) +
                 sizeof(g.offsetData_) + sizeof(g.maxlevel_) + sizeof(g.enterpoint_node_) +
                 sizeof(g.maxM_) + sizeof(g.maxM0_) + sizeof(g.M_) + sizeof(g.mult_) +
                 sizeof(g.ef_construction_);
  bytes += g.cur_element_count * g.size_data_per_element_;
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    bytes += sizeof(unsigned int) +
             (g.element_levels_[i] > 0 ? g.size_links_per_element_ * g.element_levels_[i] : 0);
  }
  return bytes;
}
}  // namespace

// Reads a graph that hnswlib's saveIndex wrote, into what its loadIndex would build, in one
// sequential pass: loadIndex first walks the file element by element (a seek each) to check its
// size, then reads it again, into 4 KiB pages. Here the size is checked as it is read, and the
// base layer goes into huge pages before it is filled.
absl::StatusOr<std::unique_ptr<Graph>> LoadGraph(const std::string& path,
                                                 hnswlib::SpaceInterface<float>* space,
                                                 size_t min_capacity) {
  auto bad = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat("cannot load the HNSW graph ", path, ": ", why));
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) return ErrnoError("cannot open the HNSW graph", path);
  std::setvbuf(file.get(), nullptr, _IOFBF, 1 << 20);
  auto read = [&](void* p, size_t n) { return std::fread(p, 1, n, file.get()) == n; };

  // The empty constructor initializes nothing: every field loadIndex sets is set here.
  auto g = std::make_unique<Graph>(space);
  g->data_level0_memory_ = nullptr;
  g->linkLists_ = nullptr;
  g->visited_list_pool_ = nullptr;
  g->cur_element_count = 0;  // what the destructor walks: raised once the links are read
  size_t elements = 0, saved_capacity = 0;
  if (!read(&g->offsetLevel0_, sizeof(g->offsetLevel0_)) ||
      !read(&saved_capacity, sizeof(saved_capacity)) || !read(&elements, sizeof(elements)) ||
      !read(&g->size_data_per_element_, sizeof(g->size_data_per_element_)) ||
      !read(&g->label_offset_, sizeof(g->label_offset_)) ||
      !read(&g->offsetData_, sizeof(g->offsetData_)) ||
      !read(&g->maxlevel_, sizeof(g->maxlevel_)) ||
      !read(&g->enterpoint_node_, sizeof(g->enterpoint_node_)) ||
      !read(&g->maxM_, sizeof(g->maxM_)) || !read(&g->maxM0_, sizeof(g->maxM0_)) ||
      !read(&g->M_, sizeof(g->M_)) || !read(&g->mult_, sizeof(g->mult_)) ||
      !read(&g->ef_construction_, sizeof(g->ef_construction_))) {
    return bad("truncated header");
  }
  g->data_size_ = space->get_data_size();
  g->fstdistfunc_ = space->get_dist_func();
  g->dist_func_param_ = space->get_dist_func_param();
  g->size_links_level0_ = g->maxM0_ * sizeof(tableint) + sizeof(hnswlib::linklistsizeint);
  g->size_links_per_element_ = g->maxM_ * sizeof(tableint) + sizeof(hnswlib::linklistsizeint);
  if (g->maxM_ < 1 || g->maxM_ > 10000 || g->maxM0_ < g->maxM_ || g->maxM0_ > 20000 ||
      g->offsetLevel0_ != 0 || g->offsetData_ != g->size_links_level0_ ||
      g->label_offset_ != g->offsetData_ + g->data_size_ ||
      g->size_data_per_element_ != g->label_offset_ + sizeof(labeltype)) {
    return bad("its elements do not hold this index's vectors");
  }
  if (elements > (1ull << 32) - 1 || (elements > 0 && (g->enterpoint_node_ >= elements ||
                                                       g->maxlevel_ < 0 || g->maxlevel_ > 64))) {
    return bad("inconsistent header");
  }
  const size_t capacity = std::max({min_capacity, elements, size_t{16}});
  g->max_elements_ = capacity;
  g->data_level0_memory_ = static_cast<char*>(std::malloc(capacity * g->size_data_per_element_));
  g->linkLists_ = static_cast<char**>(std::calloc(capacity, sizeof(char*)));
  if (g->data_level0_memory_ == nullptr || g->linkLists_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate the HNSW graph of ", path));
  }
  AdviseHugePages(*g);
  if (!read(g->data_level0_memory_, elements * g->size_data_per_element_)) {
    return bad("truncated base layer");
  }
  g->element_levels_.assign(capacity, 0);
  for (size_t i = 0; i < elements; ++i) {
    unsigned int bytes = 0;
    if (!read(&bytes, sizeof(bytes))) return bad("truncated links");
    if (bytes == 0) continue;
    if (bytes % g->size_links_per_element_ != 0 || bytes / g->size_links_per_element_ > 64) {
      return bad("malformed links");
    }
    char* links = static_cast<char*>(std::malloc(bytes));
    if (links == nullptr || !read(links, bytes)) {
      std::free(links);
      return bad("truncated links");
    }
    g->linkLists_[i] = links;
    g->element_levels_[i] = static_cast<int>(bytes / g->size_links_per_element_);
    g->cur_element_count = i + 1;  // the destructor frees these links if a later one fails
  }
  if (std::fgetc(file.get()) != EOF) return bad("trailing bytes");
  g->cur_element_count = elements;

  std::vector<std::mutex>(capacity).swap(g->link_list_locks_);
  std::vector<std::mutex>(Graph::max_update_element_locks).swap(g->link_list_update_locks_);
  g->visited_list_pool_ = new hnswlib::VisitedListPool(1, static_cast<int>(capacity));
  g->revSize_ = 1.0 / g->mult_;
  g->ef_ = 10;
  g->num_deleted_ = 0;
  g->metric_distance_computations = 0;
  g->metric_hops = 0;
  g->label_lookup_.reserve(elements);
  for (size_t i = 0; i < elements; ++i) {
    if (!g->label_lookup_.emplace(g->getExternalLabel(i), i).second) return bad("duplicate labels");
    if (g->isMarkedDeleted(i)) ++g->num_deleted_;
    const int size = g->getListCount(g->get_linklist0(i));
    const tableint* neighbours = reinterpret_cast<const tableint*>(g->get_linklist0(i) + 1);
    if (static_cast<size_t>(size) > g->maxM0_) return bad("malformed links");
    for (int j = 0; j < size; ++j) {
      if (neighbours[j] >= elements) return bad("a link points past the last element");
    }
  }
  return g;
}

absl::StatusOr<std::vector<std::string>> HnswIndex::SaveTo(const std::string& dir) const {
  absl::MutexLock writer(&impl_->write_mu);  // no insert half done in the files
  absl::ReaderMutexLock lock(&impl_->mu);
  const std::string graph_path = dir + "/" + kGraphFile;
  auto& graph = *impl_->graph;  // saveIndex is not const, but only reads
  try {
    graph.saveIndex(graph_path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot save the HNSW graph to ", graph_path, ": ", e.what()));
  }
  uint32_t crc;
  uint64_t size;
  RETURN_IF_ERROR(FileChecksum(graph_path, &crc, &size));
  if (size != ExpectedGraphBytes(graph)) {
    return absl::InternalError(absl::StrCat("the HNSW graph file ", graph_path, " has ", size,
                                            " bytes instead of ", ExpectedGraphBytes(graph),
                                            " (disk full?)"));
  }
  const size_t labels = impl_->ids->labels();
  ASSIGN_OR_RETURN(auto ids, RecordWriter::Create(dir + "/" + kIdsFile));
  BufferWriter header;
  header.PutVarint(impl_->int8() ? kIdsFormatQuantized : kIdsFormatFp32);
  header.PutVarint(static_cast<uint64_t>(impl_->options.dimension));
  header.PutVarint(labels);
  header.PutVarint(impl_->removed);
  if (impl_->int8()) header.PutVarint(kQuantizationInt8);
  RETURN_IF_ERROR(ids->Append(header.data()));
  // Ids in chunks of up to 4096 labels per record.
  BufferWriter chunk;
  size_t in_chunk = 0;
  for (const std::string& id : impl_->ids->ids()) {
    chunk.PutString(id);
    if (++in_chunk == 4096) {
      RETURN_IF_ERROR(ids->Append(chunk.data()));
      chunk.Clear();
      in_chunk = 0;
    }
  }
  if (in_chunk > 0) RETURN_IF_ERROR(ids->Append(chunk.data()));
  RETURN_IF_ERROR(ids->Close(/*sync=*/true));
  if (!impl_->int8()) return std::vector<std::string>{kGraphFile, kIdsFile};

  // The fp32 vectors by label, kVectorsPerRecord per record after a header record.
  ASSIGN_OR_RETURN(auto vectors, RecordWriter::Create(dir + "/" + kVectorsFile));
  BufferWriter vheader;
  vheader.PutVarint(static_cast<uint64_t>(impl_->options.dimension));
  vheader.PutVarint(labels);
  RETURN_IF_ERROR(vectors->Append(vheader.data()));
  const size_t row_bytes = impl_->options.dimension * sizeof(float);
  std::string record;
  for (size_t first = 0; first < labels; first += kVectorsPerRecord) {
    const size_t n = std::min(kVectorsPerRecord, labels - first);
    record.resize(n * row_bytes);
    for (size_t i = 0; i < n; ++i) {
      std::memcpy(&record[i * row_bytes], impl_->exact.Get(first + i), row_bytes);
    }
    RETURN_IF_ERROR(vectors->Append(record));
  }
  RETURN_IF_ERROR(vectors->Close(/*sync=*/true));
  return std::vector<std::string>{kGraphFile, kIdsFile, kVectorsFile};
}

absl::Status HnswIndex::LoadFrom(const std::string& dir) {
  // Ids first: cheap, and they say how many labels the graph must hold.
  ASSIGN_OR_RETURN(auto reader, RecordReader::Open(dir + "/" + kIdsFile));
  std::string payload;
  auto corrupt = [&](const char* file, const std::string& why) {
    return absl::DataLossError(absl::StrCat(dir, "/", file, ": ", why));
  };
  if (reader->Next(&payload) != RecordReader::Result::kRecord) {
    return corrupt(kIdsFile, "unreadable header");
  }
  uint64_t format = 0, dimension = 0, labels = 0, removed = 0, quantization = 0;
  BufferReader header(payload);
  if (!header.GetVarint(&format) || (format != kIdsFormatFp32 && format != kIdsFormatQuantized) ||
      !header.GetVarint(&dimension) || !header.GetVarint(&labels) || !header.GetVarint(&removed) ||
      (format == kIdsFormatQuantized &&
       (!header.GetVarint(&quantization) || quantization != kQuantizationInt8))) {
    return corrupt(kIdsFile, "unknown format");
  }
  if (dimension != static_cast<uint64_t>(impl_->options.dimension)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the saved index holds ", dimension, "-dimensional vectors but the model gives ",
        impl_->options.dimension, ": start with an empty data directory to re-embed the catalog"));
  }
  const Quantization saved =
      quantization == kQuantizationInt8 ? Quantization::kInt8 : Quantization::kNone;
  if (saved != impl_->options.quantization) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the saved index has ", QuantizationName(saved), " vectors but this index is configured ",
        "for ", QuantizationName(impl_->options.quantization),
        ": use the quantization it was saved with, or start with an empty data directory"));
  }
  auto ids = std::make_unique<IdTable>();
  ids->Reserve(labels, labels - std::min(labels, removed));
  while (ids->labels() < labels) {
    if (reader->Next(&payload) != RecordReader::Result::kRecord)
      return corrupt(kIdsFile, "truncated");
    BufferReader chunk(payload);
    while (!chunk.done() && ids->labels() < labels) {
      std::string id;
      if (!chunk.GetString(&id)) return corrupt(kIdsFile, "malformed id");
      // Every label's element is known once the graph is read (below).
      if (!ids->Append(id, 0)) {
        return corrupt(kIdsFile, absl::StrCat("id '", id, "' appears twice"));
      }
    }
    if (!chunk.done()) return corrupt(kIdsFile, "trailing bytes");
  }
  if (reader->Next(&payload) != RecordReader::Result::kEnd)
    return corrupt(kIdsFile, "trailing records");

  VectorStore exact(impl_->options.dimension);
  if (saved == Quantization::kInt8) {
    ASSIGN_OR_RETURN(auto vectors, RecordReader::Open(dir + "/" + kVectorsFile));
    uint64_t vdim = 0, vlabels = 0;
    if (vectors->Next(&payload) != RecordReader::Result::kRecord) {
      return corrupt(kVectorsFile, "unreadable header");
    }
    BufferReader vheader(payload);
    if (!vheader.GetVarint(&vdim) || !vheader.GetVarint(&vlabels) || vdim != dimension ||
        vlabels != labels) {
      return corrupt(kVectorsFile, absl::StrCat("does not match ", kIdsFile));
    }
    exact.Reserve(labels);
    const size_t row_bytes = dimension * sizeof(float);
    for (size_t first = 0; first < labels; first += kVectorsPerRecord) {
      const size_t n = std::min<size_t>(kVectorsPerRecord, labels - first);
      if (vectors->Next(&payload) != RecordReader::Result::kRecord ||
          payload.size() != n * row_bytes) {
        return corrupt(kVectorsFile, "truncated");
      }
      for (size_t i = 0; i < n; ++i) {
        exact.Put(first + i, reinterpret_cast<const float*>(payload.data() + i * row_bytes));
      }
    }
    if (vectors->Next(&payload) != RecordReader::Result::kEnd) {
      return corrupt(kVectorsFile, "trailing records");
    }
  }

  std::unique_ptr<Graph> graph;
  try {
    ASSIGN_OR_RETURN(graph, LoadGraph(dir + "/" + kGraphFile, impl_->space.get(),
                                      std::max<size_t>(impl_->options.initial_capacity, labels)));
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot load the HNSW graph ", dir, "/", kGraphFile, ": ", e.what()));
  }
  if (graph->cur_element_count != labels) {
    return absl::DataLossError(absl::StrCat("the HNSW graph holds ", graph->cur_element_count,
                                            " elements but ", kIdsFile, " names ", labels));
  }
  for (const auto& [label, element] : graph->label_lookup_) {
    if (label >= labels) return absl::DataLossError("the HNSW graph holds labels past its ids");
    ids->SetElement(label, element);
  }
  ids->Reserve(graph->max_elements_, graph->max_elements_);  // room to publish beside searches
  absl::MutexLock writer(&impl_->write_mu);
  absl::MutexLock lock(&impl_->mu);
  impl_->graph = std::move(graph);
  impl_->ids = std::move(ids);
  impl_->removed = static_cast<size_t>(removed);
  impl_->exact = std::move(exact);
  return absl::OkStatus();
}

}  // namespace semrec
