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
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/catalog/item_catalog.h"
#include "core/collab/co_occurrence.h"
#include "core/encoder/encoder.h"
#include "core/index/item_index.h"
#include "core/metrics/registry.h"
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

  absl::Status Validate() const;
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
  absl::StatusOr<std::vector<Recommendation>> Recommend(const RecommendRequest& request) const;
  // One result per event, in input order. INVALID_ARGUMENT (nothing applied) for a malformed event;
  // an unknown item is reported per event and the other events are applied.
  absl::StatusOr<std::vector<EventResult>> Feedback(const std::string& user_id,
                                                    std::vector<Event> events);
  absl::StatusOr<std::vector<Recommendation>> SimilarItems(const SimilarItemsRequest& request) const;
  absl::StatusOr<std::vector<EmbedResult>> Embed(const std::vector<std::string>& texts,
                                                 TextKind kind, bool return_tokens) const;
  // NOT_FOUND for a user without events.
  absl::StatusOr<UserSummary> GetUser(const std::string& user_id, int nearest_k) const;
  // Returns false when the user was unknown.
  absl::StatusOr<bool> DeleteUser(const std::string& user_id);

  absl::StatusOr<UpsertResult> UpsertItems(std::vector<Item> items);
  absl::StatusOr<DeleteItemsResult> DeleteItems(const std::vector<std::string>& ids);
  absl::StatusOr<ItemInfo> GetItem(const std::string& id) const;
  EngineStats Stats() const;

  // Exports per-stage latency histograms (semrec_stage_duration_seconds{stage}: store, encode,
  // ann, rank, index_write) into `registry`. Call once, before serving.
  void ExportStageMetrics(metrics::Registry& registry);

  const EngineOptions& options() const { return options_; }
  const Encoder& encoder() const { return *encoder_; }

 private:
  enum Stage { kStore, kEncode, kAnn, kRank, kIndexWrite, kStageCount };
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

  const EngineOptions options_;
  const std::unique_ptr<Encoder> encoder_;
  const std::unique_ptr<ItemIndex> index_;
  const std::unique_ptr<UserStore> users_;
  ItemCatalog catalog_;
  PopularityTracker popularity_;
  CoOccurrenceModel collab_;
  // Serializes the apply phase of catalog writes (index + catalog), never held while encoding.
  absl::Mutex catalog_write_mu_;
  std::atomic<int64_t> events_applied_{0};
  metrics::Histogram* stage_latency_[kStageCount] = {};  // set before serving; null: not exported
  const std::chrono::steady_clock::time_point started_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENGINE_ENGINE_H_
