#include "server/services.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/common/deadline.h"
#include "server/convert.h"
#include "server/status_util.h"

namespace semrec {
namespace {

constexpr int kDefaultK = 10;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The caller's deadline; absl::InfiniteFuture() when it set none.
absl::Time DeadlineOf(const grpc::ServerContext& ctx) {
  const std::chrono::system_clock::time_point deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// Calls younger than this are not polled for cancellation (their deadline is still checked).
constexpr absl::Duration kCancellationCheckAfter = absl::Milliseconds(5);

// For the length of an expensive call: its admission ticket, and its caller's deadline and
// cancellation for the engine's stages on this thread.
class ExpensiveCall {
 public:
  ExpensiveCall(AdmissionControl& admission, grpc::ServerContext* ctx)
      : ticket_(admission.TryAdmit()),
        deadline_(DeadlineOf(*ctx), [ctx, start = absl::Now()] {
          // IsCancelled() polls the completion queue (a system call): worth it only for a call
          // that has run long enough for its caller to give up; short ones finish anyway.
          return absl::Now() - start > kCancellationCheckAfter && ctx->IsCancelled();
        }) {}

  // OK, or RESOURCE_EXHAUSTED when the server is overloaded (answer it at once).
  const absl::Status& admission() const { return ticket_.status(); }

 private:
  absl::StatusOr<AdmissionControl::Ticket> ticket_;
  ScopedDeadline deadline_;
};

}  // namespace

grpc::Status RecommenderService::Recommend(grpc::ServerContext* ctx,
                                           const v1::RecommendRequest* req,
                                           v1::RecommendResponse* resp) {
  ExpensiveCall call(admission_, ctx);
  if (!call.admission().ok()) return ToGrpcStatus(call.admission());
  RecommendRequest r;
  r.user_id = req->user_id();
  r.query = req->query();
  r.context_item_ids.assign(req->context_item_ids().begin(), req->context_item_ids().end());
  r.k = req->has_k() ? req->k() : kDefaultK;
  r.filter = FilterFromProto(req->filter());
  r.diversity = req->diversity();
  r.novelty = req->novelty();
  r.explain = req->explain();
  switch (req->strategy()) {
    case v1::STRATEGY_UNSPECIFIED:
    case v1::HYBRID:
      r.strategy = Strategy::kHybrid;
      break;
    case v1::CONTENT:
      r.strategy = Strategy::kContent;
      break;
    case v1::COLLABORATIVE:
      r.strategy = Strategy::kCollaborative;
      break;
    case v1::POPULAR:
      r.strategy = Strategy::kPopular;
      break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("strategy ", req->strategy(),
                                       " is unknown; use HYBRID, CONTENT, COLLABORATIVE or POPULAR"));
  }
  RecommendInfo info;
  auto recs = engine_.Recommend(r, &info);
  if (!recs.ok()) return ToGrpcStatus(recs.status());
  RecommendationsToProto(*recs, req->include_items(), resp);
  resp->set_degraded(std::move(info.degraded));
  return grpc::Status::OK;
}

grpc::Status RecommenderService::Feedback(grpc::ServerContext* ctx, const v1::FeedbackRequest* req,
                                          v1::FeedbackResponse* resp) {
  ExpensiveCall call(admission_, ctx);
  if (!call.admission().ok()) return ToGrpcStatus(call.admission());
  auto events = EventsFromProto(req->events(), NowMicros());
  if (!events.ok()) return ToGrpcStatus(events.status());
  auto results = engine_.Feedback(req->user_id(), std::move(events).value());
  if (!results.ok()) return ToGrpcStatus(results.status());
  int applied = 0;
  for (size_t i = 0; i < results->size(); ++i) {
    const EventResult& r = (*results)[i];
    v1::EventResult* out = resp->add_results();
    out->set_index(static_cast<int32_t>(i));
    out->set_event_id(req->events(static_cast<int>(i)).event_id());
    switch (r.outcome) {
      case EventOutcome::kApplied:
        out->set_outcome(v1::APPLIED);
        ++applied;
        break;
      case EventOutcome::kDuplicate:
        out->set_outcome(v1::DUPLICATE);
        break;
      case EventOutcome::kItemNotFound:
        out->set_outcome(v1::ITEM_NOT_FOUND);
        break;
    }
    out->set_message(r.message);
  }
  resp->set_applied(applied);
  return grpc::Status::OK;
}

grpc::Status RecommenderService::SimilarItems(grpc::ServerContext* ctx,
                                              const v1::SimilarItemsRequest* req,
                                              v1::RecommendResponse* resp) {
  ExpensiveCall call(admission_, ctx);
  if (!call.admission().ok()) return ToGrpcStatus(call.admission());
  SimilarItemsRequest r;
  r.item_id = req->item_id();
  r.k = req->has_k() ? req->k() : kDefaultK;
  r.filter = FilterFromProto(req->filter());
  r.explain = req->explain();
  auto recs = engine_.SimilarItems(r);
  if (!recs.ok()) return ToGrpcStatus(recs.status());
  RecommendationsToProto(*recs, req->include_items(), resp);
  return grpc::Status::OK;
}

grpc::Status RecommenderService::Embed(grpc::ServerContext* ctx, const v1::EmbedRequest* req,
                                       v1::EmbedResponse* resp) {
  ExpensiveCall call(admission_, ctx);
  if (!call.admission().ok()) return ToGrpcStatus(call.admission());
  if (!v1::TextKind_IsValid(req->kind())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("kind ", req->kind(), " is not QUERY or DOCUMENT"));
  }
  const TextKind kind = req->kind() == v1::DOCUMENT ? TextKind::kDocument : TextKind::kQuery;
  std::vector<std::string> texts(req->texts().begin(), req->texts().end());
  auto result = engine_.Embed(texts, kind, req->return_tokens());
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const auto& e : *result) {
    v1::Embedding* out = resp->add_embeddings();
    out->mutable_values()->Add(e.values.begin(), e.values.end());
    out->mutable_token_ids()->Add(e.token_ids.begin(), e.token_ids.end());
    for (const auto& t : e.tokens) out->add_tokens(t);
  }
  resp->set_dimension(engine_.encoder().dimension());
  resp->set_model(engine_.encoder().name());
  return grpc::Status::OK;
}

