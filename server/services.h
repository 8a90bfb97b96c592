// The gRPC services semrec.v1.Recommender and semrec.v1.Catalog: each method converts the proto
// request to core types, calls the Engine and converts the answer back. Expensive methods
// (Recommend, SimilarItems, Feedback, Embed, UpsertItems) first take an admission ticket and
// hand the caller's deadline and cancellation to the engine's stages (core/common/deadline.h).
//
//   RecommenderService recommender(engine, token, admission);
//   builder.RegisterService(&recommender);
//
// Thread-safe: stateless beyond the (thread-safe) Engine and AdmissionControl.
#ifndef SEMREC_SERVER_SERVICES_H_
#define SEMREC_SERVER_SERVICES_H_

#include "core/engine/engine.h"
#include "server/admission.h"
#include "server/auth.h"
#include "semrec/v1/semrec.grpc.pb.h"

namespace semrec {

class RecommenderService final : public v1::Recommender::Service {
 public:
  // `token` guards DeleteUser (nothing is checked when no token is configured). `engine` and
  // `admission` must outlive the service.
  RecommenderService(Engine& engine, ApiToken token, AdmissionControl& admission)
      : engine_(engine), token_(std::move(token)), admission_(admission) {}

  grpc::Status Recommend(grpc::ServerContext* ctx, const v1::RecommendRequest* req,
                         v1::RecommendResponse* resp) override;
  grpc::Status Feedback(grpc::ServerContext* ctx, const v1::FeedbackRequest* req,
                        v1::FeedbackResponse* resp) override;
  grpc::Status SimilarItems(grpc::ServerContext* ctx, const v1::SimilarItemsRequest* req,
                            v1::RecommendResponse* resp) override;
  grpc::Status Embed(grpc::ServerContext* ctx, const v1::EmbedRequest* req,
                     v1::EmbedResponse* resp) override;
  grpc::Status GetUser(grpc::ServerContext* ctx, const v1::GetUserRequest* req,
                       v1::GetUserResponse* resp) override;
  grpc::Status DeleteUser(grpc::ServerContext* ctx, const v1::DeleteUserRequest* req,
                          v1::DeleteUserResponse* resp) override;

 private:
  Engine& engine_;
  const ApiToken token_;
  AdmissionControl& admission_;
};

class CatalogService final : public v1::Catalog::Service {
 public:
  // `token` guards UpsertItems and DeleteItems (nothing is checked when none is configured).
  // `engine` and `admission` must outlive the service.
  CatalogService(Engine& engine, ApiToken token, AdmissionControl& admission)
      : engine_(engine), token_(std::move(token)), admission_(admission) {}

  grpc::Status UpsertItems(grpc::ServerContext* ctx, const v1::UpsertItemsRequest* req,
                           v1::UpsertItemsResponse* resp) override;
  grpc::Status DeleteItems(grpc::ServerContext* ctx, const v1::DeleteItemsRequest* req,
                           v1::DeleteItemsResponse* resp) override;
  grpc::Status GetItem(grpc::ServerContext* ctx, const v1::GetItemRequest* req,
                       v1::GetItemResponse* resp) override;
  grpc::Status Stats(grpc::ServerContext* ctx, const v1::StatsRequest* req,
                     v1::StatsResponse* resp) override;

 private:
  Engine& engine_;
  const ApiToken token_;
  AdmissionControl& admission_;
};

}  // namespace semrec

#endif  // SEMREC_SERVER_SERVICES_H_
