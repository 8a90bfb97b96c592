// index_scale_benchmark: semrec's HnswIndex against raw hnswlib at catalog scale (100k and 1M
// random unit vectors of 384 dims, M=16, ef_construction=200, k=10), each figure beside its
// baseline from the same run. Isotropic random vectors by default (the hardest case: recall@10
// is poor at any practical ef); --latent_dim=24 draws them from a low-rank subspace plus noise,
// where recall behaves as with text embeddings.
//   build      semrec UpsertBatch (fp32 and int8) vs raw hnswlib addPoint, same threads;
//   search     semrec Search vs raw hnswlib searchKnn on the same graph (raw hnswlib loads the
//              graph file semrec saved), queries/s at 1 and 2 threads and recall@10 against
//              exact brute force, per ef; the int8 index beside them;
//   filtered   a category filter keeping 1%, 10%, 50% of the items vs brute force over them;
//   memory     resident bytes per item after loading, vs 1.15 x (4d + 8M + 12);
//   start-up   LoadFrom time of the saved index (page cache warm).
// Memory and start-up are measured in child processes (this binary, --child=...) that load one
// index and nothing else.
//
// Building 1M items takes minutes, so the built indexes, their build times and the exact
// neighbours of the queries are kept in --cache_dir ($SEMREC_BENCH_CACHE, else
// /tmp/semrec-bench) and reused; --rebuild starts over.
//
//   index_scale_benchmark --n=100000
//   index_scale_benchmark --n=1000000 --latent_dim=24 --json_out=scale-1m.json
//
// A plain program rather than Google Benchmark: one run builds for minutes, then measures a
// grid of (index, ef, threads) in interleaved rounds and keeps each one's best round (the
// machine may be shared), and prints one table.
#include <hnswlib/hnswlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/index/hnsw_index.h"
#include "core/storage/record_file.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(int64_t, n, 100000, "Items in the index");
ABSL_FLAG(int, dim, 384, "Vector dimension");
ABSL_FLAG(int, m, 16, "HNSW M");
ABSL_FLAG(int, latent_dim, 0,
          "0: isotropic random unit vectors; else vectors from a subspace of this dimension plus "
          "noise (closer to text embeddings)");
ABSL_FLAG(double, latent_noise, 0.3, "With --latent_dim: isotropic noise, relative");
ABSL_FLAG(int, ef_construction, 200, "HNSW ef_construction");
ABSL_FLAG(int, build_threads, 2, "Threads that build each index");
ABSL_FLAG(int, queries, 1000, "Queries (random unit vectors) for search and recall");
ABSL_FLAG(int, filtered_queries, 200, "Queries for the filtered searches");
ABSL_FLAG(std::string, efs, "32,64,128,256,512", "Search ef values");
ABSL_FLAG(std::string, search_threads, "1,2", "Searching thread counts");
ABSL_FLAG(int, filter_ef, 128, "ef of the filtered searches");
ABSL_FLAG(std::string, filter_percents, "1,10,50", "Share of items each category filter keeps");
ABSL_FLAG(double, min_seconds, 1.0, "Length of one throughput measurement");
ABSL_FLAG(int, rounds, 3, "Interleaved rounds of the grid; the best round of each cell counts");
ABSL_FLAG(std::string, cache_dir, "",
          "Built indexes and ground truth ($SEMREC_BENCH_CACHE, else "
          "/tmp/semrec-bench)");
ABSL_FLAG(bool, rebuild, false, "Build again even when the cache holds the indexes");
ABSL_FLAG(bool, build_single, false,
          "Also time semrec fp32 built with one Upsert call per item (one thread)");
ABSL_FLAG(std::string, json_out, "", "Also write the results as JSON here");
ABSL_FLAG(std::string, child, "", "Internal: load one index (raw, fp32, int8) and report");
ABSL_FLAG(std::string, child_dir, "", "Internal: the index directory for --child");

