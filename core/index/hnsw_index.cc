#include "core/index/hnsw_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <stdexcept>

#include "core/common/status_macros.h"
#include "core/common/string_map.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace semrec {

struct HnswIndex::Impl {
  Options options;
  std::unique_ptr<hnswlib::InnerProductSpace> space;

  mutable absl::Mutex mu;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph ABSL_GUARDED_BY(mu);
  // Labels are never reused: a removed item's slot stays marked deleted in the graph, and
  // re-adding the id takes a fresh label.
  StringMap<hnswlib::labeltype> label_of ABSL_GUARDED_BY(mu);
  std::vector<std::string> id_of ABSL_GUARDED_BY(mu);  // by label; "" for removed
  size_t removed ABSL_GUARDED_BY(mu) = 0;

  absl::Status CheckDim(absl::Span<const float> v, const char* what) const {
    if (static_cast<int>(v.size()) != options.dimension) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has dimension ", v.size(),
                                                     ", the index has ", options.dimension));
    }
    return absl::OkStatus();
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
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->space = std::make_unique<hnswlib::InnerProductSpace>(options.dimension);
  try {
    absl::MutexLock lock(&impl->mu);
    impl->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        impl->space.get(), std::max<size_t>(options.initial_capacity, 16), options.m,
        options.ef_construction, options.random_seed);
    // ef is read inside searchKnn; it is set once here, before the index is published.
    impl->graph->setEf(options.ef_search);
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate the HNSW index: ", e.what()));
  }
  return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
}

int HnswIndex::dimension() const { return impl_->options.dimension; }

size_t HnswIndex::size() const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return impl_->label_of.size();
}

void HnswIndex::SetSearchEf(int ef) {
  absl::MutexLock lock(&impl_->mu);
  impl_->graph->setEf(std::max(1, ef));
}

size_t HnswIndex::removed_slots() const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return impl_->removed;
}

absl::Status HnswIndex::Upsert(std::string_view id, absl::Span<const float> vector) {
  if (id.empty()) return absl::InvalidArgumentError("item id is empty");
  if (auto s = impl_->CheckDim(vector, "item vector"); !s.ok()) return s;
  absl::MutexLock lock(&impl_->mu);
  auto& graph = *impl_->graph;
  try {
    auto it = impl_->label_of.find(id);
    if (it != impl_->label_of.end()) {
      graph.addPoint(vector.data(), it->second);  // existing label: hnswlib updates in place
      return absl::OkStatus();
    }
    if (graph.cur_element_count >= graph.max_elements_) {
      graph.resizeIndex(std::max<size_t>(graph.max_elements_ * 2, 16));
    }
    const hnswlib::labeltype label = impl_->id_of.size();
    graph.addPoint(vector.data(), label);
    impl_->id_of.emplace_back(id);
    impl_->label_of.emplace(std::string(id), label);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW insert of '", std::string(id), "' failed: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status HnswIndex::Remove(std::string_view id) {
  absl::MutexLock lock(&impl_->mu);
  auto it = impl_->label_of.find(id);
  if (it == impl_->label_of.end()) {
    return absl::NotFoundError(absl::StrCat("item '", std::string(id), "' is not in the index"));
  }
  try {
    impl_->graph->markDelete(it->second);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW delete of '", std::string(id), "' failed: ", e.what()));
  }
  impl_->id_of[it->second].clear();
  impl_->label_of.erase(it);
  ++impl_->removed;
  return absl::OkStatus();
}

bool HnswIndex::Contains(std::string_view id) const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return impl_->label_of.contains(id);
}

absl::StatusOr<std::vector<float>> HnswIndex::GetVector(std::string_view id) const {
  absl::ReaderMutexLock lock(&impl_->mu);
  auto it = impl_->label_of.find(id);
  if (it == impl_->label_of.end()) {
    return absl::NotFoundError(absl::StrCat("item '", std::string(id), "' is not in the index"));
  }
  try {
    return impl_->graph->getDataByLabel<float>(it->second);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW read of '", std::string(id), "' failed: ", e.what()));
  }
}

std::vector<std::vector<float>> HnswIndex::GetVectors(absl::Span<const std::string> ids) const {
  std::vector<std::vector<float>> out(ids.size());
  absl::ReaderMutexLock lock(&impl_->mu);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = impl_->label_of.find(ids[i]);
    if (it == impl_->label_of.end()) continue;
    try {
      out[i] = impl_->graph->getDataByLabel<float>(it->second);
    } catch (const std::exception&) {
      // Marked deleted in the graph: reported as absent, like an unknown id.
    }
  }
  return out;
}

