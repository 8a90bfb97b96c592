// Engine: semrec's use cases (Recommend, Feedback, SimilarItems, Embed, user and catalog
// operations) over an Encoder, an ItemIndex and a UserStore. Validates every request and answers
// with absl::Status codes that map one to one onto gRPC's; has no gRPC types.
//
//   ASSIGN_OR_RETURN(auto engine, Engine::Create(options, std::move(encoder), std::move(index),
//                                                std::move(users)));
//   ASSIGN_OR_RETURN(auto recs, engine->Recommend({.user_id = "u1", .k = 10}));
//
// Thread-safe: all methods may be called concurrently.
#ifndef SEMREC_CORE_ENGINE_ENGINE_H_
#define SEMREC_CORE_ENGINE_ENGINE_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/catalog/item_catalog.h"
#include "core/collab/co_occurrence.h"
#include "core/common/niced_worker.h"
#include "core/encoder/encoder.h"
#include "core/engine/state_codec.h"
#include "core/index/item_index.h"
#include "core/metrics/registry.h"
#include "core/replication/change_feed.h"
#include "core/storage/snapshot_dir.h"
#include "core/storage/write_ahead_log.h"
#include "core/user/user_store.h"

namespace semrec {

struct EngineOptions {
  UserModelOptions user;
  double popularity_half_life_seconds = 7 * 86400.0;
  // Recommend target = normalized sum of these weights times each present part's unit vector.
  float user_weight = 1.0f;
  float query_weight = 1.0f;
  float context_weight = 1.0f;
  // HYBRID score = semantic_weight * cosine(target, item) (in [-1, 1])
  //              + collab_weight * collaborative score (in [0, 1]: the seeds' weighted mean
  //                neighbour similarity)
  //              + popularity_weight * popularity prior (log popularity / log max, in [0, 1]).
  // Defaults: collaborative evidence, where there is some, dominates; semantic similarity covers
  // cold users and items and breaks ties; popularity is a small prior (see README).
  float semantic_weight = 0.1f;
  // Semantic weight when the request has a query: a typed query is explicit intent and leads.
  float query_semantic_weight = 1.0f;
  float collab_weight = 1.0f;
  float popularity_weight = 0.02f;
  CoOccurrenceOptions collab;
  int history_items = 10;           // recent consumed items that seed collaborative candidates
  int candidates_per_source = 200;  // semantic (HNSW) and collaborative candidates per request
  int popular_candidates = 50;      // trending items added to HYBRID's pool
  // Limits on requests (start-up only).
  int max_k = 1000;
  size_t max_id_bytes = 256;
  size_t max_text_bytes = 16 * 1024;
  size_t max_events_per_request = 1000;
  size_t max_items_per_upsert = 1000;
  size_t max_texts_per_embed = 256;
  size_t max_list_size = 1000;  // context ids, filter lists, delete ids
  size_t max_categories_per_item = 64;
  size_t max_attributes_per_item = 64;
  // UpsertItems writes new and changed items into the index on a thread this much nicer than the
  // process (NicedWorker): an HNSW insert takes ~2 ms of CPU at 1M items, and on a busy machine
  // the searches it runs beside should get the CPU first. A write's new items are inserted
  // together with the index's own insert threads, started from that thread, so just as nice.
  // 0: in the calling thread. Start-up only.
  int index_write_nice = 10;

  absl::Status Validate() const;
};

// Durability of the embedded default: a write-ahead log and snapshots under `data_dir`.
struct DurabilityOptions {
  std::string data_dir;  // <data_dir>/wal and <data_dir>/snapshots; created if missing
  // kAlways: every write is fdatasync'ed before it is acknowledged (concurrent writes share one
  // sync). kPeriodic: written to the OS at once, fdatasync'ed every `fsync_interval`.
  WalSync fsync = WalSync::kAlways;
  absl::Duration fsync_interval = absl::Milliseconds(100);
  // Background snapshots: every `snapshot_interval` (zero: none) and as soon as the log holds
  // more than `snapshot_log_bytes`. Snapshots are also written on shutdown and after DeleteUser.
  absl::Duration snapshot_interval = absl::Minutes(10);
  uint64_t snapshot_log_bytes = 256ull << 20;
  uint64_t log_segment_bytes = 64ull << 20;