namespace semrec {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
constexpr int kK = 10;
constexpr uint64_t kItemSeed = 1, kQuerySeed = 2;

#ifdef SEMREC_SCALE_NATIVE
constexpr const char* kBuildFlavour = "native";  // everything built with -march=native
#else
constexpr const char* kBuildFlavour = "default";  // the project's flags (x86-64 baseline)
#endif

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::vector<int> IntList(const std::string& s) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    int v;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

// Runs fn(i) for i in [0, n) on `threads` threads.
void ParallelFor(size_t n, int threads, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

// n random unit vectors, the same for every thread count (each chunk has its own seed):
// isotropic (--latent_dim=0: the hardest case, every direction as likely) or drawn from a
// --latent_dim-dimensional subspace plus isotropic noise (--latent_noise of each component's
// spread), closer to text embeddings, whose intrinsic dimension is low.
std::vector<float> RandomUnitVectors(size_t n, int dim, uint64_t seed, int threads) {
  constexpr size_t kChunk = 4096;
  const int rank = absl::GetFlag(FLAGS_latent_dim);
  const float noise = static_cast<float>(absl::GetFlag(FLAGS_latent_noise));
  std::vector<float> basis;  // dim x rank, the same for items and queries
  if (rank > 0) {
    std::mt19937_64 rng(77);
    std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(rank)));
    basis.resize(size_t(dim) * rank);
    for (float& x : basis) x = normal(rng);
  }
  std::vector<float> out(n * dim);
  ParallelFor((n + kChunk - 1) / kChunk, threads, [&](size_t c) {
    std::mt19937_64 rng(seed * 1000003 + c);
    std::normal_distribution<float> normal;
    std::vector<float> z(rank);
    for (size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) {
      float* v = &out[i * dim];
      if (rank > 0) {
        for (float& x : z) x = normal(rng);
        for (int j = 0; j < dim; ++j) {
          float x = noise * normal(rng);
          for (int r = 0; r < rank; ++r) x += basis[size_t(j) * rank + r] * z[r];
          v[j] = x;
        }
      } else {
        for (int j = 0; j < dim; ++j) v[j] = normal(rng);
      }
      double norm = 0;
      for (int j = 0; j < dim; ++j) norm += double{v[j]} * v[j];
      for (int j = 0; j < dim; ++j) v[j] = static_cast<float>(v[j] / std::sqrt(norm));
    }
  });
  return out;
}

std::string ItemId(size_t i) { return absl::StrCat("item-", i); }
size_t ItemNumber(std::string_view id) {
  size_t v = 0;
  for (char c : id.substr(5)) v = v * 10 + (c - '0');
  return v;
}

// The item numbers of a search's hits; exits on an error.
std::vector<uint32_t> Numbers(const absl::StatusOr<std::vector<IndexHit>>& hits) {
  if (!hits.ok()) {
    std::fprintf(stderr, "search failed: %s\n", hits.status().ToString().c_str());
    std::exit(1);
  }
  std::vector<uint32_t> out;
  for (const IndexHit& h : *hits) out.push_back(static_cast<uint32_t>(ItemNumber(h.id)));
  return out;
}

// Inner products with hnswlib's own fp32 kernel (what raw hnswlib compares with).
struct Fp32Kernel {
  explicit Fp32Kernel(int dim)
      : space(dim), fn(space.get_dist_func()), param(space.get_dist_func_param()) {}
  float operator()(const float* a, const float* b) const { return 1.0f - fn(a, b, param); }
  hnswlib::InnerProductSpace space;
  hnswlib::DISTFUNC<float> fn;
  void* param;
};

// Keeps the k best (score, item) pairs.
class TopK {
 public:
  explicit TopK(int k) : k_(k) {}
  void Push(float score, uint32_t item) {
    if (heap_.size() < static_cast<size_t>(k_)) {
      heap_.emplace(score, item);
    } else if (score > heap_.top().first) {
      heap_.pop();
      heap_.emplace(score, item);
    }
  }
  std::vector<uint32_t> Items() {  // best first
    std::vector<uint32_t> out(heap_.size());
    for (size_t i = out.size(); i-- > 0; heap_.pop()) out[i] = heap_.top().second;
    return out;
  }

 private:
  int k_;
  std::priority_queue<std::pair<float, uint32_t>, std::vector<std::pair<float, uint32_t>>,
                      std::greater<>>
      heap_;
};

// The exact top-k of every query over all items, blocked so that a chunk of items stays in
// cache while a block of queries is compared with it.
std::vector<std::vector<uint32_t>> ExactTopK(const std::vector<float>& items, size_t n, int dim,
                                             const std::vector<float>& queries, int nq,
                                             int threads) {
  constexpr int kQueryBlock = 32;
  constexpr size_t kItemChunk = 256;
  std::vector<std::vector<uint32_t>> truth(nq);
  Fp32Kernel ip(dim);
  ParallelFor((nq + kQueryBlock - 1) / kQueryBlock, threads, [&](size_t b) {
    const int q0 = static_cast<int>(b) * kQueryBlock, q1 = std::min(nq, q0 + kQueryBlock);
    std::vector<TopK> tops(q1 - q0, TopK(kK));
    for (size_t c = 0; c < n; c += kItemChunk) {
      for (int q = q0; q < q1; ++q) {
        for (size_t i = c; i < std::min(n, c + kItemChunk); ++i) {
          tops[q - q0].Push(ip(&queries[size_t(q) * dim], &items[i * dim]),
                            static_cast<uint32_t>(i));
        }
      }
    }
    for (int q = q0; q < q1; ++q) truth[q] = tops[q - q0].Items();
  });
  return truth;
}

