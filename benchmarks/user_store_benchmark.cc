// The Redis user store against the in-memory one (the baseline): Get and ApplyEvents (one CLICK
// with a 384-d vector) on 1000 users whose profiles are full (50 recent events, 3 tastes), and on
// the same users held compact (--user_hot_profiles=0: every Get decodes, every write re-encodes).
// Then the memory a user costs (issue 7): SEMREC_BENCH_USERS (200,000) users with 3 CLICKs each
// on items drawn from a 24-dimensional subspace plus noise, as text embeddings are (so 3 tastes
// form for most users), with every profile fp32, with the default hot tier, and all compact.
//
//   redis-server --port 6399 --save '' --appendonly no &
//   SEMREC_REDIS_URL=redis://127.0.0.1:6399 build/benchmarks/user_store_benchmark
//   build/benchmarks/user_store_benchmark --benchmark_filter=Memory   # bytes per user only
//
// Last, what a snapshot costs per user: BM_SnapshotWrite and BM_SnapshotRestore, format 1 (every
// profile in fp32) against format 2 (compact ones as their bytes).
//   build/benchmarks/user_store_benchmark --benchmark_filter=Snapshot
//
// Without a reachable SEMREC_REDIS_URL the Redis cases are skipped with a message.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "benchmarks/synthetic_vectors.h"
#include "core/user/compact_profile.h"
#include "core/user/in_memory_user_store.h"
#include "core/user/profile_codec.h"
#include "core/user/redis_user_store.h"

namespace semrec {
namespace {

constexpr int kDim = 384;
constexpr int kUsers = 1000;

std::vector<float> UnitVector(std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(kDim);
  float norm = 0;
  for (float& x : v) {
    x = normal(rng);
    norm += x * x;
  }
  for (float& x : v) x /= std::sqrt(norm);
  return v;
}

ResolvedEvent Click(std::mt19937& rng, int64_t t) {
  ResolvedEvent e;
  e.event.item_id = "item-" + std::to_string(rng() % 100000);
  e.event.type = EventType::kClick;
  e.event.timestamp_us = t * 1'000'000;
  e.vector = UnitVector(rng);
  return e;
}

struct MadeStore {
  std::unique_ptr<UserStore> store;
  std::string error;
};

enum StoreKind { kMemory = 0, kRedis = 1, kCompact = 2 };

MadeStore MakeStore(StoreKind kind) {
  MadeStore made;
  if (kind == kRedis) {
    RedisUserStoreOptions o;
    const char* url = std::getenv("SEMREC_REDIS_URL");
    o.redis.url = url ? url : "redis://127.0.0.1:6379";
    o.key_prefix = "semrec_bench";
    auto s = RedisUserStore::Create(UserModelOptions(), o);
    if (!s.ok()) {
      made.error = "set SEMREC_REDIS_URL to a running Redis: " + s.status().ToString();
      return made;
    }
    made.store = std::move(s).value();
  } else {
    InMemoryUserStoreOptions o;
    if (kind == kCompact) o.hot_profiles = 0;
    made.store = std::make_unique<InMemoryUserStore>(UserModelOptions(), o);
  }
  std::mt19937 rng(1);
  for (int u = 0; u < kUsers; ++u) {
    std::vector<ResolvedEvent> events;
    for (int i = 0; i < 60; ++i) events.push_back(Click(rng, i));
    (void)made.store->ApplyEvents("user-" + std::to_string(u), events);
  }
  return made;
}

// One store per kind for the whole run, filled once (thread-safe: function-local statics).
UserStore* Store(StoreKind kind, std::string* error) {
  if (kind == kRedis) {
    static MadeStore made = MakeStore(kRedis);
    *error = made.error;
    return made.store.get();
  }
  if (kind == kCompact) {
    static MadeStore made = MakeStore(kCompact);
    return made.store.get();
  }
  static MadeStore made = MakeStore(kMemory);
  return made.store.get();
}

void BM_Get(benchmark::State& state) {
  std::string error;
  UserStore* store = Store(static_cast<StoreKind>(state.range(0)), &error);
  if (store == nullptr) return state.SkipWithError(error.c_str());
  std::mt19937 rng(state.thread_index() + 7);
  for (auto _ : state) {
    auto p = store->Get("user-" + std::to_string(rng() % kUsers));
    if (!p.ok() || *p == nullptr) return state.SkipWithError("Get failed");
    benchmark::DoNotOptimize(p);
  }
}

void BM_ApplyEvents(benchmark::State& state) {
  std::string error;
  UserStore* store = Store(static_cast<StoreKind>(state.range(0)), &error);
  if (store == nullptr) return state.SkipWithError(error.c_str());
  std::mt19937 rng(state.thread_index() + 11);
  std::vector<std::vector<ResolvedEvent>> events;  // made before timing
  for (int i = 0; i < 256; ++i) events.push_back({Click(rng, 1000 + i)});
  size_t i = 0;
  for (auto _ : state) {
    auto r = store->ApplyEvents("user-" + std::to_string(rng() % kUsers), events[i++ % 256]);
    if (!r.ok()) return state.SkipWithError(r.status().ToString().c_str());
  }
}

// Arg 0: in memory (baseline), 1: Redis, 2: in memory, every profile compact.
BENCHMARK(BM_Get)->ArgName("redis")->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_Get)->ArgName("redis")->Arg(0)->Arg(1)->Threads(8)->UseRealTime();
BENCHMARK(BM_ApplyEvents)->ArgName("redis")->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_ApplyEvents)->ArgName("redis")->Arg(0)->Arg(1)->Threads(8)->UseRealTime();
BENCHMARK(BM_Get)->Name("BM_GetCompact")->Arg(kCompact)->UseRealTime();
BENCHMARK(BM_ApplyEvents)->Name("BM_ApplyEventsCompact")->Arg(kCompact)->UseRealTime();

