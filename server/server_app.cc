#include "server/server_app.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/catalog/catalog_io.h"
#include "core/common/logger.h"
#include "core/common/status_macros.h"
#include "absl/time/clock.h"
#include "core/replication/redis_change_feed.h"
#include "core/user/in_memory_user_store.h"
#include "core/user/redis_user_store.h"
#include "server/admission.h"
#include "server/auth.h"
#include "server/http/http_server.h"
#include "server/server_metrics.h"
#include "server/services.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("server");
  return logger;
}

constexpr const char* kServiceNames[] = {"semrec.v1.Recommender", "semrec.v1.Catalog"};
// Health name for liveness probes: SERVING from listening to shutdown unless only a restart helps.
constexpr char kLivenessName[] = "liveness";

// The whole of a PEM file; `what` names the option in errors.
absl::StatusOr<std::string> ReadPemFile(const char* what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (content.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": not a PEM file"));
  }
  return content.str();
}

// Plaintext, TLS, or mutual TLS for the gRPC port.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain,
                   ReadPemFile("TLS certificate file (--tls_cert_file)", tls.cert_file));
  ASSIGN_OR_RETURN(pair.private_key, ReadPemFile("TLS key file (--tls_key_file)", tls.key_file));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPemFile("TLS client CA file (--tls_client_ca_file)",
                                                     tls.client_ca_file));
    ssl.client_certificate_request =
        tls.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::Status ServerOptions::Validate() const {
  if (listen_address.empty() || listen_address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", listen_address, "\" must be host:port"));
  }
  if (import_batch_size < 1) return absl::InvalidArgumentError("import batch size must be >= 1");
  if (max_message_bytes < 1024) {
    return absl::InvalidArgumentError("max message size must be at least 1024 bytes");
  }
  if (max_threads < 0) return absl::InvalidArgumentError("max threads must be >= 0");
  if (idle_threads < 1) return absl::InvalidArgumentError("idle threads must be >= 1");
  if (max_inflight_requests < 0) {
    return absl::InvalidArgumentError("max in-flight requests must be >= 0 (0: derived)");
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate (--tls_cert_file) and its key (--tls_key_file)");
  }
  if (!tls.client_ca_file.empty() && !tls.enabled()) {
    return absl::InvalidArgumentError(
        "a client CA (--tls_client_ca_file) needs TLS: set --tls_cert_file and --tls_key_file");
  }
  RETURN_IF_ERROR(batching.Validate());
  if (!durability.data_dir.empty()) RETURN_IF_ERROR(durability.Validate());
  if (!redis_user_store.redis.url.empty()) {
    RETURN_IF_ERROR(redis_user_store.Validate());
    if (!durability.data_dir.empty()) {
      return absl::InvalidArgumentError(
          "a data directory (--data_dir) and a Redis user store exclude each other: replicas keep "
          "catalog, signals and profiles in Redis (make Redis durable instead, e.g. appendonly)");
    }
  }
  return engine.Validate();
}

int ServerOptions::MaxInflightRequests() const {
  if (max_inflight_requests > 0) return max_inflight_requests;
  int limit = 2 * batching.workers * batching.max_batch_size;
  if (max_threads > 0) limit = std::min(limit, max_threads - 1);
  return std::max(limit, 1);
}

ServerApp::~ServerApp() {
  if (server_) Shutdown(absl::ZeroDuration());
}

