// gRPC Recommend end to end against the transport's own cost: an empty unary RPC
// (grpc.health.v1.Health/Check) to the same in-process server over the same channel.
//
//   cmake --build build --target grpc_benchmark
//   SEMREC_BENCH_N=20000 nice build/benchmarks/grpc_benchmark   # N: catalog size (default 20000)
//
// The server is the real ServerApp on 127.0.0.1, port 0 (the demo encoder the integration tests
// use, default options: HNSW M=16, ef_construction=200, ef_search=64), loaded through the
// generated Catalog stub with N items carrying precomputed 384-d embeddings (drawn around N/100
// topic centres, as in engine_benchmark.cc), and 1000 users who each liked 5 items of one topic
// through Feedback. Clients share one channel; each benchmark runs with 1 caller (latency) and
// 2 and 8 concurrent callers (throughput), timed in real time:
//   BM_HealthCheck          the baseline: an empty request, a 2-byte answer;
//   BM_RecommendUser        a known user, k=10, the default (HYBRID) strategy;
//   BM_RecommendUserContent the same user, CONTENT (semantic only);
//   BM_RecommendItemsOnly   no user, one context item, k=10, HYBRID.
// The end prints each Recommend's latency and throughput next to the health check's, and the
// difference: what the server's Recommend costs beyond the transport.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "benchmarks/recording_reporter.h"
#include "benchmarks/synthetic_vectors.h"
#include "semrec/v1/semrec.grpc.pb.h"
#include "server/testing/demo_server.h"

namespace semrec {
namespace {

using bench::EnvInt;

constexpr int kDim = 384;  // the demo encoder's
constexpr int kK = 10;
constexpr int kItemsPerTopic = 100;
constexpr int kUsers = 1000;
constexpr int kLikesPerUser = 5;

std::string ItemId(int i) { return absl::StrCat("item-", i); }
std::string UserId(int u) { return absl::StrCat("user-", u); }

void Check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "set-up failed: %s\n", what.c_str());
  std::exit(1);
}

struct Setup {
  int n = EnvInt("SEMREC_BENCH_N", 20000);
  std::unique_ptr<ServerApp> app;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Recommender::Stub> recommender;
  // The generated stubs register their methods with the channel; so does the baseline's.
  std::unique_ptr<grpc::internal::RpcMethod> health_check;

  Setup() {
    const auto start = std::chrono::steady_clock::now();
    ServerOptions options = DemoServerOptions();
    options.catalog_file.clear();  // the catalog comes through UpsertItems below
    auto created = ServerApp::Create(options);
    Check(created.ok(), created.status().ToString());
    app = std::move(created).value();
    Check(app->LoadCatalog().ok(), "LoadCatalog");
    channel = grpc::CreateChannel(app->address(), grpc::InsecureChannelCredentials());
    recommender = v1::Recommender::NewStub(channel);
    health_check = std::make_unique<grpc::internal::RpcMethod>(
        "/grpc.health.v1.Health/Check", grpc::internal::RpcMethod::NORMAL_RPC, channel);
    Check(HealthCheck().ok(), "health check");

    const int topics = std::max(1, n / kItemsPerTopic);
    const std::vector<float> vectors = bench::TopicVectors(n, topics, kDim);
    std::mt19937 rng(1);
    auto catalog = v1::Catalog::NewStub(channel);
    for (int first = 0; first < n; first += 1000) {
      v1::UpsertItemsRequest req;
      for (int i = first; i < std::min(n, first + 1000); ++i) {
        v1::Item* item = req.add_items();
        item->set_id(ItemId(i));
        item->set_text(absl::StrCat("synthetic item ", i));
        item->mutable_embedding()->Add(&vectors[size_t(i) * kDim], &vectors[size_t(i + 1) * kDim]);
      }
      grpc::ClientContext ctx;
      v1::UpsertItemsResponse resp;
      grpc::Status s = catalog->UpsertItems(&ctx, req, &resp);
      Check(s.ok(), "UpsertItems: " + s.error_message());
    }
    const double catalog_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // Users: 10 per topic, so the collaborative model has neighbours to offer.
    const int user_topics = std::min(topics, std::max(1, kUsers / 10));
    std::uniform_int_distribution<int> in_topic(0, std::max(0, n / topics - 1));
    for (int u = 0; u < kUsers; ++u) {
      v1::FeedbackRequest req;
      req.set_user_id(UserId(u));
      for (int e = 0; e < kLikesPerUser; ++e) {
        v1::Event* event = req.add_events();
        event->set_item_id(ItemId(u % user_topics + in_topic(rng) * topics));
        event->set_type(v1::LIKE);
      }
      grpc::ClientContext ctx;
      v1::FeedbackResponse resp;
      grpc::Status s = recommender->Feedback(&ctx, req, &resp);
      Check(s.ok(), "Feedback: " + s.error_message());
    }
    std::fprintf(stderr,
                 "set-up: server on %s, %d items (%d topics) loaded through UpsertItems in %.1f s, "
                 "%d users, %.1f s in all\n",
                 app->address().c_str(), n, topics, catalog_s, kUsers,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  ~Setup() { app->Shutdown(absl::Seconds(1)); }

  // Health/Check for the whole server: an empty request (service ""); SERVING answers 08 01.
  grpc::Status HealthCheck() const {
    grpc::ClientContext ctx;
    static const grpc::Slice kEmpty;
    grpc::ByteBuffer request(&kEmpty, 1), response;
    grpc::Status s =
        grpc::internal::BlockingUnaryCall(channel.get(), *health_check, &ctx, request, &response);
    if (s.ok() && response.Length() != 2) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "unexpected health answer");
    }
    return s;
  }
};

