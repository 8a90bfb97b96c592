// semrec-server: flags -> ServerOptions, logging, signals. Everything else is ServerApp.
#include <sched.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/config_file.h"
#include "server/logging.h"
#include "server/server_app.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, config, "",
          "File of `name = value` lines setting these flags (# comments; a mounted ConfigMap); "
          "flags on the command line win over it");
ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC listen address host:port (0.0.0.0:50051 in containers; port 0 picks one)");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9090",
          "HTTP address for /metrics (Prometheus), /healthz and /readyz; empty turns it off");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM server certificate chain; with --tls_key_file the gRPC port serves TLS");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key for --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle for client certificates; set: mutual TLS (needs --tls_cert_file/--tls_key_file)");
ABSL_FLAG(bool, tls_require_client_cert, true,
          "with --tls_client_ca_file: refuse clients without a certificate (false: verify one only "
          "when presented)");
ABSL_FLAG(std::string, api_token_file, "",
          "File whose trimmed content is the bearer token required by UpsertItems, DeleteItems and "
          "DeleteUser; empty: no token");
ABSL_FLAG(std::string, model_dir, "data/models/demo",
          "Encoder folder with manifest.json (tools/make_test_encoder.py, tools/export_hf_encoder.py)");
ABSL_FLAG(std::string, device, "auto", "Encoder device: auto, cpu, cuda or cuda:N");
ABSL_FLAG(std::string, precision, "fp32", "Encoder precision on CUDA: fp32, fp16 or bf16");
ABSL_FLAG(int, torch_threads, 1,
          "libtorch intra-op threads per forward pass (0 = number of cores); 1 suits serving");
ABSL_FLAG(int, encoder_batch_size, 64,
          "Texts per forward pass for bulk calls (catalog embedding), which bypass the batcher");
ABSL_FLAG(int, batch_max_size, 32, "Dynamic batching: texts per shared forward pass");
ABSL_FLAG(absl::Duration, batch_max_wait, absl::ZeroDuration(),
          "Dynamic batching: how long a queued text waits for others (0: a pass starts as soon "
          "as an encoder worker is free; texts arriving meanwhile are batched)");
ABSL_FLAG(int, encoder_workers, 2, "Threads running forward passes (about the number of cores)");
ABSL_FLAG(int, encoder_queue, 8192, "Texts waiting for the encoder at most (then RESOURCE_EXHAUSTED)");
ABSL_FLAG(int64_t, embedding_cache_bytes, 64 << 20, "LRU cache of query embeddings (0: off)");
ABSL_FLAG(std::string, catalog_file, "",
          "JSON Lines catalog imported at start-up when the catalog is empty (e.g. examples/catalog.jsonl)");
ABSL_FLAG(std::string, data_dir, "",
          "Directory for the write-ahead log and snapshots; empty: state lives only in memory");
ABSL_FLAG(std::string, fsync, "always",
          "always: every write is fsync'ed before it is acknowledged (concurrent writes share one "
          "sync); periodic: written at once, fsync'ed every --fsync_interval");
ABSL_FLAG(absl::Duration, fsync_interval, absl::Milliseconds(100),
          "With --fsync=periodic: time between fsyncs (what a power loss may lose)");
ABSL_FLAG(absl::Duration, snapshot_interval, absl::Minutes(10),
          "Time between background snapshots (0: only on shutdown, after DeleteUser, and when the "
          "log outgrows --snapshot_log_bytes)");
ABSL_FLAG(int64_t, snapshot_log_bytes, int64_t{256} << 20,
          "Write a snapshot as soon as the write-ahead log holds this many bytes");
ABSL_FLAG(std::string, user_store, "memory",
          "Where user profiles live: memory (this process), or "
          "redis://[[user]:password@]host:port[/db] (shared by every replica using that Redis)");
ABSL_FLAG(int64_t, user_hot_profiles, 50000,
          "With the memory user store: profiles kept in fp32, the most recently written; the "
          "others are held compact (int8 vectors, about a fifth of the memory). 0: all compact");