grpc::Status RecommenderService::GetUser(grpc::ServerContext*, const v1::GetUserRequest* req,
                                         v1::GetUserResponse* resp) {
  auto summary = engine_.GetUser(req->user_id(), req->nearest_k() == 0 ? 5 : req->nearest_k());
  if (!summary.ok()) return ToGrpcStatus(summary.status());
  const UserProfile& p = *summary->profile;
  resp->set_user_id(req->user_id());
  resp->set_event_count(p.event_count);
  resp->set_seen_count(static_cast<int64_t>(p.seen.size()));
  TimestampToProto(p.last_event_us, resp->mutable_last_event_time());
  for (const RecentEvent& e : p.recent) {
    v1::UserEvent* out = resp->add_recent_events();
    out->set_item_id(e.item_id);
    out->set_type(EventTypeToProto(e.type));
    out->set_value(e.value);
    TimestampToProto(e.timestamp_us, out->mutable_timestamp());
  }
  for (const auto& r : summary->nearest_items) {
    ScoredItemToProto(r, /*include_items=*/false, resp->add_interest_nearest_items());
  }
  resp->set_interest_norm(summary->interest_norm);
  return grpc::Status::OK;
}

grpc::Status RecommenderService::DeleteUser(grpc::ServerContext* ctx,
                                            const v1::DeleteUserRequest* req,
                                            v1::DeleteUserResponse* resp) {
  if (absl::Status s = token_.Check(*ctx); !s.ok()) return ToGrpcStatus(s);
  auto deleted = engine_.DeleteUser(req->user_id());
  if (!deleted.ok()) return ToGrpcStatus(deleted.status());
  resp->set_deleted(deleted->deleted);
  resp->set_erased_from_storage(deleted->erased_from_storage);
  resp->set_message(deleted->deleted
                        ? absl::StrCat("user '", req->user_id(), "' was ", deleted->message)
                        : absl::StrCat("user '", req->user_id(), "' was not known"));
  return grpc::Status::OK;
}