absl::StatusOr<std::vector<IndexHit>> HnswIndex::Search(absl::Span<const float> query, int k,
                                                        const Accept& accept) const {
  if (k <= 0) return absl::InvalidArgumentError("k must be positive");
  if (auto s = impl_->CheckDim(query, "query vector"); !s.ok()) return s;
  absl::ReaderMutexLock lock(&impl_->mu);
  const size_t live = impl_->label_of.size();
  std::vector<IndexHit> hits;
  if (live == 0) return hits;
  const size_t want = std::min<size_t>(k, live);
  // hnswlib 0.6 has no search-time filter: over-fetch and widen until enough results pass.
  size_t fetch = accept ? std::min<size_t>(live, want * 2 + 16) : want;
  try {
    while (true) {
      auto result = impl_->graph->searchKnn(query.data(), fetch);
      const size_t found = result.size();
      std::vector<std::pair<float, hnswlib::labeltype>> sorted;
      sorted.reserve(found);
      while (!result.empty()) {
        sorted.push_back(result.top());
        result.pop();
      }
      hits.clear();
      // The queue pops the largest distance first; walk from the closest.
      for (auto it = sorted.rbegin(); it != sorted.rend() && hits.size() < want; ++it) {
        const std::string& id = impl_->id_of[it->second];
        if (id.empty() || (accept && !accept(id))) continue;
        hits.push_back(IndexHit{id, 1.0f - it->first});
      }
      if (hits.size() >= want || fetch >= live) break;
      fetch = std::min(live, fetch * 4);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW search failed: ", e.what()));
  }
  return hits;
}

namespace {
constexpr char kGraphFile[] = "hnsw.graph";
constexpr char kIdsFile[] = "hnsw.ids";
constexpr uint64_t kIdsFormat = 1;

// The size hnswlib's saveIndex writes for `g` (it does not report write errors itself).
size_t ExpectedGraphBytes(const hnswlib::HierarchicalNSW<float>& g) {
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

absl::StatusOr<std::vector<std::string>> HnswIndex::SaveTo(const std::string& dir) const {
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
  ASSIGN_OR_RETURN(auto ids, RecordWriter::Create(dir + "/" + kIdsFile));
  BufferWriter header;
  header.PutVarint(kIdsFormat);
  header.PutVarint(static_cast<uint64_t>(impl_->options.dimension));
  header.PutVarint(impl_->id_of.size());
  header.PutVarint(impl_->removed);
  RETURN_IF_ERROR(ids->Append(header.data()));
  // Ids in chunks of up to 4096 labels per record.
  BufferWriter chunk;
  size_t in_chunk = 0;
  for (const std::string& id : impl_->id_of) {
    chunk.PutString(id);
    if (++in_chunk == 4096) {
      RETURN_IF_ERROR(ids->Append(chunk.data()));
      chunk.Clear();
      in_chunk = 0;
    }
  }
  if (in_chunk > 0) RETURN_IF_ERROR(ids->Append(chunk.data()));
  RETURN_IF_ERROR(ids->Close(/*sync=*/true));
  return std::vector<std::string>{kGraphFile, kIdsFile};
}

absl::Status HnswIndex::LoadFrom(const std::string& dir) {
  // Ids first: cheap, and they say how many labels the graph must hold.
  ASSIGN_OR_RETURN(auto reader, RecordReader::Open(dir + "/" + kIdsFile));
  std::string payload;
  auto corrupt = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(dir, "/", kIdsFile, ": ", why));
  };
  if (reader->Next(&payload) != RecordReader::Result::kRecord) return corrupt("unreadable header");
  uint64_t format = 0, dimension = 0, labels = 0, removed = 0;
  BufferReader header(payload);
  if (!header.GetVarint(&format) || format != kIdsFormat || !header.GetVarint(&dimension) ||
      !header.GetVarint(&labels) || !header.GetVarint(&removed)) {
    return corrupt("unknown format");
  }
  if (dimension != static_cast<uint64_t>(impl_->options.dimension)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the saved index holds ", dimension, "-dimensional vectors but the model gives ",
        impl_->options.dimension, ": start with an empty data directory to re-embed the catalog"));
  }
  std::vector<std::string> id_of;
  StringMap<hnswlib::labeltype> label_of;
  id_of.reserve(labels);
  while (id_of.size() < labels) {
    if (reader->Next(&payload) != RecordReader::Result::kRecord) return corrupt("truncated");
    BufferReader chunk(payload);
    while (!chunk.done() && id_of.size() < labels) {
      std::string id;
      if (!chunk.GetString(&id)) return corrupt("malformed id");
      if (!id.empty() && !label_of.emplace(id, id_of.size()).second) {
        return corrupt(absl::StrCat("id '", id, "' appears twice"));
      }
      id_of.push_back(std::move(id));
    }
    if (!chunk.done()) return corrupt("trailing bytes");
  }
  if (reader->Next(&payload) != RecordReader::Result::kEnd) return corrupt("trailing records");

  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  try {
    graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        impl_->space.get(), dir + "/" + kGraphFile, false,
        std::max<size_t>({impl_->options.initial_capacity, labels, 16}));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("cannot load the HNSW graph ", dir, "/", kGraphFile,
                                            ": ", e.what()));
  }
  if (graph->cur_element_count != labels) {
    return absl::DataLossError(absl::StrCat("the HNSW graph holds ", graph->cur_element_count,
                                            " elements but ", kIdsFile, " names ", labels));
  }
  absl::MutexLock lock(&impl_->mu);
  graph->setEf(impl_->graph->ef_);
  impl_->graph = std::move(graph);
  impl_->id_of = std::move(id_of);
  impl_->label_of = std::move(label_of);
  impl_->removed = static_cast<size_t>(removed);
  return absl::OkStatus();
}

}  // namespace semrec