ABSL_FLAG(int, redis_pool_size, 8, "With a Redis user store: connections per process");
ABSL_FLAG(absl::Duration, redis_timeout, absl::Milliseconds(500),
          "With a Redis user store: per-command timeout (and connect timeout); past it the call "
          "answers UNAVAILABLE, and Recommend degrades");
ABSL_FLAG(absl::Duration, redis_profile_ttl, absl::ZeroDuration(),
          "With a Redis user store: a profile expires this long after its last write (0: never)");
ABSL_FLAG(std::string, redis_key_prefix, "semrec",
          "With a Redis user store: prefix of every key (profiles, replication feed, snapshots); "
          "replicas sharing a catalog use the same prefix");
ABSL_FLAG(std::string, replica_dir, "",
          "With a Redis user store: scratch directory for snapshot files (empty: under $TMPDIR)");
ABSL_FLAG(int64_t, replication_snapshot_entries, 100000,
          "With a Redis user store: publish a snapshot after this many feed entries (and every "
          "--snapshot_interval)");
ABSL_FLAG(int, hnsw_m, 16, "HNSW graph degree M");
ABSL_FLAG(int, hnsw_ef_construction, 200, "HNSW ef at construction");
ABSL_FLAG(int, hnsw_ef_search, 64, "HNSW ef at search (at least k is used)");
ABSL_FLAG(int, index_write_nice, 10,
          "UpsertItems writes items into the HNSW index on a thread this much nicer (lower CPU "
          "priority) than the server, so searches get the CPU first (0..19; 0: the calling "
          "thread)");
ABSL_FLAG(int, index_insert_threads, 0,
          "Threads that insert a write's new items into the HNSW index together (each at the "
          "--index_write_nice priority); 0: one per CPU core the process may run on");
ABSL_FLAG(absl::Duration, user_half_life, absl::Hours(24 * 30),
          "Half-life of a user's interest by event time");
ABSL_FLAG(absl::Duration, popularity_half_life, absl::Hours(24 * 7),
          "Half-life of item popularity by event time");
ABSL_FLAG(double, rating_scale, 5.0, "RATING events carry values in [0, rating_scale]");
ABSL_FLAG(double, semantic_weight, 0.1, "HYBRID: weight of the semantic similarity");
ABSL_FLAG(double, collab_weight, 1.0, "HYBRID: weight of the collaborative score");
ABSL_FLAG(double, popularity_weight, 0.02, "HYBRID: weight of the popularity prior");
ABSL_FLAG(absl::Duration, collab_half_life, absl::Hours(1),
          "Co-occurrence: a pair's weight halves for every this much time between its two events");
ABSL_FLAG(int, history_items, 10,
          "Recent consumed items that pair with new events and seed collaborative candidates");
ABSL_FLAG(int, max_interests, 3, "Interest clusters per user (1 = a single interest vector)");
ABSL_FLAG(int, max_k, 1000, "Largest k a request may ask for");
ABSL_FLAG(int, max_threads, 0, "Max gRPC server threads (0 = gRPC default)");
ABSL_FLAG(int, idle_threads, 16,
          "gRPC threads kept waiting for calls between bursts (fewer: a thread is started and "
          "ended for most bursts of concurrent calls, which costs latency)");
ABSL_FLAG(int, max_inflight_requests, 0,
          "Recommend, SimilarItems, Feedback, UpsertItems and Embed calls in flight at most; "
          "beyond, RESOURCE_EXHAUSTED at once (0: 2 x encoder_workers x batch_max_size, and "
          "below --max_threads when set)");