grpc::Status CatalogService::UpsertItems(grpc::ServerContext* ctx,
                                         const v1::UpsertItemsRequest* req,
                                         v1::UpsertItemsResponse* resp) {
  if (absl::Status s = token_.Check(*ctx); !s.ok()) return ToGrpcStatus(s);
  ExpensiveCall call(admission_, ctx);
  if (!call.admission().ok()) return ToGrpcStatus(call.admission());
  std::vector<Item> items;
  std::vector<std::vector<float>> embeddings;
  items.reserve(req->items_size());
  for (const auto& p : req->items()) {
    items.push_back(ItemFromProto(p));
    if (p.embedding_size() > 0) {
      embeddings.resize(req->items_size());
      embeddings[items.size() - 1].assign(p.embedding().begin(), p.embedding().end());
    }
  }
  auto result = engine_.UpsertItems(std::move(items), std::move(embeddings));
  if (!result.ok()) return ToGrpcStatus(result.status());
  resp->set_created(result->created);
  resp->set_updated(result->updated);
  resp->set_unchanged(result->unchanged);
  return grpc::Status::OK;
}

grpc::Status CatalogService::DeleteItems(grpc::ServerContext* ctx,
                                         const v1::DeleteItemsRequest* req,
                                         v1::DeleteItemsResponse* resp) {
  if (absl::Status s = token_.Check(*ctx); !s.ok()) return ToGrpcStatus(s);
  std::vector<std::string> ids(req->ids().begin(), req->ids().end());
  auto result = engine_.DeleteItems(ids);
  if (!result.ok()) return ToGrpcStatus(result.status());
  resp->set_deleted(result->deleted);
  for (const auto& id : result->not_found) resp->add_not_found(id);
  return grpc::Status::OK;
}

grpc::Status CatalogService::GetItem(grpc::ServerContext*, const v1::GetItemRequest* req,
                                     v1::GetItemResponse* resp) {
  auto info = engine_.GetItem(req->id());
  if (!info.ok()) return ToGrpcStatus(info.status());
  ItemToProto(*info->item, resp->mutable_item());
  resp->set_popularity(info->popularity);
  return grpc::Status::OK;
}

grpc::Status CatalogService::Stats(grpc::ServerContext*, const v1::StatsRequest*,
                                   v1::StatsResponse* resp) {
  EngineStats s = engine_.Stats();
  resp->set_items(static_cast<int64_t>(s.items));
  resp->set_users(static_cast<int64_t>(s.users));
  resp->set_events_applied(s.events_applied);
  resp->set_dimension(s.dimension);
  resp->set_model(s.model);
  resp->set_version(SEMREC_VERSION);
  resp->set_uptime_seconds(s.uptime_seconds);
  v1::EncoderStats* e = resp->mutable_encoder();
  e->set_batches(s.encoder.batches);
  e->set_batched_texts(s.encoder.batched_texts);
  e->set_bulk_calls(s.encoder.bulk_calls);
  e->set_rejected(s.encoder.rejected);
  e->set_queued_texts(s.encoder.queued_texts);
  e->set_cache_hits(s.encoder.cache_hits);
  e->set_cache_misses(s.encoder.cache_misses);
  e->set_cache_entries(s.encoder.cache_entries);
  e->set_cache_bytes(s.encoder.cache_bytes);
  return grpc::Status::OK;
}

}  // namespace semrec
