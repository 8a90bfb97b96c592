// memory_benchmark: where a server's resident memory goes, one component at a time. Loads the
// parts of a snapshot the server holds in memory, in the server's order (encoder, index, items,
// collaborative model, popularity), each from the snapshot's own files, and prints per part the
// bytes malloc handed out for it (mallinfo2: in-use chunks, headers included) and the resident
// size it added (/proc/self/statm), then the malloc heap's slack and what malloc_trim returns.
// User profiles are the user store's (core/user) and are not loaded here; the whole server's
// figure comes from load_tests (VmRSS after start-up).
//
//   memory_benchmark --snapshot=DATA/snapshots/snapshot-N --model_dir=build/testdata/encoder
//   memory_benchmark --snapshot=... --parts=items,popularity   # one part alone
//
// A plain program: it loads once and prints one table (a 1M snapshot takes about a minute). The
// snapshot is read, never written. The file decoders for the collaborative model and popularity
// mirror Engine::LoadSnapshot (core/engine/engine_storage.cc), which keeps its own private.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/catalog/item_catalog.h"
#include "core/collab/co_occurrence.h"
#include "core/encoder/torch_encoder.h"
#include "core/engine/state_codec.h"
#include "core/index/hnsw_index.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"

ABSL_FLAG(std::string, snapshot, "", "A snapshot directory (DATA_DIR/snapshots/snapshot-N)");
ABSL_FLAG(std::string, model_dir, "", "Encoder folder; empty: the encoder is not loaded");
ABSL_FLAG(std::string, parts, "encoder,index,items,collab,popularity",
          "Parts to load, in this order");
ABSL_FLAG(int, dim, 384, "Vector dimension of the snapshot's index");
ABSL_FLAG(std::string, quantization, "none", "The snapshot index's quantization: none or int8");

