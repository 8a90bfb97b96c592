// ServerMetrics: the Prometheus metrics of a semrec server: per-RPC request counts by status
// code and latency (recorded by a gRPC interceptor on every method, health and reflection
// included), engine state read at scrape time (items, users, events, encoder batching and
// cache, build info), and admission control (requests in flight, refusals under overload).
//
//   auto metrics = std::make_unique<ServerMetrics>();
//   builder.experimental().SetInterceptorCreators(metrics->InterceptorFactories());
//   metrics->WatchEngine(engine);  std::string text = metrics->registry().Serialize();
//
// Thread-safe.
#ifndef SEMREC_SERVER_SERVER_METRICS_H_
#define SEMREC_SERVER_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/common/string_map.h"
#include "core/engine/engine.h"
#include "core/metrics/registry.h"

namespace semrec {

class AdmissionControl;

class ServerMetrics {
 public:
  ServerMetrics();

  // Interceptor factories for grpc::ServerBuilder (one shared factory).
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  InterceptorFactories();

  // Exports `engine`'s counts and its encoder's counters at every scrape. `engine` must outlive
  // the scrapes.
  void WatchEngine(const Engine& engine);
  // Exports `admission`'s requests in flight, its limit and its refusals at every scrape.
  // `admission` must outlive the scrapes.
  void WatchAdmission(const AdmissionControl& admission);

  void RecordRpc(const std::string& method, grpc::StatusCode code, double seconds);
  metrics::Registry& registry() { return registry_; }

 private:
  // One method's series, resolved once so that recording an RPC allocates nothing.
  static constexpr int kCodes = 17;  // grpc::StatusCode values 0..16
  struct MethodSeries {
    metrics::Histogram* latency = nullptr;
    std::array<metrics::Counter*, kCodes + 1> requests{};  // by code; the last is "OTHER"
  };

  metrics::Registry registry_;
  metrics::Family<metrics::Counter>* requests_;
  metrics::Family<metrics::Histogram>* latency_;
  absl::Mutex series_mu_;
  StringMap<std::unique_ptr<MethodSeries>> series_ ABSL_GUARDED_BY(series_mu_);
};

}  // namespace semrec

#endif  // SEMREC_SERVER_SERVER_METRICS_H_