double Recall(const std::vector<uint32_t>& got, const std::vector<uint32_t>& want) {
  int hits = 0;
  for (uint32_t g : got) hits += std::count(want.begin(), want.end(), g) > 0;
  return static_cast<double>(hits) / std::max<size_t>(want.size(), 1);
}

// Queries/s of `search` (called with a query number) on `threads` threads for min_seconds;
// each thread starts at its own place in the query list.
double MeasureQps(int threads, double min_seconds, int nq, const std::function<void(int)>& search) {
  std::vector<size_t> done(threads, 0);
  std::vector<double> took(threads, 0);
  auto start = Clock::now();
  auto run = [&](int t) {
    size_t count = 0;
    int q = (nq / threads) * t;
    while (true) {
      for (int i = 0; i < 8; ++i) {
        search(q);
        q = (q + 1) % nq;
      }
      count += 8;
      if (Seconds(start) >= min_seconds) break;
    }
    done[t] = count;
    took[t] = Seconds(start);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(run, t);
  run(0);
  for (auto& t : pool) t.join();
  size_t total = 0;
  for (size_t c : done) total += c;
  return total / *std::max_element(took.begin(), took.end());
}

// --- cache -------------------------------------------------------------------------------------

struct Cache {
  std::string dir;
  std::string fp32_dir() const { return dir + "/semrec-fp32"; }
  std::string int8_dir() const { return dir + "/semrec-int8"; }
  std::string build_file() const { return dir + "/build.json"; }
  std::string truth_file(int nq) const { return absl::StrCat(dir, "/truth-q", nq, ".bin"); }

  json LoadBuild() const {
    std::ifstream in(build_file());
    if (!in) return json::object();
    try {
      return json::parse(in);
    } catch (const std::exception&) {
      return json::object();
    }
  }
  void SaveBuild(const json& j) const { std::ofstream(build_file()) << j.dump(2) << "\n"; }

  bool LoadTruth(int nq, std::vector<std::vector<uint32_t>>* truth) const {
    std::ifstream in(truth_file(nq), std::ios::binary);
    if (!in) return false;
    truth->assign(nq, std::vector<uint32_t>(kK));
    for (auto& t : *truth) in.read(reinterpret_cast<char*>(t.data()), kK * sizeof(uint32_t));
    return static_cast<bool>(in);
  }
  void SaveTruth(const std::vector<std::vector<uint32_t>>& truth) const {
    std::ofstream out(truth_file(static_cast<int>(truth.size())), std::ios::binary);
    for (const auto& t : truth)
      out.write(reinterpret_cast<const char*>(t.data()), kK * sizeof(uint32_t));
  }
};

HnswIndex::Options IndexOptions(int dim, size_t capacity, HnswIndex::Quantization q) {
  HnswIndex::Options o;
  o.dimension = dim;
  o.m = absl::GetFlag(FLAGS_m);
  o.ef_construction = absl::GetFlag(FLAGS_ef_construction);
  o.initial_capacity = capacity;
  o.quantization = q;
  o.insert_threads = absl::GetFlag(FLAGS_build_threads);
  return o;
}

// Builds what the cache lacks; returns the build record.
json BuildMissing(const Cache& cache, size_t n, int dim, std::vector<float>* items) {
  const int threads = absl::GetFlag(FLAGS_build_threads);
  json build = cache.LoadBuild();
  auto ensure_items = [&] {
    if (items->empty()) {
      auto t = Clock::now();
      *items = RandomUnitVectors(n, dim, kItemSeed, threads);
      std::printf("generated %zu items in %.1f s\n", n, Seconds(t));
    }
  };
  auto record = [&](const std::string& key, double seconds, const std::string& load_before) {
    build[key] = {{"seconds", seconds},
                  {"threads", threads},
                  {"items_per_s", n / seconds},
                  {"loadavg_before", load_before},
                  {"loadavg_after", LoadAverage()}};
    cache.SaveBuild(build);
    std::printf("  %-26s %8.1f s  (%.0f items/s)\n", key.c_str(), seconds, n / seconds);
    std::fflush(stdout);
  };

  // The three indexes are built together, one batch of kBuildBatch items into each in turn
  // (the order rotating), so a change in the machine's load touches all three alike.
  const bool complete = build.contains("raw_hnswlib") && build.contains("semrec_fp32") &&
                        build.contains("semrec_int8") &&
                        ::access((cache.fp32_dir() + "/hnsw.ids").c_str(), R_OK) == 0 &&
                        ::access((cache.int8_dir() + "/hnsw.ids").c_str(), R_OK) == 0;
  if (!complete) {
    constexpr size_t kBuildBatch = 10000;
    ensure_items();
    std::printf("building raw hnswlib (addPoint), semrec fp32 and semrec int8 (UpsertBatch) in "
                "turns of %zu items, %d threads each...\n", kBuildBatch, threads);
    std::fflush(stdout);
    std::vector<std::string> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = ItemId(i);
    hnswlib::InnerProductSpace space(dim);
    auto raw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &space, n, absl::GetFlag(FLAGS_m), absl::GetFlag(FLAGS_ef_construction), 100);
    auto fp32 = std::move(HnswIndex::Create(IndexOptions(dim, n, HnswIndex::Quantization::kNone)))
                    .value();
    auto int8 = std::move(HnswIndex::Create(IndexOptions(dim, n, HnswIndex::Quantization::kInt8)))
                    .value();
    double seconds[3] = {0, 0, 0};  // raw, fp32, int8
    const std::string before = LoadAverage();
    auto start = Clock::now();
    std::vector<ItemVector> batch;
    for (size_t first = 0, turn = 0; first < n; first += kBuildBatch, ++turn) {
      const size_t last = std::min(n, first + kBuildBatch);
      batch.clear();
      for (size_t i = first; i < last; ++i) {
        batch.push_back({ids[i], absl::MakeConstSpan(&(*items)[i * dim], dim)});
      }
      for (int step = 0; step < 3; ++step) {
        const int which = static_cast<int>((turn + step) % 3);
        auto t = Clock::now();
        if (which == 0) {
          ParallelFor(last - first, threads,
                      [&](size_t i) { raw->addPoint(&(*items)[(first + i) * dim], first + i); });
        } else if (absl::Status s = (which == 1 ? fp32 : int8)->UpsertBatch(batch); !s.ok()) {
          std::fprintf(stderr, "build failed: %s\n", s.ToString().c_str());
          std::exit(1);
        }
        seconds[which] += Seconds(t);
      }
      if ((turn + 1) % std::max<size_t>(1, n / kBuildBatch / 10) == 0 || last == n) {
        std::printf("  %7zu items: raw %.0f s, fp32 %.0f s, int8 %.0f s (%.0f s in all, load "
                    "average %s)\n", last, seconds[0], seconds[1], seconds[2], Seconds(start),
                    LoadAverage().c_str());
        std::fflush(stdout);
      }
    }
    raw.reset();
    const char* keys[3] = {"raw_hnswlib", "semrec_fp32", "semrec_int8"};
    for (int which = 0; which < 3; ++which) record(keys[which], seconds[which], before);
    for (int which = 1; which < 3; ++which) {
      const std::string dir = which == 1 ? cache.fp32_dir() : cache.int8_dir();
      (void)RemoveTree(dir);
      if (absl::Status s = MakeDirectories(dir); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        std::exit(1);
      }
      auto save_start = Clock::now();
      if (auto files = (which == 1 ? fp32 : int8)->SaveTo(dir); !files.ok()) {
        std::fprintf(stderr, "save failed: %s\n", files.status().ToString().c_str());
        std::exit(1);
      }
      build[keys[which]]["save_seconds"] = Seconds(save_start);
      cache.SaveBuild(build);
    }
  }
  if (absl::GetFlag(FLAGS_build_single) && !build.contains("semrec_fp32_single_upserts")) {
    ensure_items();
    std::printf("building semrec fp32 with one Upsert per item (1 thread)...\n");
    std::fflush(stdout);
    const std::string before = LoadAverage();
    auto t = Clock::now();
    auto index =
        std::move(HnswIndex::Create(IndexOptions(dim, 1024, HnswIndex::Quantization::kNone)))
            .value();
    for (size_t i = 0; i < n; ++i) {
      (void)index->Upsert(ItemId(i), absl::MakeConstSpan(&(*items)[i * dim], dim));
    }
    record("semrec_fp32_single_upserts", Seconds(t), before);
    build["semrec_fp32_single_upserts"]["threads"] = 1;
    cache.SaveBuild(build);
  }
  return build;
}