absl::StatusOr<std::unique_ptr<ServerApp>> ServerApp::Create(const ServerOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<ServerApp> app(new ServerApp());
  app->options_ = options;
  app->metrics_ = std::make_unique<ServerMetrics>();
  // Security first: a bad certificate or token file fails before the model loads.
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   MakeServerCredentials(options.tls));
  ApiToken token;
  if (!options.api_token_file.empty()) {
    ASSIGN_OR_RETURN(std::string value, ReadApiTokenFile(options.api_token_file));
    token = ApiToken(std::move(value));
  }

  // The encoder stack: query cache -> dynamic batcher -> TorchScript model.
  ASSIGN_OR_RETURN(std::unique_ptr<TorchEncoder> model, TorchEncoder::Create(options.encoder));
  const int dimension = model->dimension();
  ASSIGN_OR_RETURN(std::unique_ptr<BatchingEncoder> batcher,
                   BatchingEncoder::Create(options.batching, std::move(model)));
  auto encoder = std::make_unique<CachingEncoder>(options.embedding_cache, std::move(batcher));
  HnswIndex::Options index_options = options.index;
  index_options.dimension = dimension;
  ASSIGN_OR_RETURN(std::unique_ptr<HnswIndex> index, HnswIndex::Create(index_options));
  std::unique_ptr<UserStore> users;
  std::shared_ptr<ChangeFeed> feed;
  if (options.redis_user_store.redis.url.empty()) {
    users = std::make_unique<InMemoryUserStore>(options.engine.user, options.memory_user_store);
  } else {
    // One connection pool for the profiles and the feed. Redis must answer now: a replica
    // without it has neither catalog nor users (the orchestrator restarts it with back-off).
    ASSIGN_OR_RETURN(std::shared_ptr<const RedisClient> redis,
                     RedisClient::Create(options.redis_user_store.redis, "shared state"));
    ASSIGN_OR_RETURN(users,
                     RedisUserStore::Create(options.engine.user, options.redis_user_store, redis));
    ASSIGN_OR_RETURN(feed, RedisChangeFeed::Create(redis, options.redis_user_store.key_prefix));
  }
  ASSIGN_OR_RETURN(app->engine_, Engine::Create(options.engine, std::move(encoder),
                                                std::move(index), std::move(users)));
  if (feed) {
    ReplicationOptions replication = options.replication;
    replication.feed = feed;
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    replication.replica_id =
        absl::StrCat(host, "-", ::getpid(), "-", absl::ToUnixMicros(absl::Now()) % 1000000);
    if (replication.work_dir.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      replication.work_dir = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/semrec-",
                                          replication.replica_id);
    }
    ASSIGN_OR_RETURN(ReplicationReport report, app->engine_->OpenReplication(replication));
    Logger()->info("replica {}: {} items from {} in {:.2f}s; applying the feed {}:feed",
                   replication.replica_id, report.items,
                   report.from_snapshot ? absl::StrCat("the snapshot at ", report.snapshot_position)
                                        : std::string("no snapshot (empty feed)"),
                   absl::ToDoubleSeconds(report.duration), options.redis_user_store.key_prefix);
    app->engine_->ExportReplicationMetrics(app->metrics_->registry());
  }

  if (!options.durability.data_dir.empty()) {
    ASSIGN_OR_RETURN(RecoveryReport recovered, app->engine_->OpenDurableState(options.durability));
    Logger()->info(
        "recovered {} items and {} users from {} in {:.2f}s ({}, {} log records replayed{})",
        recovered.items, recovered.users, options.durability.data_dir,
        absl::ToDoubleSeconds(recovered.duration),
        recovered.from_snapshot ? absl::StrCat("snapshot ", recovered.snapshot_lsn) : "no snapshot",
        static_cast<unsigned long long>(recovered.records_replayed),
        recovered.torn_bytes_cut ? absl::StrCat(", torn tail of ", recovered.torn_bytes_cut,
                                                " bytes cut")
                                 : "");
    app->engine_->ExportStorageMetrics(app->metrics_->registry());
  }
  app->metrics_->WatchEngine(*app->engine_);
  app->engine_->ExportStageMetrics(app->metrics_->registry());
  app->admission_ = std::make_unique<AdmissionControl>(options.MaxInflightRequests());
  app->metrics_->WatchAdmission(*app->admission_);
  app->recommender_ = std::make_unique<RecommenderService>(*app->engine_, token, *app->admission_);
  app->catalog_ = std::make_unique<CatalogService>(*app->engine_, token, *app->admission_);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, credentials, &app->port_);
  builder.RegisterService(app->recommender_.get());
  builder.RegisterService(app->catalog_.get());
  builder.experimental().SetInterceptorCreators(app->metrics_->InterceptorFactories());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              std::min(2, options.idle_threads));
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              options.idle_threads);
  if (options.max_threads > 0) {
    grpc::ResourceQuota quota("semrec");
    quota.SetMaxThreads(options.max_threads);
    builder.SetResourceQuota(quota);
  }
  app->server_ = builder.BuildAndStart();
  if (!app->server_ || app->port_ == 0) {
    app->server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address, " (address in use or invalid)"));
  }
  app->SetServing(false);
  Logger()->info(
      "listening on {} ({}{}, at most {} requests in flight; health NOT_SERVING until the catalog "
      "is loaded)",
      app->address(),
      !options.tls.enabled()               ? "plaintext"
      : options.tls.client_ca_file.empty() ? "TLS"
                                           : "mutual TLS",
      token.required() ? ", API token required for writes" : "",
      app->admission_->max_inflight());
  if (!options.http_address.empty()) {
    HttpServer::Options http;
    http.address = options.http_address;
    ServerMetrics* metrics = app->metrics_.get();
    http.metrics = [metrics] { return metrics->registry().Serialize(); };
    ServerApp* self = app.get();
    http.ready = [self] { return self->serving_.load(); };
    auto server = HttpServer::Create(http);
    if (!server.ok()) {
      return absl::Status(server.status().code(),
                          absl::StrCat("metrics endpoint: ", server.status().message()));
    }
    app->http_ = std::move(server).value();
    Logger()->info("metrics on http://{}:{}/metrics", options.http_address.substr(0, options.http_address.rfind(':')),
                   app->http_->port());
  }
  return app;
}

