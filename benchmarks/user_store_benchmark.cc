// The Redis user store against the in-memory one (the baseline): Get and ApplyEvents (one CLICK
// with a 384-d vector) on 1000 users whose profiles are full (50 recent events, 3 tastes).
//
//   redis-server --port 6399 --save '' --appendonly no &
//   SEMREC_REDIS_URL=redis://127.0.0.1:6399 build/benchmarks/user_store_benchmark
//
// Without a reachable SEMREC_REDIS_URL the Redis cases are skipped with a message.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/user/in_memory_user_store.h"
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

MadeStore MakeStore(bool redis) {
  MadeStore made;
  if (redis) {
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
    made.store = std::make_unique<InMemoryUserStore>(UserModelOptions());
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
UserStore* Store(bool redis, std::string* error) {
  if (redis) {
    static MadeStore made = MakeStore(true);
    *error = made.error;
    return made.store.get();
  }
  static MadeStore made = MakeStore(false);
  return made.store.get();
}

void BM_Get(benchmark::State& state) {
  std::string error;
  UserStore* store = Store(state.range(0) == 1, &error);
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
  UserStore* store = Store(state.range(0) == 1, &error);
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

// Arg 0: in memory (baseline), 1: Redis.
BENCHMARK(BM_Get)->ArgName("redis")->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_Get)->ArgName("redis")->Arg(0)->Arg(1)->Threads(8)->UseRealTime();
BENCHMARK(BM_ApplyEvents)->ArgName("redis")->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_ApplyEvents)->ArgName("redis")->Arg(0)->Arg(1)->Threads(8)->UseRealTime();

}  // namespace
}  // namespace semrec

BENCHMARK_MAIN();