// --- child: load one index, report its start-up time and memory -------------------------------

int RunChild(const std::string& kind, const std::string& dir, int dim) {
  const std::vector<float> queries = RandomUnitVectors(200, dim, kQuerySeed, 1);
  const size_t before = ResidentBytes();
  auto start = Clock::now();
  std::function<void(int)> search;
  size_t items = 0;
  hnswlib::InnerProductSpace space(dim);
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> raw;
  std::unique_ptr<HnswIndex> index;
  if (kind == "raw") {
    raw = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, dir + "/hnsw.graph");
    items = raw->cur_element_count;
    raw->setEf(128);
    search = [&](int q) { raw->searchKnn(&queries[size_t(q) * dim], kK); };
  } else {
    auto q = kind == "int8" ? HnswIndex::Quantization::kInt8 : HnswIndex::Quantization::kNone;
    index = std::move(HnswIndex::Create(IndexOptions(dim, 1024, q))).value();
    if (absl::Status s = index->LoadFrom(dir); !s.ok()) {
      std::fprintf(stderr, "load failed: %s\n", s.ToString().c_str());
      return 1;
    }
    items = index->size();
    index->SetSearchEf(128);
    search = [&](int q) {
      (void)index->Search(absl::MakeConstSpan(&queries[size_t(q) * dim], dim), kK);
    };
  }
  const double load_seconds = Seconds(start);
  // Searches from two threads: each concurrent search holds a visited list of 2 bytes per item.
  MeasureQps(2, 0.2, 200, search);
  const size_t after = ResidentBytes();
  json out = {{"kind", kind},
              {"items", items},
              {"load_seconds", load_seconds},
              {"resident_bytes", after - before},
              {"bytes_per_item", static_cast<double>(after - before) / items}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

json RunChildProcess(const std::string& kind, const std::string& dir, int dim) {
  const std::string cmd = absl::StrCat("/proc/", ::getpid(), "/exe --child=", kind,
                                       " --child_dir='", dir, "' --dim=", dim);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::string output;
  char buf[4096];
  while (pipe && std::fgets(buf, sizeof(buf), pipe)) output += buf;
  if (!pipe || ::pclose(pipe) != 0) {
    std::fprintf(stderr, "child %s failed: %s\n", kind.c_str(), output.c_str());
    return json::object();
  }
  return json::parse(output.substr(output.rfind('{')));
}

// --- main --------------------------------------------------------------------------------------

int Run() {
  const size_t n = absl::GetFlag(FLAGS_n);
  const int dim = absl::GetFlag(FLAGS_dim);
  const int m = absl::GetFlag(FLAGS_m);
  const int nq = absl::GetFlag(FLAGS_queries);
  const int threads_max = std::max(1, absl::GetFlag(FLAGS_build_threads));
  std::string root = absl::GetFlag(FLAGS_cache_dir);
  if (root.empty())
    root =
        std::getenv("SEMREC_BENCH_CACHE") ? std::getenv("SEMREC_BENCH_CACHE") : "/tmp/semrec-bench";
  const int latent = absl::GetFlag(FLAGS_latent_dim);
  Cache cache{absl::StrCat(
      root, "/n", n, "-d", dim, "-m", m, "-efc", absl::GetFlag(FLAGS_ef_construction), "-s",
      kItemSeed,
      latent > 0 ? absl::StrCat("-latent", latent, "-noise", absl::GetFlag(FLAGS_latent_noise))
                 : "")};
  if (absl::GetFlag(FLAGS_rebuild)) (void)RemoveTree(cache.dir);
  if (absl::Status s = MakeDirectories(cache.dir); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("semrec index at scale: %zu items x %d dims (%s), M=%d, ef_construction=%d, k=%d\n",
              n, dim, latent > 0 ? absl::StrCat("latent ", latent).c_str() : "isotropic", m,
              absl::GetFlag(FLAGS_ef_construction), kK);
  std::printf("machine: %s, %u cpus, load average %s; build flags: %s; cache %s\n",
              CpuModel().c_str(), std::thread::hardware_concurrency(), LoadAverage().c_str(),
              kBuildFlavour, cache.dir.c_str());
  std::fflush(stdout);

  std::vector<float> items;
  json build = BuildMissing(cache, n, dim, &items);
  const std::vector<float> queries = RandomUnitVectors(nq, dim, kQuerySeed, threads_max);
  std::vector<std::vector<uint32_t>> truth;
  if (!cache.LoadTruth(nq, &truth)) {
    if (items.empty()) items = RandomUnitVectors(n, dim, kItemSeed, threads_max);
    auto t = Clock::now();
    truth = ExactTopK(items, n, dim, queries, nq, threads_max);
    cache.SaveTruth(truth);
    std::printf("exact top-%d of %d queries by brute force in %.1f s\n", kK, nq, Seconds(t));
  }

  // Start-up and memory, each index alone in a fresh process.
  json children = json::object();
  children["raw_hnswlib"] = RunChildProcess("raw", cache.fp32_dir(), dim);
  children["semrec_fp32"] = RunChildProcess("fp32", cache.fp32_dir(), dim);
  children["semrec_int8"] = RunChildProcess("int8", cache.int8_dir(), dim);

  // The three indexes side by side; raw hnswlib reads the graph file semrec's fp32 index saved.
  hnswlib::InnerProductSpace space(dim);
  auto raw =
      std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, cache.fp32_dir() + "/hnsw.graph");
  auto fp32 =
      std::move(HnswIndex::Create(IndexOptions(dim, 1024, HnswIndex::Quantization::kNone))).value();
  auto int8 =
      std::move(HnswIndex::Create(IndexOptions(dim, 1024, HnswIndex::Quantization::kInt8))).value();
  for (auto* index : {fp32.get(), int8.get()}) {
    if (absl::Status s = index->LoadFrom(index == fp32.get() ? cache.fp32_dir() : cache.int8_dir());
        !s.ok()) {
      std::fprintf(stderr, "load failed: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("kernels: raw %s (hnswlib), semrec %s and %s\n", fp32->kernel_name().c_str(),
              fp32->kernel_name().c_str(), int8->kernel_name().c_str());

  struct Variant {
    std::string name;
    std::function<void(int ef)> set_ef;
    std::function<std::vector<uint32_t>(const float* q)> search;
  };
  auto semrec_search = [dim](HnswIndex* index) {
    return [index, dim](const float* q) {
      return Numbers(index->Search(absl::MakeConstSpan(q, dim), kK));
    };
  };
  std::vector<Variant> variants = {
      {"raw_hnswlib", [&](int ef) { raw->setEf(ef); },
       [&](const float* q) {
         auto result = raw->searchKnn(q, kK);
         std::vector<uint32_t> out(result.size());
         for (size_t i = out.size(); i-- > 0; result.pop())
           out[i] = static_cast<uint32_t>(result.top().second);
         return out;
       }},
      {"semrec_fp32", [&](int ef) { fp32->SetSearchEf(ef); }, semrec_search(fp32.get())},
      {"semrec_int8", [&](int ef) { int8->SetSearchEf(ef); }, semrec_search(int8.get())},
  };
  const std::vector<int> efs = IntList(absl::GetFlag(FLAGS_efs));
  const std::vector<int> search_threads = IntList(absl::GetFlag(FLAGS_search_threads));
  const double min_seconds = absl::GetFlag(FLAGS_min_seconds);
  const int rounds = absl::GetFlag(FLAGS_rounds);

  // recall[variant][ef]; qps[variant][ef][threads] (best round)
  std::map<std::string, std::map<int, double>> recall;
  std::map<std::string, std::map<int, std::map<int, double>>> qps;
  for (auto& v : variants) {
    for (int ef : efs) {
      v.set_ef(ef);
      double sum = 0;
      for (int q = 0; q < nq; ++q) sum += Recall(v.search(&queries[size_t(q) * dim]), truth[q]);
      recall[v.name][ef] = sum / nq;
    }
  }
  const std::string search_load_before = LoadAverage();
  for (int round = 0; round < rounds; ++round) {
    for (int ef : efs) {
      for (int threads : search_threads) {
        for (auto& v : variants) {
          v.set_ef(ef);
          const double r = MeasureQps(threads, min_seconds, nq,
                                      [&](int q) { (void)v.search(&queries[size_t(q) * dim]); });
          double& best = qps[v.name][ef][threads];
          best = std::max(best, r);
        }
      }
    }
    std::printf("search round %d of %d done (load average %s)\n", round + 1, rounds,
                LoadAverage().c_str());
    std::fflush(stdout);
  }

  // Filtered: category = item number % 100; a filter keeps the categories below `percent`.
  const int nfq = std::min(nq, absl::GetFlag(FLAGS_filtered_queries));
  const int filter_ef = absl::GetFlag(FLAGS_filter_ef);
  if (items.empty()) items = RandomUnitVectors(n, dim, kItemSeed, threads_max);
  Fp32Kernel ip(dim);
  json filtered = json::array();
  for (int percent : IntList(absl::GetFlag(FLAGS_filter_percents))) {
    std::vector<uint32_t> subset;
    for (size_t i = 0; i < n; ++i) {
      if (static_cast<int>(i % 100) < percent) subset.push_back(static_cast<uint32_t>(i));
    }
    auto brute = [&](int q) {
      TopK top(kK);
      const float* query = &queries[size_t(q) * dim];
      for (uint32_t i : subset) top.Push(ip(query, &items[size_t(i) * dim]), i);
      return top.Items();
    };
    std::vector<std::vector<uint32_t>> exact(nfq);
    for (int q = 0; q < nfq; ++q) exact[q] = brute(q);
    auto accept = [percent](std::string_view id) {
      return static_cast<int>(ItemNumber(id) % 100) < percent;
    };
    auto filtered_search = [&](HnswIndex* index, int q) {
      return Numbers(
          index->Search(absl::MakeConstSpan(&queries[size_t(q) * dim], dim), kK, accept));
    };
    std::vector<std::string> subset_ids;  // what a category's posting list would hold
    for (uint32_t i : subset) subset_ids.push_back(ItemId(i));
    auto among = [&](int q) {
      return Numbers(
          fp32->SearchAmong(absl::MakeConstSpan(&queries[size_t(q) * dim], dim), kK, subset_ids));
    };
    double among_recall = 0;
    for (int q = 0; q < nfq; ++q) among_recall += Recall(among(q), exact[q]);
    json row = {{"percent", percent},
                {"items", subset.size()},
                {"ef", filter_ef},
                {"semrec_among", {{"recall", among_recall / nfq}, {"qps", 0.0}}}};
    for (auto* index : {fp32.get(), int8.get()}) {
      const std::string name = index == fp32.get() ? "semrec_fp32" : "semrec_int8";
      index->SetSearchEf(filter_ef);
      double sum = 0;
      for (int q = 0; q < nfq; ++q) sum += Recall(filtered_search(index, q), exact[q]);
      row[name] = {{"recall", sum / nfq}, {"qps", 0.0}};
    }
    for (int round = 0; round < rounds; ++round) {
      double r = MeasureQps(1, min_seconds, nfq, [&](int q) { (void)brute(q); });
      row["brute_force_qps"] = std::max(row.value("brute_force_qps", 0.0), r);
      r = MeasureQps(1, min_seconds, nfq, [&](int q) { (void)among(q); });
      row["semrec_among"]["qps"] = std::max(row["semrec_among"]["qps"].get<double>(), r);
      for (auto* index : {fp32.get(), int8.get()}) {
        const std::string name = index == fp32.get() ? "semrec_fp32" : "semrec_int8";
        index->SetSearchEf(filter_ef);
        r = MeasureQps(1, min_seconds, nfq, [&](int q) { (void)filtered_search(index, q); });
        row[name]["qps"] = std::max(row[name]["qps"].get<double>(), r);
      }
    }
    filtered.push_back(row);
  }

  // --- report ----------------------------------------------------------------------------------
  const double bound = 1.15 * (4.0 * dim + 8.0 * m + 12);
  const std::string data = latent > 0
                               ? absl::StrCat("latent subspace of ", latent, " dims + noise ",
                                              absl::GetFlag(FLAGS_latent_noise))
                               : "isotropic random unit vectors";
  json report = {{"items", n},
                 {"data", data},
                 {"dim", dim},
                 {"m", m},
                 {"ef_construction", absl::GetFlag(FLAGS_ef_construction)},
                 {"k", kK},
                 {"queries", nq},
                 {"build_flags", kBuildFlavour},
                 {"machine", {{"cpu", CpuModel()}, {"cpus", std::thread::hardware_concurrency()}}},
                 {"kernels", {{"fp32", fp32->kernel_name()}, {"int8", int8->kernel_name()}}},
                 {"loadavg_search_before", search_load_before},
                 {"loadavg_search_after", LoadAverage()},
                 {"build", build},
                 {"load", children},
                 {"memory_bound_bytes_per_item", bound},
                 {"filtered", filtered}};
  for (const auto& v : variants) {
    for (int ef : efs) {
      json cell = {{"ef", ef}, {"recall", recall[v.name][ef]}};
      for (int t : search_threads) cell[absl::StrCat("qps_", t, "t")] = qps[v.name][ef][t];
      report["search"][v.name].push_back(cell);
    }
  }

  std::printf("\n== build (%d threads; cached runs reprint the first run's times)\n", threads_max);
  const double raw_build =
      build.contains("raw_hnswlib") ? build["raw_hnswlib"].value("seconds", 0.0) : 0;
  for (const char* key :
       {"raw_hnswlib", "semrec_fp32", "semrec_int8", "semrec_fp32_single_upserts"}) {
    if (!build.contains(key)) continue;
    const double s = build[key].value("seconds", 0.0);
    std::printf("  %-28s %9.1f s  %5.2fx raw  (%d thread%s)\n", key, s,
                raw_build > 0 ? s / raw_build : 0, build[key].value("threads", 0),
                build[key].value("threads", 0) == 1 ? "" : "s");
  }
  std::printf("\n== search, k=%d, %d queries; queries/s (best of %d rounds) and recall@10\n", kK,
              nq, rounds);
  std::printf("  %-5s", "ef");
  for (const auto& v : variants) {
    std::printf(" | %-12s", v.name.c_str());
    for (size_t i = 0; i < search_threads.size(); ++i) std::printf("          ");
  }
  std::printf("\n  %-5s", "");
  for (size_t vi = 0; vi < variants.size(); ++vi) {
    std::printf(" | %-6s", "recall");
    for (int t : search_threads) std::printf(" %8s", absl::StrCat(t, "t q/s").c_str());
    std::printf("      ");
  }
  std::printf("\n");
  for (int ef : efs) {
    std::printf("  %-5d", ef);
    for (const auto& v : variants) {
      std::printf(" | %6.4f", recall[v.name][ef]);
      for (int t : search_threads) std::printf(" %8.0f", qps[v.name][ef][t]);
      std::printf("      ");
    }
    std::printf("\n");
  }
  std::printf("  ratios to raw hnswlib at the same ef:\n");
  for (int ef : efs) {
    std::printf("  %-5d", ef);
    for (int t : search_threads) {
      std::printf("  %dt: fp32 %.2fx int8 %.2fx", t,
                  qps["semrec_fp32"][ef][t] / qps["raw_hnswlib"][ef][t],
                  qps["semrec_int8"][ef][t] / qps["raw_hnswlib"][ef][t]);
    }
    std::printf("\n");
  }
  std::printf(
      "\n== filtered search (%d queries, 1 thread): queries/s and recall@10 against brute "
      "force over the kept items;\n   filter inside the graph walk (Search with accept, ef=%d) "
      "and exact SearchAmong(the kept ids)\n",
      nfq, filter_ef);
  for (const auto& row : filtered) {
    std::printf(
        "  keeps %2d%% (%7zu items): brute force %7.0f | graph fp32 %7.0f (%.4f) | graph int8 "
        "%7.0f (%.4f) | SearchAmong %7.0f (%.4f)\n",
        row["percent"].get<int>(), row["items"].get<size_t>(), row["brute_force_qps"].get<double>(),
        row["semrec_fp32"]["qps"].get<double>(), row["semrec_fp32"]["recall"].get<double>(),
        row["semrec_int8"]["qps"].get<double>(), row["semrec_int8"]["recall"].get<double>(),
        row["semrec_among"]["qps"].get<double>(), row["semrec_among"]["recall"].get<double>());
  }
  std::printf("\n== memory and start-up (each index alone in a fresh process, page cache warm)\n");
  std::printf("  bound 1.15 x (4d + 8M + 12) = %.0f bytes/item\n", bound);
  for (const auto& [name, c] : children.items()) {
    if (!c.contains("bytes_per_item")) continue;
    std::printf("  %-12s %7.0f bytes/item (%.2fx the bound)  load %.2f s\n", name.c_str(),
                c["bytes_per_item"].get<double>(), c["bytes_per_item"].get<double>() / bound,
                c["load_seconds"].get<double>());
  }
  std::printf("\nload average during the search grid: %s -> %s\n", search_load_before.c_str(),
              LoadAverage().c_str());

  if (const std::string path = absl::GetFlag(FLAGS_json_out); !path.empty()) {
    std::ofstream(path) << report.dump(2) << "\n";
    std::printf("JSON written to %s\n", path.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace semrec

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "semrec's HNSW index vs raw hnswlib at scale: build, search, filtered search, memory, "
      "start-up. See the comment at the top of benchmarks/index_scale_benchmark.cc.");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_child).empty()) {
    return semrec::RunChild(absl::GetFlag(FLAGS_child), absl::GetFlag(FLAGS_child_dir),
                            absl::GetFlag(FLAGS_dim));
  }
  return semrec::Run();
}
