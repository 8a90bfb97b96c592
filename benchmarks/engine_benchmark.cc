// One Recommend through the Engine (no gRPC) against the HNSW search it contains, on the same
// index in the same process, with recall@10 of both against exact brute force.
//
//   cmake --build build --target engine_benchmark
//   nice build/benchmarks/engine_benchmark                      # N=100000 items (~1 min set-up)
//   SEMREC_BENCH_N=20000 nice build/benchmarks/engine_benchmark # a quick run
//
// Baseline: BM_IndexSearch/10 makes exactly the HnswIndex::Search calls a CONTENT Recommend for
// the same user makes (each interest direction, k=10, the user's seen items filtered out, same
// ef); BM_IndexSearch/200 those of a HYBRID Recommend (its 200-candidate semantic pool). The
// engine is the real one (FakeEncoder, HnswIndex, InMemoryUserStore, default EngineOptions, stage
// metrics exported as the server does) over N items with precomputed 384-d unit embeddings drawn
// around N/100 topic centres (cosine ~0.5 within a topic), M=16, ef_construction=200,
// ef_search=64 (the server's default; SEMREC_BENCH_EF). SEMREC_BENCH_USERS users (default 1000)
// each liked 5 items of one topic, so each has one interest direction. The catalog goes in through
// Engine::UpsertItems, whose index inserts run on 2 threads. The end prints each Recommend's
// throughput as a multiple of its baseline's.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "benchmarks/recording_reporter.h"
#include "benchmarks/synthetic_vectors.h"
#include "core/encoder/testing/fake_encoder.h"
#include "core/engine/engine.h"
#include "core/index/fp32_kernels.h"
#include "core/index/hnsw_index.h"
#include "core/metrics/registry.h"
#include "core/user/in_memory_user_store.h"
#include "core/user/seen_set.h"

namespace semrec {
namespace {

using bench::EnvInt;
using bench::TopicVectors;

constexpr int kDim = 384;
constexpr int kK = 10;
constexpr int kItemsPerTopic = 100;
constexpr int kLikesPerUser = 5;
constexpr int kRecallUsers = 200;

std::string ItemId(int i) { return absl::StrCat("item-", i); }

struct User {
  std::string id;
  std::shared_ptr<const UserProfile> profile;
  std::vector<std::vector<float>> targets;  // what Recommend searches with
  std::vector<int> liked;                   // item numbers
};

struct Setup {
  int n = EnvInt("SEMREC_BENCH_N", 100000);
  int ef = EnvInt("SEMREC_BENCH_EF", 64);
  std::vector<float> vectors;
  const HnswIndex* index = nullptr;  // owned by the engine
  metrics::Registry registry;
  std::unique_ptr<Engine> engine;
  std::vector<User> users;
  double index_recall = 0, engine_recall = 0;
  int multi_interest_users = 0;

