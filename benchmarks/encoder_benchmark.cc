// The encoder stack on the test encoder (build/testdata/encoder, 384-d, 2 layers):
//  - tokenizer throughput on the demo catalog (texts/s, bytes/s);
//  - TorchEncoder forward passes at batch 1, 8, 32, 128 (texts/s; time per pass);
//  - 64 concurrent callers with one text each: dynamic batching (BatchingEncoder) against
//    batch-1 execution (each caller runs its own pass), measured in the same run: throughput,
//    p50 and p99 latency, and their ratio;
//  - the query cache's hit path (p50 latency).
//
//   make bench        # or: build/benchmarks/encoder_benchmark
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "core/catalog/catalog_io.h"
#include "core/encoder/batching_encoder.h"
#include "core/encoder/caching_encoder.h"
#include "core/encoder/torch_encoder.h"

namespace semrec {
namespace {

std::vector<std::string> CatalogTexts() {
  auto items = ReadItemsJsonl(SEMREC_SOURCE_DIR "/examples/catalog.jsonl");
  std::vector<std::string> texts;
  if (items.ok()) {
    for (auto& item : *items) texts.push_back(std::move(item.text));
  }
  return texts;
}

std::unique_ptr<TorchEncoder> LoadModel() {
  TorchEncoder::Options o;
  o.model_dir = SEMREC_TESTDATA_DIR "/encoder";
  o.max_batch_size = 128;
  auto enc = TorchEncoder::Create(o);
  if (!enc.ok()) {
    fprintf(stderr, "cannot load the test encoder: %s\n", enc.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(enc).value();
}

TorchEncoder& Model() {
  static TorchEncoder* model = LoadModel().release();
  return *model;
}

void BM_Tokenize(benchmark::State& state) {
  const std::vector<std::string> texts = CatalogTexts();
  const Tokenizer& tok = Model().tokenizer();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& t = texts[i++ % texts.size()];
    benchmark::DoNotOptimize(tok.Encode(t));
    bytes += t.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Tokenize);

void BM_EncodeBatch(benchmark::State& state) {
  const std::vector<std::string> all = CatalogTexts();
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<std::string> batch(all.begin(), all.begin() + std::min(n, all.size()));
  for (auto _ : state) {
    auto v = Model().Encode(batch, TextKind::kDocument);
    if (!v.ok()) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
}
BENCHMARK(BM_EncodeBatch)->Arg(1)->Arg(8)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond);

// A wrapper that does not own the model, so both modes below share one.
class Borrowed final : public Encoder {
 public:
  explicit Borrowed(Encoder& e) : e_(e) {}
  absl::StatusOr<std::vector<std::vector<float>>> Encode(absl::Span<const std::string> t,
                                                         TextKind k) override {
    return e_.Encode(t, k);
  }
  std::vector<int32_t> Tokenize(std::string_view t, TextKind k) const override {
    return e_.Tokenize(t, k);
  }
  const Tokenizer& tokenizer() const override { return e_.tokenizer(); }
  int dimension() const override { return e_.dimension(); }
  const std::string& name() const override { return e_.name(); }

 private:
  Encoder& e_;
};

struct LoadResult {
  double qps = 0, p50_ms = 0, p99_ms = 0;
};

// `callers` threads each encode one catalog text at a time for `seconds`.
LoadResult RunCallers(Encoder& encoder, int callers, double seconds) {
  const std::vector<std::string> texts = CatalogTexts();
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(callers);
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      size_t i = c * 7;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = std::chrono::steady_clock::now();
        auto v = encoder.Encode({texts[i++ % texts.size()]}, TextKind::kQuery);
        const auto t1 = std::chrono::steady_clock::now();
        if (v.ok()) lat[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  LoadResult r;
  if (all.empty()) return r;
  r.qps = all.size() / elapsed;
  r.p50_ms = all[all.size() / 2];
  r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

void BM_64CallersBatchingVsBatch1(benchmark::State& state) {
  constexpr int kCallers = 64;
  for (auto _ : state) {
    Borrowed direct(Model());
    const LoadResult batch1 = RunCallers(direct, kCallers, 3.0);
    BatchingEncoder::Options o;  // the server's defaults
    auto batcher = BatchingEncoder::Create(o, std::make_unique<Borrowed>(Model()));
    const LoadResult batched = RunCallers(**batcher, kCallers, 3.0);
    const EncoderStats s = (*batcher)->stats();
    state.counters["batch1_qps"] = batch1.qps;
    state.counters["batch1_p50_ms"] = batch1.p50_ms;
    state.counters["batch1_p99_ms"] = batch1.p99_ms;
    state.counters["batched_qps"] = batched.qps;
    state.counters["batched_p50_ms"] = batched.p50_ms;
    state.counters["batched_p99_ms"] = batched.p99_ms;
    state.counters["throughput_ratio"] = batch1.qps > 0 ? batched.qps / batch1.qps : 0;
    state.counters["mean_batch"] = s.batches ? double(s.batched_texts) / s.batches : 0;
  }
}
BENCHMARK(BM_64CallersBatchingVsBatch1)->Iterations(1)->Unit(benchmark::kSecond);

void BM_QueryCacheHit(benchmark::State& state) {
  CachingEncoder cache({}, std::make_unique<Borrowed>(Model()));
  const std::vector<std::string> query = {"a space opera about a lost fleet"};
  (void)cache.Encode(query, TextKind::kQuery);  // miss, then every call hits
  std::vector<double> ns;
  ns.reserve(1 << 20);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto v = cache.Encode(query, TextKind::kQuery);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(v);
    if (ns.size() < ns.capacity()) ns.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(ns.begin(), ns.end());
  if (!ns.empty()) {
    state.counters["p50_us"] = ns[ns.size() / 2];
    state.counters["p99_us"] = ns[ns.size() * 99 / 100];
  }
}
BENCHMARK(BM_QueryCacheHit);

}  // namespace
}  // namespace semrec

BENCHMARK_MAIN();