Setup* setup = nullptr;

void BM_HealthCheck(benchmark::State& state) {
  for (auto _ : state) {
    grpc::Status s = setup->HealthCheck();
    if (!s.ok()) {
      state.SkipWithError(s.error_message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void RecommendLoop(benchmark::State& state, v1::Strategy strategy, bool user) {
  std::mt19937 rng(static_cast<uint32_t>(state.thread_index()));
  std::uniform_int_distribution<int> pick_user(0, kUsers - 1), pick_item(0, setup->n - 1);
  v1::RecommendRequest req;
  req.set_k(kK);
  req.set_strategy(strategy);
  for (auto _ : state) {
    if (user) {
      req.set_user_id(UserId(pick_user(rng)));
    } else {
      req.clear_context_item_ids();
      req.add_context_item_ids(ItemId(pick_item(rng)));
    }
    grpc::ClientContext ctx;
    v1::RecommendResponse resp;
    grpc::Status s = setup->recommender->Recommend(&ctx, req, &resp);
    if (!s.ok() || resp.items_size() != kK) {
      state.SkipWithError(s.ok() ? "fewer than k items" : s.error_message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RecommendUser(benchmark::State& state) { RecommendLoop(state, v1::HYBRID, true); }
void BM_RecommendUserContent(benchmark::State& state) { RecommendLoop(state, v1::CONTENT, true); }
void BM_RecommendItemsOnly(benchmark::State& state) { RecommendLoop(state, v1::HYBRID, false); }

BENCHMARK(BM_HealthCheck)->UseRealTime()->Threads(1)->Threads(2)->Threads(8);
BENCHMARK(BM_RecommendUser)->UseRealTime()->Threads(1)->Threads(2)->Threads(8);
BENCHMARK(BM_RecommendUserContent)->UseRealTime()->Threads(1)->Threads(2)->Threads(8);
BENCHMARK(BM_RecommendItemsOnly)->UseRealTime()->Threads(1)->Threads(2)->Threads(8);

// The console table, plus each run's calls/s (all callers together) by benchmark and callers.
void PrintRatios(const RecordingReporter& r) {
  for (const char* name :
       {"BM_RecommendUser", "BM_RecommendUserContent", "BM_RecommendItemsOnly"}) {
    for (int64_t threads : {1, 2, 8}) {
      const double rec = r.PerSecond(name, threads),
                   health = r.PerSecond("BM_HealthCheck", threads);
      if (rec == 0 || health == 0) continue;
      if (threads == 1) {
        std::printf("%-24s 1 caller:  %7.1f us per call = health check %6.1f us + %7.1f us\n", name,
                    1e6 / rec, 1e6 / health, 1e6 / rec - 1e6 / health);
      } else {
        // Per-call CPU the server and client spend, from throughput on saturated cores.
        std::printf(
            "%-24s %lld callers: %8.0f calls/s = %.3f x health check's %8.0f/s "
            "(%.1f us beyond it per call)\n",
            name, static_cast<long long>(threads), rec, rec / health, health,
            1e6 / rec - 1e6 / health);
      }
    }
  }
}

}  // namespace
}  // namespace semrec

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  spdlog::set_level(spdlog::level::warn);
  // As semrec-server's main does: no lock-order cycle checks on every Mutex acquisition.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  semrec::setup = new semrec::Setup();
  semrec::RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  semrec::PrintRatios(reporter);
  delete semrec::setup;
  benchmark::Shutdown();
  return 0;
}