std::string ServerApp::address() const {
  const std::string& a = options_.listen_address;
  return absl::StrCat(a.substr(0, a.rfind(':')), ":", port_);
}

int ServerApp::http_port() const { return http_ ? http_->port() : 0; }

void ServerApp::SetServing(bool serving) {
  serving_.store(serving);
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (!health) return;
  health->SetServingStatus(serving);  // overall ("") and every registered name
  for (const char* name : kServiceNames) health->SetServingStatus(name, serving);
  SetAlive(alive_.load());
}

void ServerApp::SetAlive(bool alive) {
  alive_.store(alive);
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health) health->SetServingStatus(kLivenessName, alive);
}

void ServerApp::WatchReplication() {
  while (!stop_watch_.WaitForNotificationWithTimeout(absl::Seconds(1))) {
    if (engine_->replication_status().broken && alive_.load()) {
      Logger()->error("the replica lost its place in the replication feed: NOT_SERVING, and "
                      "health service \"{}\" NOT_SERVING so that the orchestrator restarts it",
                      kLivenessName);
      SetServing(false);
      SetAlive(false);
    }
  }
}

absl::Status ServerApp::LoadCatalog() {
  if (engine_->replicated()) {
    const absl::Time start = absl::Now();
    // NOT_SERVING until every entry in the feed now is applied here.
    while (true) {
      absl::Status s = engine_->CatchUp(absl::Seconds(10));
      if (s.ok()) break;
      if (s.code() == absl::StatusCode::kDataLoss) return s;
      Logger()->info("catching up with the replication feed: {}", std::string(s.message()));
      if (!server_) return absl::CancelledError("shut down while catching up");
      if (s.code() != absl::StatusCode::kDeadlineExceeded) absl::SleepFor(absl::Seconds(1));
    }
    Logger()->info("caught up with the replication feed in {:.2f}s ({} items)",
                   absl::ToDoubleSeconds(absl::Now() - start), engine_->Stats().items);
    replication_watch_ = std::thread([this] { WatchReplication(); });
  }
  if (!options_.catalog_file.empty() && engine_->Stats().items == 0) {
    ASSIGN_OR_RETURN(CatalogReader reader, CatalogReader::Open(options_.catalog_file));
    const auto start = absl::Now();
    int64_t done = 0;
    while (true) {
      ASSIGN_OR_RETURN(std::vector<CatalogRecord> records,
                       reader.Next(static_cast<size_t>(options_.import_batch_size)));
      if (records.empty()) break;
      std::vector<Item> batch;
      std::vector<std::vector<float>> embeddings;
      batch.reserve(records.size());
      for (CatalogRecord& r : records) {
        if (!r.embedding.empty()) {
          embeddings.resize(records.size());
          embeddings[batch.size()] = std::move(r.embedding);
        }
        batch.push_back(std::move(r.item));
      }
      const int64_t n = static_cast<int64_t>(batch.size());
      auto result = engine_->UpsertItems(std::move(batch), std::move(embeddings));
      if (!result.ok()) {
        return absl::Status(result.status().code(),
                            absl::StrCat("importing ", options_.catalog_file, " (items ", done,
                                         "..", done + n, "): ", result.status().message()));
      }
      done += n;
    }
    Logger()->info("imported {} items from {} in {:.2f}s", done, options_.catalog_file,
                   absl::ToDoubleSeconds(absl::Now() - start));
  }
  SetServing(true);
  Logger()->info("SERVING with {} items", engine_->Stats().items);
  return absl::OkStatus();
}

void ServerApp::Shutdown(absl::Duration grace) {
  if (!server_) return;
  stop_watch_.Notify();
  if (replication_watch_.joinable()) replication_watch_.join();
  SetServing(false);
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(absl::ToInt64Milliseconds(grace)));
  server_->Wait();
  server_.reset();
  if (engine_->durable()) {
    // Every acknowledged write is in the log already; the snapshot makes the next start fast.
    absl::StatusOr<SnapshotReport> snapshot = engine_->Snapshot();
    if (snapshot.ok()) {
      Logger()->info("final snapshot {} in {}", static_cast<unsigned long long>(snapshot->lsn),
                     snapshot->path);
    }
  }
  if (http_) http_->Shutdown();
  Logger()->info("server stopped");
}

void ServerApp::Wait() {
  if (server_) server_->Wait();
}

}  // namespace semrec
