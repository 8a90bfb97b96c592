// ServerApp: the assembled semrec server: encoder, index, user store and engine, the gRPC services
// plus grpc.health.v1 and reflection, listening on one address. Used by main.cc and by the
// integration tests (port 0).
//
//   ASSIGN_OR_RETURN(auto app, ServerApp::Create(options));   // listening, NOT_SERVING
//   RETURN_IF_ERROR(app->LoadCatalog());                      // imports, then SERVING
//   app->Shutdown(absl::Seconds(10));
//
// Thread-safe: Shutdown may be called from any thread, once.
#ifndef SEMREC_SERVER_SERVER_APP_H_
#define SEMREC_SERVER_SERVER_APP_H_

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/encoder/batching_encoder.h"
#include "core/encoder/caching_encoder.h"
#include "core/encoder/torch_encoder.h"
#include "core/engine/engine.h"
#include "core/index/hnsw_index.h"
#include "core/user/in_memory_user_store.h"
#include "core/user/redis_user_store.h"

namespace semrec {

class AdmissionControl;
class RecommenderService;
class CatalogService;
class ServerMetrics;
class HttpServer;

// TLS for the gRPC port. Fixed at start-up.
struct TlsOptions {
  std::string cert_file;  // PEM server certificate chain; with key_file: serve TLS
  std::string key_file;   // PEM private key of cert_file
  // PEM CA bundle for client certificates; set: mutual TLS (needs cert_file and key_file).
  std::string client_ca_file;
  // With client_ca_file: true refuses clients without a certificate; false verifies one only
  // when presented.
  bool require_client_cert = true;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

struct ServerOptions {
  std::string listen_address = "127.0.0.1:50051";  // host:port; port 0 picks a free one
  TorchEncoder::Options encoder;     // max_batch_size: texts per pass for bulk calls
  BatchingEncoder::Options batching;
  CachingEncoder::Options embedding_cache;
  HnswIndex::Options index;  // dimension comes from the encoder
  EngineOptions engine;
  // Write-ahead log and snapshots under durability.data_dir; empty data_dir: state lives only in
  // memory. Fixed at start-up.
  DurabilityOptions durability;
  // Where user profiles live: url empty, in this process (InMemoryUserStore, made durable by
  // durability.data_dir); a redis:// URL, in Redis, shared by every replica pointing at it.
  // Fixed at start-up.
  RedisUserStoreOptions redis_user_store;
  // In this process: how many profiles stay fp32 (the rest compact). Fixed at start-up.
  InMemoryUserStoreOptions memory_user_store;
  // With a Redis user store: the replication feed (catalog writes and Feedback signals shared by
  // every replica through the same Redis). work_dir empty: a directory under $TMPDIR. The feed,
  // replica id and snapshot interval are filled in by Create.
  ReplicationOptions replication;
  std::string catalog_file;  // JSONL imported by LoadCatalog() into an empty catalog; empty = none
  int import_batch_size = 256;
  int max_message_bytes = 16 << 20;
  int max_threads = 0;  // gRPC sync server threads; 0 = gRPC's default
  // gRPC threads kept waiting for calls between bursts (the sync server's MAX_POLLERS). gRPC's
  // own default, 2, makes it start and end a thread for nearly every burst of concurrent calls:
  // tens of thread creations per second under open-loop load, each an 8 MB stack mapped, faulted
  // and unmapped, which stalled calls by 20-50 ms on a 10 GB process. Fixed at start-up.
  int idle_threads = 16;
  // Expensive RPCs (Recommend, SimilarItems, Feedback, UpsertItems, Embed) in flight at most;
  // beyond, RESOURCE_EXHAUSTED at once. 0: MaxInflightRequests() derives it. Fixed at start-up.
  int max_inflight_requests = 0;
  // HTTP endpoint for /metrics, /healthz and /readyz ("host:port", port 0 picks one); empty: off.
  std::string http_address;
  TlsOptions tls;  // empty: plaintext
  // File whose content (trimmed) is the bearer token required by UpsertItems, DeleteItems and
  // DeleteUser; empty: no token. A file keeps the token out of `ps`. Fixed at start-up.
  std::string api_token_file;

  // Checks the options' shape; Create also reports unreadable TLS and token files.
  absl::Status Validate() const;
  // max_inflight_requests, or when 0: enough to keep every encoder worker's current and next
  // batch full (2 x workers x batch size), leaving one gRPC thread free when max_threads is set.
  int MaxInflightRequests() const;
};

class ServerApp {
 public:
  static absl::StatusOr<std::unique_ptr<ServerApp>> Create(const ServerOptions& options);
  ~ServerApp();

  // With replication, waits until the feed is applied (NOT_SERVING meanwhile); then imports
  // options.catalog_file when set and the catalog is empty, and reports SERVING.
  absl::Status LoadCatalog();
  // NOT_SERVING, stop accepting, let in-flight calls finish within `grace`, then cancel the rest;
  // with a data directory, write a final snapshot.
  void Shutdown(absl::Duration grace);
  void Wait();

  int port() const { return port_; }
  int http_port() const;
  std::string address() const;
  Engine& engine() { return *engine_; }

 private:
  ServerApp() = default;
  void SetServing(bool serving);
  // Health "liveness": SERVING while the process is healthy (it may be NOT_SERVING for traffic
  // while it starts or catches up); NOT_SERVING when only a restart can fix it.
  void SetAlive(bool alive);
  void WatchReplication();

  ServerOptions options_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<AdmissionControl> admission_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> alive_{true};
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<RecommenderService> recommender_;
  std::unique_ptr<CatalogService> catalog_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;
  std::thread replication_watch_;
  absl::Notification stop_watch_;
};

}  // namespace semrec

#endif  // SEMREC_SERVER_SERVER_APP_H_
