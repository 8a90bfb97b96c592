#include "server/server_metrics.h"

#include <chrono>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/logger.h"
#include "server/admission.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "OTHER";
  }
}

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("rpc");
  return logger;
}

std::string NewRequestId() {
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
}

// Per RPC: a request id (the client's x-request-id, or a new one, echoed in the response's
// initial metadata), the latency from creation to the moment the status is sent, the metrics,
// and a log line (debug; warning for server-side failures). Never logs request contents.
class RpcInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(ServerMetrics& metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      if (auto* md = methods->GetRecvInitialMetadata()) {
        auto it = md->find("x-request-id");
        if (it != md->end() && it->second.size() <= 128) {
          request_id_.assign(it->second.data(), it->second.size());
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (auto* md = methods->GetSendInitialMetadata()) md->emplace("x-request-id", RequestId());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      grpc::Status status = methods->GetSendStatus();
      // gRPC answers a request that protobuf cannot parse (in proto3 mostly: a string field that
      // is not valid UTF-8) with INTERNAL and an empty message before any handler runs. That is
      // the client's input, not a server fault: say so. semrec's own errors always have a
      // message, so an empty INTERNAL can only be this.
      if (status.error_code() == grpc::StatusCode::INTERNAL && status.error_message().empty()) {
        status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "the request could not be parsed: every string field must be valid "
                              "UTF-8 and every field of the expected type");
        methods->ModifySendStatus(status);
      }
      metrics_.RecordRpc(method_, status.error_code(), seconds);
      const grpc::StatusCode code = status.error_code();
      if (code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN ||
          code == grpc::StatusCode::DATA_LOSS) {
        Logger()->warn("{} {} {:.3f}ms request_id={}: {}", method_, CodeName(code), seconds * 1e3,
                       RequestId(), status.error_message());
      } else {
        Logger()->debug("{} {} {:.3f}ms request_id={}", method_, CodeName(code), seconds * 1e3,
                        RequestId());
      }
    }
    methods->Proceed();
  }

 private:
  const std::string& RequestId() {
    if (request_id_.empty()) request_id_ = NewRequestId();
    return request_id_;
  }

  ServerMetrics& metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  std::string request_id_;
};

class RpcInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(ServerMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    std::string method = info->method() ? info->method() : "unknown";
    if (!method.empty() && method[0] == '/') method.erase(0, 1);
    return new RpcInterceptor(metrics_, std::move(method));
  }

 private:
  ServerMetrics& metrics_;
};

template <typename T>
metrics::Family<T>* MustRegister(metrics::Registry& registry, const std::string& name,
                                 const std::string& help) {
  // Names are constants of this file: a failure is a programming error caught by the tests.
  return registry.Register<T>(name, help).value();
}

}  // namespace

ServerMetrics::ServerMetrics()
    : requests_(MustRegister<metrics::Counter>(registry_, "semrec_grpc_requests_total",
                                               "gRPC requests by method and status code.")),
      latency_(MustRegister<metrics::Histogram>(registry_, "semrec_grpc_request_duration_seconds",
                                                "gRPC request latency by method.")) {
  MustRegister<metrics::Gauge>(registry_, "semrec_build_info", "semrec version.")
      ->Add({{"version", SEMREC_VERSION}})
      .Set(1);
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
ServerMetrics::InterceptorFactories() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<RpcInterceptorFactory>(*this));
  return out;
}

void ServerMetrics::RecordRpc(const std::string& method, grpc::StatusCode code, double seconds) {
  const int slot = code >= 0 && code < kCodes ? static_cast<int>(code) : kCodes;
  metrics::Histogram* latency;
  metrics::Counter* requests;
  {
    absl::MutexLock lock(&series_mu_);
    std::unique_ptr<MethodSeries>& series = series_[method];
    if (!series) {
      series = std::make_unique<MethodSeries>();
      series->latency = &latency_->Add({{"method", method}}, metrics::DefaultLatencyBuckets());
    }
    if (!series->requests[slot]) {
      series->requests[slot] = &requests_->Add({{"method", method}, {"code", CodeName(code)}});
    }
    latency = series->latency;
    requests = series->requests[slot];
  }
  requests->Increment();
  latency->Observe(seconds);
}