namespace semrec {
namespace {

struct Memory {
  int64_t in_use = 0;  // bytes in malloc chunks handed out (sbrk heap and mmap'ed chunks)
  int64_t heap = 0;    // bytes malloc holds from the OS (arena) plus mmap'ed chunks
  int64_t rss = 0;     // resident bytes of the process
};

Memory Measure() {
  Memory m;
  const struct mallinfo2 mi = mallinfo2();
  m.in_use = static_cast<int64_t>(mi.uordblks + mi.hblkhd);
  m.heap = static_cast<int64_t>(mi.arena + mi.hblkhd);
  long pages = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  m.rss = static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
  return m;
}

double MiB(int64_t bytes) { return bytes / 1048576.0; }

absl::Status ForEachRecord(const std::string& path,
                           const std::function<absl::Status(std::string_view)>& fn) {
  auto reader = RecordReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::string payload;
  RecordReader::Result r;
  while ((r = (*reader)->Next(&payload)) == RecordReader::Result::kRecord) {
    if (absl::Status s = fn(payload); !s.ok()) return s;
  }
  if (r == RecordReader::Result::kTorn) return absl::DataLossError(path + ": a record is corrupt");
  return absl::OkStatus();
}

absl::Status Malformed(const std::string& path) {
  return absl::DataLossError(path + ": malformed");
}

// What each part keeps alive (the benchmark holds them all until the end, as the server does).
struct Loaded {
  std::unique_ptr<TorchEncoder> encoder;
  std::unique_ptr<HnswIndex> index;
  ItemCatalog catalog;
  CoOccurrenceModel collab{CoOccurrenceOptions{}};
  PopularityTracker popularity{7 * 86400.0};
  size_t count = 0;  // of the part just loaded
};

absl::Status LoadEncoder(Loaded& l) {
  TorchEncoder::Options options;
  options.model_dir = absl::GetFlag(FLAGS_model_dir);
  auto encoder = TorchEncoder::Create(options);
  if (!encoder.ok()) return encoder.status();
  l.encoder = std::move(*encoder);
  // One forward pass: libtorch allocates its working buffers on the first call.
  auto v = l.encoder->Encode({std::string("a warm-up text for the encoder")}, TextKind::kQuery);
  if (!v.ok()) return v.status();
  l.count = 1;
  return absl::OkStatus();
}

absl::Status LoadIndex(const std::string& dir, Loaded& l) {
  HnswIndex::Options options;
  options.dimension = absl::GetFlag(FLAGS_dim);
  options.quantization = absl::GetFlag(FLAGS_quantization) == "int8"
                             ? HnswIndex::Quantization::kInt8
                             : HnswIndex::Quantization::kNone;
  auto index = HnswIndex::Create(options);
  if (!index.ok()) return index.status();
  if (absl::Status s = (*index)->LoadFrom(dir); !s.ok()) return s;
  l.index = std::move(*index);
  l.count = l.index->size();
  return absl::OkStatus();
}

absl::Status LoadItems(const std::string& dir, Loaded& l) {
  const std::string path = dir + "/items";
  return ForEachRecord(path, [&](std::string_view payload) {
    BufferReader in(payload);
    Item item;
    if (!GetItem(in, &item) || !in.done()) return Malformed(path);
    l.catalog.Put(std::move(item));
    l.count = l.catalog.size();
    return absl::OkStatus();
  });
}

absl::Status LoadCollab(const std::string& dir, Loaded& l) {
  const std::string path = dir + "/collab";
  CoOccurrenceModel::State state;
  uint64_t names = 0, nodes = 0;
  bool header = true;
  absl::Status s = ForEachRecord(path, [&](std::string_view payload) {
    BufferReader in(payload);
    if (header) {
      header = false;
      return in.GetVarint(&names) && in.GetVarint(&nodes) && in.done() ? absl::OkStatus()
                                                                       : Malformed(path);
    }
    if (state.names.size() < names) {
      while (!in.done()) {
        std::string name;
        if (!in.GetString(&name)) return Malformed(path);
        state.names.push_back(std::move(name));
      }
      return absl::OkStatus();
    }
    CoOccurrenceModel::State::Node node;
    uint64_t item = 0, n = 0;
    if (!in.GetVarint(&item) || !in.GetDouble(&node.mass) || !in.GetBool(&node.forgotten) ||
        !in.GetCount(&n, 5)) {
      return Malformed(path);
    }
    node.item = static_cast<uint32_t>(item);
    node.neighbors.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t other;
      float w;
      if (!in.GetVarint(&other) || !in.GetFloat(&w)) return Malformed(path);
      node.neighbors.emplace_back(static_cast<uint32_t>(other), w);
    }
    state.nodes.push_back(std::move(node));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (state.names.size() != names || state.nodes.size() != nodes) return Malformed(path);
  l.count = state.nodes.size();
  return l.collab.Import(std::move(state));
}

absl::Status LoadPopularity(const std::string& dir, Loaded& l) {
  const std::string path = dir + "/popularity";
  PopularityTracker::State state;
  uint64_t entries = 0;
  bool header = true;
  absl::Status s = ForEachRecord(path, [&](std::string_view payload) {
    BufferReader in(payload);
    if (header) {
      header = false;
      return in.GetI64(&state.anchor_us) && in.GetI64(&state.latest_us) &&
                     in.GetBool(&state.started) && in.GetVarint(&entries) && in.done()
                 ? absl::OkStatus()
                 : Malformed(path);
    }
    while (!in.done()) {
      std::string id;
      double score;
      if (!in.GetString(&id) || !in.GetDouble(&score)) return Malformed(path);
      state.stored.emplace_back(std::move(id), score);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (state.stored.size() != entries) return Malformed(path);
  l.count = state.stored.size();
  l.popularity.Import(std::move(state));
  return absl::OkStatus();
}

int Run() {
  const std::string dir = absl::GetFlag(FLAGS_snapshot);
  if (dir.empty()) {
    std::fprintf(stderr, "--snapshot is required\n");
    return 2;
  }
  Loaded loaded;
  const std::vector<std::pair<std::string, std::function<absl::Status()>>> all = {
      {"encoder", [&] { return LoadEncoder(loaded); }},
      {"index", [&] { return LoadIndex(dir, loaded); }},
      {"items", [&] { return LoadItems(dir, loaded); }},
      {"collab", [&] { return LoadCollab(dir, loaded); }},
      {"popularity", [&] { return LoadPopularity(dir, loaded); }},
  };
  const std::vector<std::string> parts = absl::StrSplit(absl::GetFlag(FLAGS_parts), ',');
  const Memory start = Measure();
  std::printf("%-11s %10s %12s %9s %13s %9s %8s\n", "part", "count", "malloc MiB", "B/count",
              "resident MiB", "B/count", "seconds");
  for (const std::string& part : parts) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& p) { return p.first == part; });
    if (it == all.end()) {
      std::fprintf(stderr, "unknown part '%s'\n", part.c_str());
      return 2;
    }
    if (part == "encoder" && absl::GetFlag(FLAGS_model_dir).empty()) continue;
    const Memory before = Measure();
    const auto t0 = std::chrono::steady_clock::now();
    loaded.count = 0;
    if (absl::Status s = it->second(); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", part.c_str(), s.ToString().c_str());
      return 1;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Memory after = Measure();
    const double n = std::max<size_t>(loaded.count, 1);
    std::printf("%-11s %10zu %12.1f %9.0f %13.1f %9.0f %8.1f\n", part.c_str(), loaded.count,
                MiB(after.in_use - before.in_use), (after.in_use - before.in_use) / n,
                MiB(after.rss - before.rss), (after.rss - before.rss) / n, seconds);
  }
  const Memory end = Measure();
  std::printf("%-11s %10s %12.1f %9s %13.1f\n", "all parts", "", MiB(end.in_use - start.in_use), "",
              MiB(end.rss - start.rss));
  std::printf(
      "process: %.1f MiB resident; malloc holds %.1f MiB from the OS, %.1f MiB of it in use "
      "(%.1f MiB free inside the heap)\n",
      MiB(end.rss), MiB(end.heap), MiB(end.in_use), MiB(end.heap - end.in_use));
  malloc_trim(0);
  const Memory trimmed = Measure();
  std::printf("after malloc_trim(0): %.1f MiB resident (%.1f MiB returned)\n", MiB(trimmed.rss),
              MiB(end.rss - trimmed.rss));
  return 0;
}

}  // namespace
}  // namespace semrec

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Resident memory of the server's in-memory parts, one at a time");
  absl::ParseCommandLine(argc, argv);
  return semrec::Run();
}
