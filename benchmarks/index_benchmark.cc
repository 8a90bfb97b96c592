// semrec's HnswIndex search against raw hnswlib searchKnn on the same graph parameters, data and
// insertion order (so the graphs are identical), with recall@10 against exact brute force.
//
//   SEMREC_BENCH_N=100000 build/benchmarks/index_benchmark
//
// Items are random unit vectors (SEMREC_BENCH_DIM, default 384), queries are other random unit
// vectors; M=16, ef_construction=200, k=10, one thread.
#include <benchmark/benchmark.h>
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/index/hnsw_index.h"

namespace semrec {
namespace {

constexpr int kK = 10;
constexpr int kQueries = 500;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

std::vector<float> RandomUnitVectors(size_t n, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    float* v = &out[i * dim];
    double norm = 0;
    for (int j = 0; j < dim; ++j) {
      v[j] = normal(rng);
      norm += v[j] * v[j];
    }
    for (int j = 0; j < dim; ++j) v[j] = static_cast<float>(v[j] / std::sqrt(norm));
  }
  return out;
}

struct Data {
  int n, dim;
  std::vector<float> items, queries;
  std::vector<std::vector<size_t>> truth;  // exact top-k item numbers per query
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> raw;
  std::unique_ptr<HnswIndex> index;

  Data() : n(EnvInt("SEMREC_BENCH_N", 20000)), dim(EnvInt("SEMREC_BENCH_DIM", 384)) {
    items = RandomUnitVectors(n, dim, 1);
    queries = RandomUnitVectors(kQueries, dim, 2);
    for (int q = 0; q < kQueries; ++q) {
      std::vector<std::pair<float, size_t>> scored(n);
      for (int i = 0; i < n; ++i) {
        float s = 0;
        for (int j = 0; j < dim; ++j) s += queries[q * dim + j] * items[size_t(i) * dim + j];
        scored[i] = {s, i};
      }
      std::partial_sort(scored.begin(), scored.begin() + kK, scored.end(), std::greater<>());
      truth.emplace_back();
      for (int j = 0; j < kK; ++j) truth.back().push_back(scored[j].second);
    }
    space = std::make_unique<hnswlib::InnerProductSpace>(dim);
    raw = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), n, 16, 200, 100);
    HnswIndex::Options o;
    o.dimension = dim;
    o.initial_capacity = n;
    index = std::move(HnswIndex::Create(o)).value();
    for (int i = 0; i < n; ++i) {
      raw->addPoint(&items[size_t(i) * dim], i);
      (void)index->Upsert(absl::StrCat(i), absl::MakeConstSpan(&items[size_t(i) * dim], dim));
    }
  }
};

Data& GetData() {
  static Data* data = new Data();
  return *data;
}

void BM_RawHnswlibSearch(benchmark::State& state) {
  Data& d = GetData();
  d.raw->setEf(state.range(0));
  size_t q = 0, hits = 0, total = 0;
  for (auto _ : state) {
    auto result = d.raw->searchKnn(&d.queries[(q % kQueries) * d.dim], kK);
    if (q < kQueries) {
      for (; !result.empty(); result.pop()) {
        const auto& t = d.truth[q];
        hits += std::count(t.begin(), t.end(), result.top().second);
      }
      total += kK;
    }
    benchmark::DoNotOptimize(result);
    ++q;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["recall@10"] = total ? double(hits) / total : 0;
  state.counters["items"] = d.n;
}

void BM_SemrecIndexSearch(benchmark::State& state) {
  Data& d = GetData();
  d.index->SetSearchEf(state.range(0));
  size_t q = 0, hits = 0, total = 0;
  for (auto _ : state) {
    auto result = d.index->Search(absl::MakeConstSpan(&d.queries[(q % kQueries) * d.dim], d.dim), kK);
    if (q < kQueries) {
      for (const IndexHit& h : *result) {
        const auto& t = d.truth[q];
        hits += std::count(t.begin(), t.end(), static_cast<size_t>(std::stoul(h.id)));
      }
      total += kK;
    }
    benchmark::DoNotOptimize(result);
    ++q;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["recall@10"] = total ? double(hits) / total : 0;
  state.counters["items"] = d.n;
}

// Filtered search keeping ~10% of the items, against brute force over that subset.
void BM_SemrecFilteredSearch10pct(benchmark::State& state) {
  Data& d = GetData();
  d.index->SetSearchEf(64);
  auto accept = [](std::string_view id) { return id.back() == '7'; };
  size_t q = 0;
  for (auto _ : state) {
    auto result = d.index->Search(absl::MakeConstSpan(&d.queries[(q++ % kQueries) * d.dim], d.dim),
                                  kK, accept);
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_BruteForceFilteredSearch10pct(benchmark::State& state) {
  Data& d = GetData();
  size_t q = 0;
  std::vector<std::pair<float, int>> scored;
  for (auto _ : state) {
    const float* query = &d.queries[(q++ % kQueries) * d.dim];
    scored.clear();
    for (int i = 7; i < d.n; i += 10) {
      float s = 0;
      for (int j = 0; j < d.dim; ++j) s += query[j] * d.items[size_t(i) * d.dim + j];
      scored.push_back({s, i});
    }
    std::partial_sort(scored.begin(), scored.begin() + std::min<size_t>(kK, scored.size()),
                      scored.end(), std::greater<>());
    benchmark::DoNotOptimize(scored);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_RawHnswlibSearch)->Arg(32)->Arg(64)->Arg(128);
BENCHMARK(BM_SemrecIndexSearch)->Arg(32)->Arg(64)->Arg(128);
BENCHMARK(BM_SemrecFilteredSearch10pct);
BENCHMARK(BM_BruteForceFilteredSearch10pct);

}  // namespace
}  // namespace semrec

BENCHMARK_MAIN();