// --- Bytes per user --------------------------------------------------------------------------

constexpr int kLatentDim = 24;
constexpr int kItems = 20000;

// kItems unit vectors from a kLatentDim-dimensional subspace plus 30% isotropic noise (as
// load_tests/run_scale.sh's catalog), row-major.
std::vector<float> LatentItemVectors() {
  std::mt19937_64 rng(77);
  std::normal_distribution<float> basis_normal(0.0f, 1.0f / std::sqrt(float(kLatentDim)));
  std::normal_distribution<float> normal;
  std::vector<float> basis(size_t(kDim) * kLatentDim), items(size_t(kItems) * kDim), z(kLatentDim);
  for (float& x : basis) x = basis_normal(rng);
  for (int i = 0; i < kItems; ++i) {
    for (float& x : z) x = normal(rng);
    float* v = &items[size_t(i) * kDim];
    for (int j = 0; j < kDim; ++j) {
      float x = 0.3f * normal(rng);
      for (int r = 0; r < kLatentDim; ++r) x += basis[size_t(j) * kLatentDim + r] * z[r];
      v[j] = x;
    }
    bench::NormalizeInPlace(v, kDim);
  }
  return items;
}

const std::vector<float>& ItemVectors() {
  static const std::vector<float> items = LatentItemVectors();
  return items;
}

// Bytes malloc has handed out and not taken back (mmapped blocks included), and resident bytes.
size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}
size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Event e of user u: a random item, the same for every store.
ResolvedEvent UserClick(int u, int e) {
  std::mt19937 rng(u * 3 + e + 1);
  const int item = static_cast<int>(rng() % kItems);
  ResolvedEvent r;
  r.event.item_id = "item-" + std::to_string(item);
  r.event.type = EventType::kClick;
  r.event.timestamp_us = int64_t{e} * 3600'000'000;
  const float* v = &ItemVectors()[size_t(item) * kDim];
  r.vector.assign(v, v + kDim);
  return r;
}

struct MemoryFigures {
  double heap_per_user = 0, resident_per_user = 0;
  size_t compact = 0;
};
// By --user_hot_profiles, in the order they ran.
std::vector<std::pair<int64_t, MemoryFigures>>& MemoryResults() {
  static std::vector<std::pair<int64_t, MemoryFigures>> results;
  return results;
}