void ServerMetrics::WatchEngine(const Engine& engine) {
  // Engine state read at every scrape: gauges are set, counters advance by the difference since
  // the previous scrape (they only move forward).
  struct Exported {
    const char* name;
    const char* help;
    bool counter;
    int64_t (*value)(const EngineStats&);
  };
  static constexpr Exported kExported[] = {
      {"semrec_items", "Items in the catalog.", false,
       [](const EngineStats& s) { return static_cast<int64_t>(s.items); }},
      {"semrec_users", "Users with a profile.", false,
       [](const EngineStats& s) { return static_cast<int64_t>(s.users); }},
      {"semrec_compact_users",
       "Users whose profile is held compact (int8 vectors): all but the --user_hot_profiles most "
       "recently written.",
       false, [](const EngineStats& s) { return static_cast<int64_t>(s.compact_users); }},
      {"semrec_uptime_seconds", "Seconds since the engine started.", false,
       [](const EngineStats& s) { return s.uptime_seconds; }},
      {"semrec_events_applied_total", "Feedback events applied.", true,
       [](const EngineStats& s) { return s.events_applied; }},
      {"semrec_encoder_batches_total", "Shared forward passes run by the batcher.", true,
       [](const EngineStats& s) { return s.encoder.batches; }},
      {"semrec_encoder_batched_texts_total", "Texts in the batcher's forward passes.", true,
       [](const EngineStats& s) { return s.encoder.batched_texts; }},
      {"semrec_encoder_bulk_calls_total", "Large encode calls that bypassed the batcher.", true,
       [](const EngineStats& s) { return s.encoder.bulk_calls; }},
      {"semrec_encoder_rejected_total", "Encode calls refused: the queue was full.", true,
       [](const EngineStats& s) { return s.encoder.rejected; }},
      {"semrec_encoder_expired_total",
       "Encode calls answered DEADLINE_EXCEEDED unencoded: their deadline passed in the queue.",
       true, [](const EngineStats& s) { return s.encoder.expired; }},
      {"semrec_encoder_cancelled_total",
       "Encode calls answered CANCELLED unencoded: their caller went away.", true,
       [](const EngineStats& s) { return s.encoder.cancelled; }},
      {"semrec_encoder_queue_texts", "Texts waiting for the encoder.", false,
       [](const EngineStats& s) { return s.encoder.queued_texts; }},
      {"semrec_embedding_cache_hits_total", "Query embeddings served from the cache.", true,
       [](const EngineStats& s) { return s.encoder.cache_hits; }},
      {"semrec_embedding_cache_misses_total", "Query embeddings computed by the model.", true,
       [](const EngineStats& s) { return s.encoder.cache_misses; }},
      {"semrec_embedding_cache_bytes", "Bytes held by the query embedding cache.", false,
       [](const EngineStats& s) { return s.encoder.cache_bytes; }},
  };
  std::vector<std::pair<const Exported*, metrics::Counter*>> counters;
  std::vector<std::pair<const Exported*, metrics::Gauge*>> gauges;
  for (const Exported& e : kExported) {
    if (e.counter) {
      counters.emplace_back(&e, &MustRegister<metrics::Counter>(registry_, e.name, e.help)->Add({}));
    } else {
      gauges.emplace_back(&e, &MustRegister<metrics::Gauge>(registry_, e.name, e.help)->Add({}));
    }
  }
  registry_.AddCollector([&engine, counters, gauges] {
    const EngineStats s = engine.Stats();
    for (const auto& [e, gauge] : gauges) gauge->Set(static_cast<double>(e->value(s)));
    for (const auto& [e, counter] : counters) {
      const double now = static_cast<double>(e->value(s));
      if (now > counter->Value()) counter->Increment(now - counter->Value());
    }
  });
}

void ServerMetrics::WatchAdmission(const AdmissionControl& admission) {
  metrics::Counter* rejected =
      &MustRegister<metrics::Counter>(
           registry_, "semrec_overload_rejected_total",
           "Requests refused with RESOURCE_EXHAUSTED: --max_inflight_requests were in flight.")
           ->Add({});
  metrics::Gauge* inflight =
      &MustRegister<metrics::Gauge>(registry_, "semrec_inflight_requests",
                                    "Requests in flight that count against the admission limit.")
           ->Add({});
  MustRegister<metrics::Gauge>(registry_, "semrec_max_inflight_requests",
                               "The admission limit (--max_inflight_requests).")
      ->Add({})
      .Set(admission.max_inflight());
  registry_.AddCollector([&admission, rejected, inflight] {
    inflight->Set(admission.inflight());
    const double now = static_cast<double>(admission.rejected());
    if (now > rejected->Value()) rejected->Increment(now - rejected->Value());
  });
}

}  // namespace semrec