  absl::Status Validate() const;
};

// Replication between replicas that share a Redis: every catalog write goes through the feed and
// is applied by every replica in feed order; Feedback's collaborative and popularity signals are
// published to it by the user store (atomically with the profile) and learned by every replica.
struct ReplicationOptions {
  std::shared_ptr<ChangeFeed> feed;
  std::string replica_id;  // unique per process (entries it appended are answered to its callers)
  std::string work_dir;    // local scratch for snapshot files (created; emptied at start)
  // The replica holding the snapshot lease publishes a snapshot every `snapshot_interval` (zero:
  // never) or after `snapshot_entries` entries, whichever comes first.
  absl::Duration snapshot_interval = absl::Minutes(10);
  uint64_t snapshot_entries = 100000;
  // A catalog write waits at most this long (or until its deadline) for its entry to come back
  // from the feed and be applied here, then answers UNAVAILABLE (the entry is applied later).
  absl::Duration write_timeout = absl::Seconds(10);

  absl::Status Validate() const;
};

struct ReplicationReport {
  bool from_snapshot = false;
  std::string snapshot_position;
  size_t items = 0;
  absl::Duration duration;
};

struct ReplicationStatus {
  bool enabled = false;
  bool connected = false;  // the last read of the feed succeeded
  bool broken = false;     // entries this replica needs are gone: it must restart
  std::string applied;     // position of the last applied entry
  int64_t entries_applied = 0;
  double lag_seconds = 0;  // age of the oldest entry not yet applied (0: caught up)
};

struct RecoveryReport {
  bool from_snapshot = false;
  uint64_t snapshot_lsn = 0;
  uint64_t records_replayed = 0;
  uint64_t torn_bytes_cut = 0;  // a torn log tail (a crash mid-write) that was cut off
  size_t items = 0;
  size_t users = 0;
  absl::Duration duration;
};

struct SnapshotReport {
  uint64_t lsn = 0;         // the snapshot holds every write up to this log record
  std::string path;
  bool written = false;     // false: nothing had changed since the last snapshot
  bool catalog_reused = false;  // the catalog was unchanged and its files were linked, not rewritten
  absl::Duration duration;
};

struct DeleteUserResult {
  bool deleted = false;             // false: the user was unknown
  bool erased_from_storage = false; // the snapshot and log no longer hold the user
  std::string message;              // says what was erased where
};

struct ItemFilter {
  std::vector<std::string> include_categories;
  std::vector<std::string> exclude_categories;
  std::vector<std::string> exclude_item_ids;
  bool include_seen = false;
};

enum class Reason { kNone, kUserInterest, kQuery, kContext, kPopular, kSimilarItem, kCollaborative };

enum class Strategy { kHybrid, kContent, kCollaborative, kPopular };

// How much an event says the user consumed the item (for co-occurrence and collaborative seeds):
// positive for every kind of consumption, whatever the rating, 0 for DISLIKE and SKIP.
float ConsumptionWeight(EventType type, float value, float rating_scale);

struct Recommendation {
  std::string item_id;
  float score = 0;
  // With explain only:
  std::string explanation;
  Reason reason = Reason::kNone;
  std::string source_item_id;
  std::shared_ptr<const Item> item;  // always set (callers decide whether to return it)
};

// How a Recommend was answered, besides its items.
struct RecommendInfo {
  // Non-empty: the answer is degraded (the user store could not be read, so the user's profile
  // was left out) and this says why.
  std::string degraded;
};

struct RecommendRequest {
  std::string user_id;
  std::string query;
  std::vector<std::string> context_item_ids;
  int k = 10;
  ItemFilter filter;
  float diversity = 0;
  float novelty = 0;
  bool explain = false;
  Strategy strategy = Strategy::kHybrid;
};

struct SimilarItemsRequest {
  std::string item_id;
  int k = 10;
  ItemFilter filter;
  bool explain = false;
};

enum class EventOutcome { kApplied, kDuplicate, kItemNotFound };
struct EventResult {
  EventOutcome outcome = EventOutcome::kApplied;
  std::string message;
};

struct UpsertResult {
  int created = 0;
  int updated = 0;
  int unchanged = 0;
};

struct DeleteItemsResult {
  int deleted = 0;
  std::vector<std::string> not_found;
};

struct EmbedResult {
  std::vector<float> values;
  std::vector<int32_t> token_ids;
  std::vector<std::string> tokens;
};

struct UserSummary {
  std::shared_ptr<const UserProfile> profile;
  std::vector<Recommendation> nearest_items;
  float interest_norm = 0;
};

struct ItemInfo {
  std::shared_ptr<const Item> item;
  double popularity = 0;
};

struct EngineStats {
  size_t items = 0;
  size_t users = 0;
  size_t compact_users = 0;  // of users, those whose profile is held compact (int8)
  int64_t events_applied = 0;
  int dimension = 0;
  std::string model;
  int64_t uptime_seconds = 0;
  EncoderStats encoder;
};

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const EngineOptions& options,
                                                        std::unique_ptr<Encoder> encoder,
                                                        std::unique_ptr<ItemIndex> index,
                                                        std::unique_ptr<UserStore> users);

  // Items for the user / query / context items; with none of them, the most popular items.
  // When the user store is unavailable, answers from the query, the context items and trending
  // items without the user's profile (info->degraded says so) rather than failing.
  absl::StatusOr<std::vector<Recommendation>> Recommend(const RecommendRequest& request,
                                                        RecommendInfo* info = nullptr) const;
  // One result per event, in input order. INVALID_ARGUMENT (nothing applied) for a malformed event;
  // an unknown item is reported per event and the other events are applied.
  absl::StatusOr<std::vector<EventResult>> Feedback(const std::string& user_id,
                                                    std::vector<Event> events);
  absl::StatusOr<std::vector<Recommendation>> SimilarItems(const SimilarItemsRequest& request) const;
  absl::StatusOr<std::vector<EmbedResult>> Embed(const std::vector<std::string>& texts,
                                                 TextKind kind, bool return_tokens) const;
  // NOT_FOUND for a user without events.
  absl::StatusOr<UserSummary> GetUser(const std::string& user_id, int nearest_k) const;
  // Erases the user from memory and, with durable state, from disk: a new snapshot without the
  // user is written and the older snapshots and log segments holding their events are deleted.
  absl::StatusOr<DeleteUserResult> DeleteUser(const std::string& user_id);

  // `embeddings`: empty, or one per item, each empty (the text is embedded) or a precomputed
  // embedding of the encoder's dimension (normalized here; the text is not embedded).
  absl::StatusOr<UpsertResult> UpsertItems(std::vector<Item> items,
                                           std::vector<std::vector<float>> embeddings = {});
  absl::StatusOr<DeleteItemsResult> DeleteItems(const std::vector<std::string>& ids);
  absl::StatusOr<ItemInfo> GetItem(const std::string& id) const;
  EngineStats Stats() const;

  // Makes the engine durable: loads the latest snapshot under options.data_dir, replays the
  // write-ahead log after it, then logs every write before acknowledging it and snapshots in the
  // background. Call once, before serving and before any write. FAILED_PRECONDITION when the data
  // directory was written with a model of another dimension; DATA_LOSS when it is corrupt beyond
  // a torn log tail.
  absl::StatusOr<RecoveryReport> OpenDurableState(const DurabilityOptions& options);
  // Writes a snapshot now and deletes the older snapshot and log segments (a no-op when nothing
  // changed since the last one). FAILED_PRECONDITION without durable state.
  absl::StatusOr<SnapshotReport> Snapshot();
  bool durable() const { return wal_ != nullptr; }

  // Makes this engine a replica: loads the feed's latest snapshot, then applies the feed in the
  // background; catalog writes go through the feed from now on. Call once, before serving and
  // before any write; needs a user store that publishes changes (Redis). Not with
  // OpenDurableState (the feed and Redis hold the state).
  absl::StatusOr<ReplicationReport> OpenReplication(const ReplicationOptions& options);
  // Waits until every entry in the feed when it is called has been applied here (a replica is
  // NOT_SERVING until then). DEADLINE_EXCEEDED after `timeout`.
  absl::Status CatchUp(absl::Duration timeout);
  ReplicationStatus replication_status() const;
  bool replicated() const { return feed_ != nullptr; }

  ~Engine();

  // Exports per-stage latency histograms (semrec_stage_duration_seconds{stage}: store, encode,
  // ann, rank, index_write) into `registry`. Call once, before serving.
  void ExportStageMetrics(metrics::Registry& registry);
  // Exports the write-ahead log and snapshot metrics (fsync latency, log size, snapshot age and
  // duration). Call once, after OpenDurableState and before serving.
  void ExportStorageMetrics(metrics::Registry& registry);
  // Exports the replication metrics (entries applied, lag, feed reachable, snapshots published).
  // Call once, after OpenReplication and before serving.
  void ExportReplicationMetrics(metrics::Registry& registry);

  const EngineOptions& options() const { return options_; }
  const Encoder& encoder() const { return *encoder_; }

 private:
  enum Stage { kStore, kEncode, kAnn, kRank, kIndexWrite, kLog, kStageCount };
  // Observes the time from construction to destruction in the stage's histogram, if exported.
  class StageTimer {
   public:
    StageTimer(const Engine& engine, Stage stage)
        : histogram_(engine.stage_latency_[stage]),
          start_(histogram_ ? std::chrono::steady_clock::now()
                            : std::chrono::steady_clock::time_point()) {}
    ~StageTimer() {
      if (histogram_) {
        histogram_->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
      }
    }

   private:
    metrics::Histogram* const histogram_;
    const std::chrono::steady_clock::time_point start_;
  };

  struct CollabSeed {
    std::string item_id;
    float weight;
  };
  // One part of the Recommend target, kept for explanations.
  struct TargetPart {
    Reason reason;
    float weight;
    std::vector<float> vector;
  };
  std::vector<CollabSeed> RecentConsumption(const UserProfile& profile) const;
  bool PassesCategories(const ItemFilter& filter, std::string_view id) const;
  void Explain(const RecommendRequest& req, const std::vector<TargetPart>& parts,
               const std::vector<std::pair<std::string, std::vector<float>>>& context,
               const std::vector<std::pair<const RecentEvent*, std::vector<float>>>& liked,
               const std::vector<float>& vec, float semantic, float collab,
               const std::string& collab_source, float popularity, Recommendation& r) const;

  Engine(const EngineOptions& options, std::unique_ptr<Encoder> encoder,
         std::unique_ptr<ItemIndex> index, std::unique_ptr<UserStore> users);

  absl::Status ValidateId(const std::string& id, const char* field) const;
  absl::Status ValidateFilter(const ItemFilter& filter) const;
  absl::Status ValidateK(int k) const;
  std::vector<Recommendation> PopularItems(int k, const ItemIndex::Accept& accept) const;

  // Write application, shared by the live path and log replay. Callers hold state_mu_ (shared)
  // and, for catalog writes, catalog_write_mu_.
  // `vectors[i]` empty: item i keeps its current vector.
  absl::Status ApplyUpsert(std::vector<Item> items, const std::vector<std::vector<float>>& vectors,
                           UpsertResult* result);
  DeleteItemsResult ApplyDeleteItems(const std::vector<std::string>& ids);
  // Applies resolved events (in event-time order); returns per event whether it was applied
  // (false: a duplicate event_id). `to_user_store` false (replay over a store that keeps its
  // profiles itself): only the collaborative model and popularity learn from them.
  absl::StatusOr<std::vector<bool>> ApplyFeedback(const std::string& user_id,
                                                  const std::vector<ResolvedEvent>& events,
                                                  bool to_user_store = true);
  // The user's recent consumption before new events (newest first), as they pair with them.
  std::vector<SignalPast> HistoryOf(const UserProfile* before) const;
  std::vector<SignalPast> HistoryOf(const std::vector<RecentEvent>& recent) const;
  // Teaches the collaborative model and popularity the applied events, given the history.
  void Learn(std::vector<SignalPast> history, absl::Span<const SignalEvent> events);
  // Replication: appends a catalog record to the feed and waits until it is applied here;
  // returns the apply's outcome.
  struct FeedOutcome {
    absl::Status status;
    UpsertResult upsert;
    DeleteItemsResult deleted;
  };
  absl::StatusOr<FeedOutcome> ReplicateWrite(const std::string& record);
  void ReplicationLoop();
  void ApplyFeedEntry(const FeedEntry& entry);
  absl::StatusOr<std::optional<std::string>> PublishSnapshot();
  // Appends a record to the write-ahead log (no-op without durable state).
  absl::Status Log(const std::string& record);
  absl::Status ReplayRecord(std::string_view payload);
  absl::Status LoadSnapshot(const SnapshotInfo& snapshot);
  // Writes a snapshot under `root` (snapshot-<lsn>): the state is captured under state_mu_ held
  // exclusively, where `capture_lsn` names the position it covers.
  absl::StatusOr<SnapshotReport> SnapshotLocked(
      const std::string& root, const std::function<absl::StatusOr<uint64_t>()>& capture_lsn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(snapshot_mu_);
  void SnapshotLoop();

  const EngineOptions options_;
  const std::unique_ptr<Encoder> encoder_;
  const std::unique_ptr<ItemIndex> index_;
  NicedWorker index_writer_;  // runs UpsertItems' index writes (options_.index_write_nice)
  const std::unique_ptr<UserStore> users_;
  ItemCatalog catalog_;
  PopularityTracker popularity_;
  CoOccurrenceModel collab_;
  // Serializes the apply phase of catalog writes (index + catalog), never held while encoding.
  // Lock order: catalog_write_mu_, then state_mu_.
  absl::Mutex catalog_write_mu_;
  // Every write holds it shared from its log append to the end of its apply; a snapshot holds it
  // exclusively while it captures the in-memory state, which is then exactly the state after the
  // last logged record.
  absl::Mutex state_mu_;
  std::atomic<uint64_t> catalog_version_{0};  // bumped by every applied catalog write

  // Durable state (all null / empty without OpenDurableState, and set before serving).
  DurabilityOptions durability_;
  std::unique_ptr<WriteAheadLog> wal_;
  absl::Mutex snapshot_mu_;  // one snapshot at a time
  std::optional<SnapshotInfo> last_snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
  uint64_t last_snapshot_catalog_version_ ABSL_GUARDED_BY(snapshot_mu_) = 0;
  std::vector<std::string> last_snapshot_catalog_files_ ABSL_GUARDED_BY(snapshot_mu_);
  std::atomic<int64_t> last_snapshot_unix_us_{0};
  absl::Notification stop_snapshots_;
  std::thread snapshot_thread_;
  std::atomic<metrics::Histogram*> wal_sync_latency_{nullptr};  // read by the log's threads
  metrics::Histogram* snapshot_latency_ ABSL_GUARDED_BY(snapshot_mu_) = nullptr;
  metrics::Counter* snapshot_failures_ ABSL_GUARDED_BY(snapshot_mu_) = nullptr;
  std::atomic<int64_t> events_applied_{0};

  // Replication (null / empty without OpenReplication).
  ReplicationOptions replication_;
  std::shared_ptr<ChangeFeed> feed_;
  mutable absl::Mutex feed_mu_;
  FeedPosition applied_ ABSL_GUARDED_BY(feed_mu_);  // changed under state_mu_ (shared) too
  absl::flat_hash_map<std::string, FeedOutcome> outcomes_ ABSL_GUARDED_BY(feed_mu_);  // ours
  std::atomic<bool> feed_connected_{false};
  std::atomic<bool> feed_broken_{false};
  std::atomic<int64_t> feed_entries_applied_{0};
  std::atomic<int64_t> feed_lag_us_{0};
  std::atomic<uint64_t> entries_since_snapshot_{0};
  std::atomic<metrics::Counter*> feed_entries_counter_{nullptr};
  std::thread replication_thread_;
  absl::Notification stop_replication_;
  std::atomic<metrics::Counter*> degraded_responses_{nullptr};  // set before serving
  metrics::Histogram* stage_latency_[kStageCount] = {};  // set before serving; null: not exported
  const std::chrono::steady_clock::time_point started_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENGINE_ENGINE_H_