// Arg: --user_hot_profiles (-1: no limit, every profile fp32 as before the compact tier).
void BM_MemoryPerUser(benchmark::State& state) {
  const int users = bench::EnvInt("SEMREC_BENCH_USERS", 200000);
  InMemoryUserStoreOptions options;
  options.hot_profiles =
      state.range(0) < 0 ? std::numeric_limits<size_t>::max() : static_cast<size_t>(state.range(0));
  ItemVectors();
  MemoryFigures figures;
  for (auto _ : state) {
    malloc_trim(0);
    const auto start = std::chrono::steady_clock::now();
    const size_t heap = HeapInUse(), resident = ResidentBytes();
    InMemoryUserStore store(UserModelOptions(), options);
    // Three rounds over the users, one CLICK per call, as three visits would write them.
    for (int e = 0; e < 3; ++e) {
      for (int u = 0; u < users; ++u) {
        const ResolvedEvent click = UserClick(u, e);
        if (!store.ApplyEvents("user-" + std::to_string(u), {&click, 1}).ok()) {
          return state.SkipWithError("ApplyEvents failed");
        }
      }
    }
    figures.heap_per_user = double(HeapInUse() - heap) / users;
    figures.resident_per_user = (double(ResidentBytes()) - double(resident)) / users;
    figures.compact = store.compact_size();
    // The writes are timed, not the store's destruction.
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(int64_t{3} * users);
  state.counters["heap_B_per_user"] = figures.heap_per_user;
  state.counters["resident_B_per_user"] = figures.resident_per_user;
  state.counters["compact_users"] = double(figures.compact);
  MemoryResults().emplace_back(state.range(0), figures);
}
BENCHMARK(BM_MemoryPerUser)
    ->ArgName("hot")
    ->Arg(-1)
    ->Arg(50000)
    ->Arg(0)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseManualTime();

// --- Snapshot write and restore per user ----------------------------------------------------

// SEMREC_BENCH_SNAPSHOT_USERS (100,000) users built as BM_MemoryPerUser's, all held compact (as
// all but 50,000 of a million are). Arg 1: snapshot format 1 (the baseline), every profile
// decoded to be written in fp32 and encoded again when restored; arg 2: format 2, a compact
// profile written as its bytes and restored from them checked, not decoded. Profiles only: the
// ids, the record framing and the disk are the same in both.
const InMemoryUserStore& CompactUsers() {
  static const InMemoryUserStore* store = [] {
    InMemoryUserStoreOptions options;
    options.hot_profiles = 0;
    auto* s = new InMemoryUserStore(UserModelOptions(), options);
    const int users = bench::EnvInt("SEMREC_BENCH_SNAPSHOT_USERS", 100000);
    for (int e = 0; e < 3; ++e) {
      for (int u = 0; u < users; ++u) {
        const ResolvedEvent click = UserClick(u, e);
        (void)s->ApplyEvents("user-" + std::to_string(u), {&click, 1});
      }
    }
    return s;
  }();
  return *store;
}

// One user's profile as the format writes it.
bool PutStoredProfile(int format, const StoredProfile& stored, BufferWriter& w) {
  if (format == 2 && stored.is_compact()) {
    w.PutString(stored.compact().bytes());
    return true;
  }
  auto profile = stored.Load();
  if (!profile.ok()) return false;
  PutProfile(**profile, w);
  return true;
}

void BM_SnapshotWrite(benchmark::State& state) {
  const int format = static_cast<int>(state.range(0));
  const InMemoryUserStore& users = CompactUsers();
  size_t bytes = 0;
  for (auto _ : state) {
    BufferWriter w;
    bytes = 0;
    bool ok = true;
    (void)users.ForEachProfile([&](const std::string&, StoredProfile stored) {
      w.Clear();
      ok = ok && PutStoredProfile(format, stored, w);
      bytes += w.data().size();
    });
    if (!ok) return state.SkipWithError("a profile did not load");
  }
  state.SetItemsProcessed(state.iterations() * int64_t(users.size()));
  state.counters["B_per_user"] = double(bytes) / users.size();
}

void BM_SnapshotRestore(benchmark::State& state) {
  const int format = static_cast<int>(state.range(0));
  std::vector<std::pair<std::string, std::string>> records;  // written before timing
  (void)CompactUsers().ForEachProfile([&](const std::string& id, StoredProfile stored) {
    BufferWriter w;
    PutStoredProfile(format, stored, w);
    records.emplace_back(id, w.Release());
  });
  InMemoryUserStoreOptions options;
  options.hot_profiles = 0;  // every user pays the cold tier's cost
  for (auto _ : state) {
    auto store = std::make_unique<InMemoryUserStore>(UserModelOptions(), options);
    for (const auto& [id, record] : records) {
      StoredProfile stored;
      BufferReader in(record);
      if (format == 2) {
        uint64_t n;
        if (!in.GetVarint(&n) || n != in.remaining()) return state.SkipWithError("bad record");
        auto compact =
            CompactProfile::FromBytes(std::string_view(record).substr(record.size() - n));
        if (!compact.ok()) return state.SkipWithError("bad compact profile");
        stored = StoredProfile(*std::move(compact));
      } else {
        auto profile = std::make_shared<UserProfile>();
        if (!GetProfile(in, profile.get())) return state.SkipWithError("bad profile");
        stored = StoredProfile(std::shared_ptr<const UserProfile>(std::move(profile)));
      }
      if (!store->RestoreProfile(id, std::move(stored)).ok()) {
        return state.SkipWithError("RestoreProfile failed");
      }
    }
    state.PauseTiming();
    store.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(records.size()));
}

BENCHMARK(BM_SnapshotWrite)->ArgName("format")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SnapshotRestore)->ArgName("format")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// The direction error of one encoding, over users built like BM_MemoryPerUser's.
void PrintQuantizationError(int users) {
  double sum = 0, worst = 1, cluster_worst = 1;
  int tastes3 = 0;
  for (int u = 0; u < users; ++u) {
    UserProfile p;
    for (int e = 0; e < 3; ++e) {
      const ResolvedEvent click = UserClick(u, e);
      ApplyEvent(UserModelOptions(), click.event, click.vector, p);
    }
    tastes3 += p.interests.size() == 3;
    UserProfile q;
    if (!CompactProfile::Encode(p).Decode(&q).ok()) return;
    auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
      double dot = 0, na = 0, nb = 0;
      for (size_t j = 0; j < a.size(); ++j) {
        dot += double(a[j]) * b[j];
        na += double(a[j]) * a[j];
        nb += double(b[j]) * b[j];
      }
      return dot / std::sqrt(na * nb);
    };
    const double cos = cosine(p.InterestDirection(), q.InterestDirection());
    sum += cos;
    worst = std::min(worst, cos);
    for (size_t c = 0; c < p.interests.size(); ++c) {
      cluster_worst = std::min(cluster_worst, cosine(p.interests[c].vector, q.interests[c].vector));
    }
  }
  std::printf(
      "users with 3 tastes: %.1f%%; direction cosine after one encoding: mean %.6f, "
      "worst %.6f (taste vectors: worst %.6f)\n",
      100.0 * tastes3 / users, sum / users, worst, cluster_worst);
}

}  // namespace
}  // namespace semrec

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  auto& results = semrec::MemoryResults();
  if (results.empty()) return 0;
  const int users = semrec::bench::EnvInt("SEMREC_BENCH_USERS", 200000);
  std::printf("\nBytes per user, %d users with 3 CLICKs each: heap in use, resident\n", users);
  double baseline = 0;
  for (const auto& [hot, f] : results) {
    if (hot < 0) baseline = f.heap_per_user;
  }
  for (const auto& [hot, f] : results) {
    const std::string label =
        hot < 0 ? "all fp32 (no hot limit)" : "--user_hot_profiles=" + std::to_string(hot);
    std::printf("  %-30s %6.0f B  %6.0f B  %8zu compact", label.c_str(), f.heap_per_user,
                f.resident_per_user, f.compact);
    if (hot >= 0 && baseline > 0) std::printf("  %.2fx", f.heap_per_user / baseline);
    std::printf("\n");
  }
  semrec::PrintQuantizationError(std::min(users, 50000));
  return 0;
}