  Setup() {
    const auto start = std::chrono::steady_clock::now();
    const int topics = std::max(1, n / kItemsPerTopic);
    vectors = TopicVectors(n, topics, kDim);

    HnswIndex::Options io;
    io.dimension = kDim;
    io.m = 16;
    io.ef_construction = 200;
    io.ef_search = ef;
    io.initial_capacity = n;
    io.insert_threads = 2;  // UpsertItems inserts each write's new items with both threads
    auto hnsw = std::move(HnswIndex::Create(io)).value();
    index = hnsw.get();
    EngineOptions options;
    engine = std::move(Engine::Create(options, std::make_unique<FakeEncoder>(kDim), std::move(hnsw),
                                      std::make_unique<InMemoryUserStore>(options.user)))
                 .value();
    engine->ExportStageMetrics(registry);
    for (int first = 0; first < n; first += 1000) {
      std::vector<Item> items;
      std::vector<std::vector<float>> embeddings;
      for (int i = first; i < std::min(n, first + 1000); ++i) {
        items.push_back(Item{ItemId(i), absl::StrCat("synthetic item ", i), {}, {}});
        embeddings.emplace_back(&vectors[size_t(i) * kDim], &vectors[size_t(i + 1) * kDim]);
      }
      Check(engine->UpsertItems(std::move(items), std::move(embeddings)).status(), "UpsertItems");
    }
    const double build_s = Seconds(start);

    // Users: a tenth as many topics as users, so that each topic's users share items and the
    // collaborative model has neighbours to offer HYBRID.
    const int user_count = EnvInt("SEMREC_BENCH_USERS", 1000);
    const int user_topics = std::min(topics, std::max(1, user_count / 10));
    const int64_t t0 = absl::ToUnixMicros(absl::Now()) - 3'600'000'000;
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> in_topic(0, std::max(0, n / topics - 1));
    for (int u = 0; u < user_count; ++u) {
      User user{absl::StrCat("user-", u), nullptr, {}, {}};
      std::vector<Event> events;
      for (int e = 0; e < kLikesPerUser; ++e) {
        user.liked.push_back(u % user_topics + in_topic(rng) * topics);
        Event ev;
        ev.item_id = ItemId(user.liked.back());
        ev.type = EventType::kLike;
        ev.timestamp_us = t0 + int64_t(u) * kLikesPerUser + e;
        events.push_back(std::move(ev));
      }
      Check(engine->Feedback(user.id, std::move(events)).status(), "Feedback");
      user.profile = std::move(engine->GetUser(user.id, 0)).value().profile;
      user.targets = user.profile->InterestDirections();
      multi_interest_users += user.targets.size() > 1;
      users.push_back(std::move(user));
    }
    MeasureRecall();
    std::fprintf(stderr,
                 "set-up: %d items (%d topics), HNSW M=16 ef_construction=200 ef_search=%d built "
                 "with 2 threads in %.1f s, %d users (%d with several interests), %.1f s in all\n",
                 n, topics, ef, build_s, user_count, multi_interest_users, Seconds(start));
  }

