// The API token that guards writes: catalog writes (UpsertItems, DeleteItems) and DeleteUser need
// metadata `authorization: Bearer <token>` when a token is configured; reads stay open.
//
//   ASSIGN_OR_RETURN(std::string token, ReadApiTokenFile(options.api_token_file));
//   GuardedCatalogService guarded(catalog, ApiToken(token));
//   builder.RegisterService(&guarded);          // instead of `catalog`
//
// Thread-safe: ApiToken and the guarded services are immutable after construction.
//
// Why service decorators and not an interceptor: gRPC 1.51's experimental server interceptors
// cannot fail a call before the handler runs (the write would still be applied), and an
// AuthMetadataProcessor only runs with TLS credentials.
#ifndef SEMREC_SERVER_AUTH_H_
#define SEMREC_SERVER_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "semrec/v1/semrec.grpc.pb.h"

namespace semrec {

// Reads the token from `path`: the file's content trimmed of surrounding whitespace. An
// unreadable or blank file is INVALID_ARGUMENT naming the file.
absl::StatusOr<std::string> ReadApiTokenFile(const std::string& path);

// A configured bearer token; empty = nothing is checked.
class ApiToken {
 public:
  ApiToken() = default;
  explicit ApiToken(std::string token) : token_(std::move(token)) {}

  bool required() const { return !token_.empty(); }
  // OK when no token is required or the call carries `authorization: Bearer <token>`;
  // UNAUTHENTICATED when the header is missing or malformed; PERMISSION_DENIED when the token
  // differs (compared in constant time).
  absl::Status Check(const grpc::ServerContext& context) const;

 private:
  std::string token_;
};

// semrec.v1.Recommender with DeleteUser guarded by `token`; every other method is forwarded.
class GuardedRecommenderService final : public v1::Recommender::Service {
 public:
  GuardedRecommenderService(v1::Recommender::Service& inner, ApiToken token)
      : inner_(inner), token_(std::move(token)) {}

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
  v1::Recommender::Service& inner_;
  const ApiToken token_;
};

// semrec.v1.Catalog with UpsertItems and DeleteItems guarded by `token`; reads are forwarded.
class GuardedCatalogService final : public v1::Catalog::Service {
 public:
  GuardedCatalogService(v1::Catalog::Service& inner, ApiToken token)
      : inner_(inner), token_(std::move(token)) {}

  grpc::Status UpsertItems(grpc::ServerContext* ctx, const v1::UpsertItemsRequest* req,
                           v1::UpsertItemsResponse* resp) override;
  grpc::Status DeleteItems(grpc::ServerContext* ctx, const v1::DeleteItemsRequest* req,
                           v1::DeleteItemsResponse* resp) override;
  grpc::Status GetItem(grpc::ServerContext* ctx, const v1::GetItemRequest* req,
                       v1::GetItemResponse* resp) override;
  grpc::Status Stats(grpc::ServerContext* ctx, const v1::StatsRequest* req,
                     v1::StatsResponse* resp) override;

 private:
  v1::Catalog::Service& inner_;
  const ApiToken token_;
};

}  // namespace semrec

#endif  // SEMREC_SERVER_AUTH_H_