ABSL_FLAG(int, max_message_bytes, 16 << 20, "Max gRPC message size in bytes");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT: time in-flight calls get to finish");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");
ABSL_FLAG(std::string, log_format, "text",
          "text, or json: one JSON object per line (time, level, logger, msg) for log collectors");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("semrec-server: online recommendations over gRPC.\n"
                               "  semrec-server --model_dir=DIR [--catalog_file=items.jsonl]");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built with its debug checks, so by default every Mutex acquisition also
  // records the lock-order graph to detect deadlock cycles: about a third of a 10-event Feedback's
  // CPU (benchmarks/engine_benchmark, SEMREC_BENCH_DEADLOCK_DETECTION=1). The tests keep the checks
  // (they never run this main), so lock-order inversions are still caught there.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  semrec::AppliedConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto applied = semrec::ApplyConfigFile(path, argc, argv);
    if (!applied.ok()) {
      std::fprintf(stderr, "semrec-server: %s\n", std::string(applied.status().message()).c_str());
      return 2;
    }
    config = std::move(applied).value();
  }
  if (auto s = semrec::ConfigureLogging(absl::GetFlag(FLAGS_log_format),
                                        absl::GetFlag(FLAGS_log_level));
      !s.ok()) {
    std::fprintf(stderr, "semrec-server: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (!absl::GetFlag(FLAGS_config).empty()) {
    spdlog::info("config {}: {} settings applied, {} kept from the command line{}{}",
                 absl::GetFlag(FLAGS_config), config.set.size(), config.kept.size(),
                 config.kept.empty() ? "" : ": ", absl::StrJoin(config.kept, ", "));
  }

  // Signals are taken synchronously by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  semrec::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.http_address = absl::GetFlag(FLAGS_http_listen);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  options.tls.require_client_cert = absl::GetFlag(FLAGS_tls_require_client_cert);
  options.api_token_file = absl::GetFlag(FLAGS_api_token_file);
  options.encoder.model_dir = absl::GetFlag(FLAGS_model_dir);
  options.encoder.device = absl::GetFlag(FLAGS_device);
  options.encoder.precision = absl::GetFlag(FLAGS_precision);
  options.encoder.intra_op_threads = absl::GetFlag(FLAGS_torch_threads);
  options.encoder.max_batch_size = absl::GetFlag(FLAGS_encoder_batch_size);
  options.batching.max_batch_size = absl::GetFlag(FLAGS_batch_max_size);
  options.batching.max_wait = absl::GetFlag(FLAGS_batch_max_wait);
  options.batching.workers = absl::GetFlag(FLAGS_encoder_workers);
  options.batching.max_queued_texts = absl::GetFlag(FLAGS_encoder_queue);
  options.batching.bulk_threshold = absl::GetFlag(FLAGS_encoder_batch_size);
  const int64_t cache_bytes = absl::GetFlag(FLAGS_embedding_cache_bytes);
  options.embedding_cache.capacity_bytes = cache_bytes > 0 ? static_cast<size_t>(cache_bytes) : 0;
  options.catalog_file = absl::GetFlag(FLAGS_catalog_file);
  options.durability.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (const std::string fsync = absl::GetFlag(FLAGS_fsync); fsync == "always") {
    options.durability.fsync = semrec::WalSync::kAlways;
  } else if (fsync == "periodic") {
    options.durability.fsync = semrec::WalSync::kPeriodic;
  } else {
    std::fprintf(stderr, "semrec-server: --fsync must be always or periodic (got \"%s\")\n",
                 fsync.c_str());
    return 2;
  }
  options.durability.fsync_interval = absl::GetFlag(FLAGS_fsync_interval);
  options.durability.snapshot_interval = absl::GetFlag(FLAGS_snapshot_interval);
  options.durability.snapshot_log_bytes =
      static_cast<uint64_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_snapshot_log_bytes)));
  if (const std::string store = absl::GetFlag(FLAGS_user_store); store.rfind("redis://", 0) == 0) {
    options.redis_user_store.redis.url = store;
    options.redis_user_store.redis.pool_size =
        static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_redis_pool_size)));
    options.redis_user_store.redis.command_timeout = absl::GetFlag(FLAGS_redis_timeout);
    options.redis_user_store.redis.connect_timeout = absl::GetFlag(FLAGS_redis_timeout);
    options.redis_user_store.profile_ttl = absl::GetFlag(FLAGS_redis_profile_ttl);
    options.redis_user_store.key_prefix = absl::GetFlag(FLAGS_redis_key_prefix);
    options.replication.work_dir = absl::GetFlag(FLAGS_replica_dir);
    options.replication.snapshot_interval = absl::GetFlag(FLAGS_snapshot_interval);
    options.replication.snapshot_entries =
        static_cast<uint64_t>(std::max<int64_t>(1, absl::GetFlag(FLAGS_replication_snapshot_entries)));
  } else if (store != "memory") {
    std::fprintf(stderr,
                 "semrec-server: --user_store must be memory or redis://host:port (got \"%s\")\n",
                 store.c_str());
    return 2;
  }
  if (const int64_t hot = absl::GetFlag(FLAGS_user_hot_profiles); hot >= 0) {
    options.memory_user_store.hot_profiles = static_cast<size_t>(hot);
  } else {
    std::fprintf(stderr, "semrec-server: --user_hot_profiles must be 0 or more (got %lld)\n",
                 static_cast<long long>(hot));
    return 2;
  }
  options.index.m = absl::GetFlag(FLAGS_hnsw_m);
  options.index.ef_construction = absl::GetFlag(FLAGS_hnsw_ef_construction);
  options.index.ef_search = absl::GetFlag(FLAGS_hnsw_ef_search);
  options.engine.index_write_nice = absl::GetFlag(FLAGS_index_write_nice);
  if (const int threads = absl::GetFlag(FLAGS_index_insert_threads); threads > 0) {
    options.index.insert_threads = threads;
  } else if (threads == 0) {
    cpu_set_t cpus;
    options.index.insert_threads =
        sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? std::max(1, CPU_COUNT(&cpus)) : 1;
  } else {
    std::fprintf(stderr, "semrec-server: --index_insert_threads must be 0 or more (got %d)\n",
                 threads);
    return 2;
  }
  options.engine.user.half_life_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_user_half_life));
  options.engine.popularity_half_life_seconds =
      absl::ToDoubleSeconds(absl::GetFlag(FLAGS_popularity_half_life));
  options.engine.user.rating_scale = static_cast<float>(absl::GetFlag(FLAGS_rating_scale));
  options.engine.max_k = absl::GetFlag(FLAGS_max_k);
  options.engine.semantic_weight = static_cast<float>(absl::GetFlag(FLAGS_semantic_weight));
  options.engine.collab_weight = static_cast<float>(absl::GetFlag(FLAGS_collab_weight));
  options.engine.popularity_weight = static_cast<float>(absl::GetFlag(FLAGS_popularity_weight));
  options.engine.collab.pair_half_life_seconds =
      absl::ToDoubleSeconds(absl::GetFlag(FLAGS_collab_half_life));
  options.engine.history_items = absl::GetFlag(FLAGS_history_items);
  options.engine.user.max_interests = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_interests)));
  options.max_threads = absl::GetFlag(FLAGS_max_threads);
  options.idle_threads = absl::GetFlag(FLAGS_idle_threads);
  options.max_inflight_requests = absl::GetFlag(FLAGS_max_inflight_requests);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);

  auto app = semrec::ServerApp::Create(options);
  if (!app.ok()) {
    spdlog::critical("cannot start: {}", app.status().ToString());
    return 1;
  }
  if (auto s = (*app)->LoadCatalog(); !s.ok()) {
    spdlog::critical("cannot load the catalog: {}", s.ToString());
    (*app)->Shutdown(absl::ZeroDuration());
    return 1;
  }
  std::printf("semrec-server listening on %s\n", (*app)->address().c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {} received: draining for up to {}", sig,
               absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_grace)));
  (*app)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  return 0;
}