  static void Check(const absl::Status& s, const char* what) {
    if (s.ok()) return;
    std::fprintf(stderr, "%s failed: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
  static double Seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  }

  // recall@10 of the index search and of CONTENT Recommend against the exact top 10 unseen items
  // by best inner product over the user's targets, over the first kRecallUsers users.
  void MeasureRecall() {
    const Fp32Kernel* kernel = BestFp32Kernel();
    const size_t dim = kDim;
    auto dot = [&](const float* a, const float* b) {
      if (kernel) return 1.0f - kernel->distance(a, b, &dim);
      float s = 0;
      for (int j = 0; j < kDim; ++j) s += a[j] * b[j];
      return s;
    };
    size_t index_hits = 0, engine_hits = 0, total = 0;
    std::vector<std::pair<float, int>> scored(n);
    for (int u = 0; u < std::min<int>(kRecallUsers, users.size()); ++u) {
      const User& user = users[u];
      for (int i = 0; i < n; ++i) {
        float best = -2;
        for (const auto& t : user.targets)
          best = std::max(best, dot(t.data(), &vectors[size_t(i) * kDim]));
        scored[i] = {best, i};
      }
      for (int i : user.liked) scored[i].first = -3;  // seen: filtered out
      std::partial_sort(scored.begin(), scored.begin() + kK, scored.end(), std::greater<>());
      std::vector<std::string> truth;
      for (int j = 0; j < kK; ++j) truth.push_back(ItemId(scored[j].second));
      auto count = [&](const std::string& id) {
        return std::count(truth.begin(), truth.end(), id);
      };
      for (const IndexHit& h : SearchLikeRecommend(user, kK)) index_hits += count(h.id);
      RecommendRequest req;
      req.user_id = user.id;
      req.k = kK;
      req.strategy = Strategy::kContent;
      for (const Recommendation& r : engine->Recommend(req).value())
        engine_hits += count(r.item_id);
      total += kK;
    }
    index_recall = double(index_hits) / total;
    engine_recall = double(engine_hits) / total;
  }

  // The index searches Recommend makes for `user` when its semantic pool is `fetch` items.
  std::vector<IndexHit> SearchLikeRecommend(const User& user, int fetch) const {
    const int per_target = std::max(kK, fetch / static_cast<int>(user.targets.size()));
    auto accept = [&](std::string_view id) { return !user.profile->seen.contains(id); };
    std::vector<IndexHit> all;
    for (const auto& target : user.targets) {
      std::vector<IndexHit> hits = index->Search(target, per_target, accept).value();
      all.insert(all.end(), std::make_move_iterator(hits.begin()),
                 std::make_move_iterator(hits.end()));
    }
    return all;
  }
};

Setup* setup = nullptr;

// Arg: the semantic pool size (10: CONTENT's k; 200: HYBRID's candidates_per_source).
void BM_IndexSearch(benchmark::State& state) {
  const int fetch = static_cast<int>(state.range(0));
  size_t u = 0;
  for (auto _ : state) {
    auto hits = setup->SearchLikeRecommend(setup->users[u++ % setup->users.size()], fetch);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
  if (fetch == kK) state.counters["recall@10"] = setup->index_recall;
}

void RecommendLoop(benchmark::State& state, Strategy strategy) {
  RecommendRequest req;
  req.k = kK;
  req.strategy = strategy;
  size_t u = 0;
  for (auto _ : state) {
    req.user_id = setup->users[u++ % setup->users.size()].id;
    auto recs = setup->engine->Recommend(req);
    if (!recs.ok() || recs->size() != kK) {
      state.SkipWithError("Recommend failed or answered fewer than k items");
      break;
    }
    benchmark::DoNotOptimize(recs);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_EngineRecommend_Semantic(benchmark::State& state) {
  RecommendLoop(state, Strategy::kContent);
  state.counters["recall@10"] = setup->engine_recall;
}

void BM_EngineRecommend_Hybrid(benchmark::State& state) { RecommendLoop(state, Strategy::kHybrid); }

// One Feedback call of kFeedbackEvents clicks on items of the user's topic, through the engine
// (validation, item vectors from the index, the user store, popularity and co-occurrence
// learning; no write-ahead log: the benchmark's engine has no data directory), against the user
// store's ApplyEvents of the same resolved events on a store of its own (the update the call
// exists for). Event times only move forward, as live traffic's do.
constexpr int kFeedbackEvents = 10;

std::vector<Event> FeedbackEvents(const User& user, int64_t* clock, std::mt19937* rng) {
  std::vector<Event> events;
  const int topics = std::max(1, setup->n / kItemsPerTopic);
  std::uniform_int_distribution<int> in_topic(0, std::max(0, setup->n / topics - 1));
  for (int e = 0; e < kFeedbackEvents; ++e) {
    Event ev;
    ev.item_id = ItemId(user.liked.front() % topics + in_topic(*rng) * topics);
    ev.type = EventType::kClick;
    ev.timestamp_us = ++*clock;
    events.push_back(std::move(ev));
  }
  return events;
}

void BM_EngineFeedback(benchmark::State& state) {
  static int64_t clock = absl::ToUnixMicros(absl::Now());
  std::mt19937 rng(11);
  size_t u = 0;
  for (auto _ : state) {
    const User& user = setup->users[u++ % setup->users.size()];
    std::vector<Event> events = FeedbackEvents(user, &clock, &rng);
    auto done = setup->engine->Feedback(user.id, std::move(events));
    if (!done.ok()) {
      state.SkipWithError("Feedback failed");
      break;
    }
    benchmark::DoNotOptimize(done);
  }
  state.SetItemsProcessed(state.iterations() * kFeedbackEvents);
}

void BM_UserStoreApplyEvents(benchmark::State& state) {
  static int64_t clock = absl::ToUnixMicros(absl::Now());
  static InMemoryUserStore store{UserModelOptions{}};
  std::mt19937 rng(11);
  size_t u = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const User& user = setup->users[u++ % setup->users.size()];
    std::vector<ResolvedEvent> resolved;
    for (Event& ev : FeedbackEvents(user, &clock, &rng)) {
      std::vector<float> v = setup->index->GetVector(ev.item_id).value();
      resolved.push_back({std::move(ev), std::move(v)});
    }
    state.ResumeTiming();
    auto applied = store.ApplyEvents(user.id, resolved);
    benchmark::DoNotOptimize(applied);
  }
  state.SetItemsProcessed(state.iterations() * kFeedbackEvents);
}

// What each write to a user's profile pays to copy the set of items the user has seen (the store
// copies a profile on write, readers keep the old one): a flat hash set of Arg ids against
// SeenSet (core/user/seen_set.h) holding the same ids. 8,000 is the most active user of a
// 100k-user load run.
template <typename Set>
void CopySeen(benchmark::State& state) {
  Set seen;
  for (int i = 0; i < state.range(0); ++i) seen.insert(ItemId(i));
  int next = static_cast<int>(state.range(0));
  for (auto _ : state) {
    Set copy = seen;
    copy.insert(ItemId(next++));  // what the write then does
    benchmark::DoNotOptimize(copy);
  }
}
void BM_CopySeen_HashSet(benchmark::State& state) { CopySeen<StringSet>(state); }
void BM_CopySeen_SeenSet(benchmark::State& state) { CopySeen<SeenSet>(state); }
BENCHMARK(BM_CopySeen_HashSet)->Arg(10)->Arg(1000)->Arg(8000);
BENCHMARK(BM_CopySeen_SeenSet)->Arg(10)->Arg(1000)->Arg(8000);

BENCHMARK(BM_IndexSearch)->Arg(kK)->Arg(200);
BENCHMARK(BM_EngineRecommend_Semantic);
BENCHMARK(BM_EngineRecommend_Hybrid);
BENCHMARK(BM_UserStoreApplyEvents);
BENCHMARK(BM_EngineFeedback);

// The console table, plus each benchmark's items/s and seconds per item kept for the ratios.
// items/s counts calls for Recommend and events for Feedback; `per_call` turns the latter's
// difference back into microseconds per call.
void PrintRatio(const RecordingReporter& r, const char* engine, const char* baseline,
                const char* what, const char* baseline_what = "index search", int per_call = 1) {
  const double e = r.PerSecond(engine), b = r.PerSecond(baseline);
  if (e == 0 || b == 0) return;
  std::printf("%s = %.2f x %s (%s) per second; %.1f us per call beyond it\n", what, e / b,
              baseline_what, baseline, (1 / e - 1 / b) * 1e6 * per_call);
}

}  // namespace
}  // namespace semrec

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  spdlog::set_level(spdlog::level::warn);
  // As semrec-server does (server/main.cc): Debian's Abseil checks every Mutex acquisition for
  // lock-order cycles unless told not to. SEMREC_BENCH_DEADLOCK_DETECTION=1 keeps the checks on.
  if (semrec::bench::EnvInt("SEMREC_BENCH_DEADLOCK_DETECTION", 0) == 0) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  semrec::setup = new semrec::Setup();
  semrec::RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  semrec::PrintRatio(reporter, "BM_EngineRecommend_Semantic", "BM_IndexSearch/10",
                     "engine semantic (CONTENT) Recommend");
  semrec::PrintRatio(reporter, "BM_EngineRecommend_Hybrid", "BM_IndexSearch/200",
                     "engine HYBRID Recommend");
  semrec::PrintRatio(reporter, "BM_EngineFeedback", "BM_UserStoreApplyEvents",
                     "engine Feedback (10 events per call)", "the user store's update",
                     semrec::kFeedbackEvents);
  std::printf("recall@10 vs brute force (%d users): index search %.4f, engine Recommend %.4f\n",
              std::min<int>(semrec::kRecallUsers, semrec::setup->users.size()),
              semrec::setup->index_recall, semrec::setup->engine_recall);
  benchmark::Shutdown();
  return 0;
}
