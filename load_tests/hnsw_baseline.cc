// hnsw-baseline: raw hnswlib searchKnn on the graph a semrec server saved, the baseline the
// server's Recommend throughput is compared with (load_tests/run_scale.sh runs both on one data
// directory). Loads <snapshot>/hnsw.graph with hnswlib's own loader (the file is hnswlib's
// format), draws queries shaped like user interest vectors (the normalized mean of 1 to 5 random
// stored vectors, as a user with a few events has), and searches at --ef for --seconds with each
// thread count, printing queries/s and, with --json_out, the same as JSON.
//
//   hnsw-baseline --graph=/data/snapshot-000123/hnsw.graph --ef=64 --threads=1,2
//
// Thread contract: searches run concurrently on one hnswlib index (searchKnn is thread-safe).
#include <hnswlib/hnswlib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, graph, "", "hnsw.graph file of a semrec snapshot (required)");
ABSL_FLAG(int, dim, 384, "Vector dimension of the index");
ABSL_FLAG(int, ef, 64, "Search ef (the server's --hnsw_ef_search)");
ABSL_FLAG(int, k, 10, "Neighbours per query");
ABSL_FLAG(std::string, threads, "1,2", "Comma-separated thread counts");
ABSL_FLAG(double, seconds, 5, "Seconds per thread count");
ABSL_FLAG(int, queries, 10000, "Distinct queries (each the mean of 1-5 stored vectors)");
ABSL_FLAG(std::string, json_out, "", "Also write the results here");

namespace {

using Clock = std::chrono::steady_clock;

std::vector<float> MakeQueries(hnswlib::HierarchicalNSW<float>& index, int n, int dim) {
  std::mt19937_64 rng(2024);
  const size_t count = index.cur_element_count;
  std::uniform_int_distribution<size_t> pick(0, count - 1);
  std::uniform_int_distribution<int> events(1, 5);
  std::vector<float> out(size_t(n) * dim, 0.0f);
  for (int q = 0; q < n; ++q) {
    float* v = &out[size_t(q) * dim];
    for (int e = events(rng); e > 0; --e) {
      // Vectors by internal id: the data sits right after each element's level-0 links.
      const auto* data = reinterpret_cast<const float*>(index.getDataByInternalId(
          static_cast<hnswlib::tableint>(pick(rng))));
      for (int j = 0; j < dim; ++j) v[j] += data[j];
    }
    double norm = 0;
    for (int j = 0; j < dim; ++j) norm += double{v[j]} * v[j];
    for (int j = 0; j < dim; ++j) v[j] = static_cast<float>(v[j] / std::sqrt(norm));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "hnsw-baseline: raw hnswlib searchKnn queries/s on a semrec snapshot's graph.\n"
      "  hnsw-baseline --graph=DIR/hnsw.graph --ef=64 --threads=1,2");
  absl::ParseCommandLine(argc, argv);
  const std::string graph = absl::GetFlag(FLAGS_graph);
  const int dim = absl::GetFlag(FLAGS_dim);
  const int ef = absl::GetFlag(FLAGS_ef);
  const int k = absl::GetFlag(FLAGS_k);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int nq = absl::GetFlag(FLAGS_queries);
  std::vector<int> thread_counts;
  for (absl::string_view t : absl::StrSplit(absl::GetFlag(FLAGS_threads), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(std::string(t), &n) || n < 1) {
      std::fprintf(stderr, "hnsw-baseline: bad --threads entry '%s'\n", std::string(t).c_str());
      return 2;
    }
    thread_counts.push_back(n);
  }
  if (graph.empty() || dim < 1 || ef < 1 || k < 1 || !(seconds > 0) || nq < 1) {
    std::fprintf(stderr, "hnsw-baseline: --graph is required; --dim, --ef, --k, --seconds, "
                         "--queries must be positive\n");
    return 2;
  }
  if (!std::ifstream(graph)) {
    std::fprintf(stderr, "hnsw-baseline: cannot open %s\n", graph.c_str());
    return 1;
  }

  hnswlib::InnerProductSpace space(dim);
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
  const auto load_start = Clock::now();
  try {
    index = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, graph);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hnsw-baseline: loading %s: %s\n", graph.c_str(), e.what());
    return 1;
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
  if (index->cur_element_count == 0) {
    std::fprintf(stderr, "hnsw-baseline: %s holds no vectors\n", graph.c_str());
    return 1;
  }
  index->setEf(ef);
  const std::vector<float> queries = MakeQueries(*index, nq, dim);
  std::printf("raw hnswlib on %s: %zu vectors, dim %d, M %zu, ef %d, k %d (loaded in %.1f s)\n",
              graph.c_str(), static_cast<size_t>(index->cur_element_count), dim, index->M_, ef, k, load_s);

  nlohmann::json results = nlohmann::json::array();
  for (int threads : thread_counts) {
    std::atomic<int64_t> done{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    const auto start = Clock::now();
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        int64_t mine = 0;
        for (size_t q = t; !stop.load(std::memory_order_relaxed); q = (q + threads) % nq) {
          auto result = index->searchKnn(&queries[q * dim], k);
          mine += result.empty() ? 0 : 1;
        }
        done += mine;
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& w : workers) w.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double qps = done.load() / elapsed;
    std::printf("  %d thread%s: %8.0f queries/s\n", threads, threads == 1 ? " " : "s", qps);
    results.push_back({{"threads", threads}, {"queries_per_second", qps}});
  }
  if (const std::string path = absl::GetFlag(FLAGS_json_out); !path.empty()) {
    std::ofstream(path) << nlohmann::json{{"graph", graph},
                                          {"vectors", static_cast<size_t>(index->cur_element_count)},
                                          {"ef", ef},
                                          {"k", k},
                                          {"load_seconds", load_s},
                                          {"results", results}}
                               .dump(2)
                        << "\n";
  }
  return 0;
}
