#include "server/auth.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/status_util.h"

namespace semrec {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

// Equal strings in time that depends only on the lengths, not on where they first differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace

absl::StatusOr<std::string> ReadApiTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("API token file (--api_token_file) ", path,
                                                   ": cannot read: ", std::strerror(errno)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(content.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("API token file (--api_token_file) ", path, " is empty"));
  }
  return token;
}

absl::Status ApiToken::Check(const grpc::ServerContext& context) const {
  if (token_.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  absl::string_view value;
  if (it != metadata.end()) value = absl::string_view(it->second.data(), it->second.size());
  if (value.size() <= kBearer.size() || !absl::StartsWithIgnoreCase(value, kBearer)) {
    return absl::UnauthenticatedError(
        "missing bearer token: catalog writes and DeleteUser need `authorization: Bearer "
        "<token>`");
  }
  if (!ConstantTimeEquals(absl::StripAsciiWhitespace(value.substr(kBearer.size())), token_)) {
    return absl::PermissionDeniedError("invalid API token");
  }
  return absl::OkStatus();
}

// Recommender: only DeleteUser writes.
grpc::Status GuardedRecommenderService::Recommend(grpc::ServerContext* ctx,
                                                  const v1::RecommendRequest* req,
                                                  v1::RecommendResponse* resp) {
  return inner_.Recommend(ctx, req, resp);
}
grpc::Status GuardedRecommenderService::Feedback(grpc::ServerContext* ctx,
                                                 const v1::FeedbackRequest* req,
                                                 v1::FeedbackResponse* resp) {
  return inner_.Feedback(ctx, req, resp);
}
grpc::Status GuardedRecommenderService::SimilarItems(grpc::ServerContext* ctx,
                                                     const v1::SimilarItemsRequest* req,
                                                     v1::RecommendResponse* resp) {
  return inner_.SimilarItems(ctx, req, resp);
}
grpc::Status GuardedRecommenderService::Embed(grpc::ServerContext* ctx, const v1::EmbedRequest* req,
                                              v1::EmbedResponse* resp) {
  return inner_.Embed(ctx, req, resp);
}
grpc::Status GuardedRecommenderService::GetUser(grpc::ServerContext* ctx,
                                                const v1::GetUserRequest* req,
                                                v1::GetUserResponse* resp) {
  return inner_.GetUser(ctx, req, resp);
}
grpc::Status GuardedRecommenderService::DeleteUser(grpc::ServerContext* ctx,
                                                   const v1::DeleteUserRequest* req,
                                                   v1::DeleteUserResponse* resp) {
  if (absl::Status s = token_.Check(*ctx); !s.ok()) return ToGrpcStatus(s);
  return inner_.DeleteUser(ctx, req, resp);
}

// Catalog: UpsertItems and DeleteItems write.
grpc::Status GuardedCatalogService::UpsertItems(grpc::ServerContext* ctx,
                                                const v1::UpsertItemsRequest* req,
                                                v1::UpsertItemsResponse* resp) {
  if (absl::Status s = token_.Check(*ctx); !s.ok()) return ToGrpcStatus(s);
  return inner_.UpsertItems(ctx, req, resp);
}
grpc::Status GuardedCatalogService::DeleteItems(grpc::ServerContext* ctx,
                                                const v1::DeleteItemsRequest* req,
                                                v1::DeleteItemsResponse* resp) {
  if (absl::Status s = token_.Check(*ctx); !s.ok()) return ToGrpcStatus(s);
  return inner_.DeleteItems(ctx, req, resp);
}
grpc::Status GuardedCatalogService::GetItem(grpc::ServerContext* ctx, const v1::GetItemRequest* req,
                                            v1::GetItemResponse* resp) {
  return inner_.GetItem(ctx, req, resp);
}
grpc::Status GuardedCatalogService::Stats(grpc::ServerContext* ctx, const v1::StatsRequest* req,
                                          v1::StatsResponse* resp) {
  return inner_.Stats(ctx, req, resp);
}

}  // namespace semrec
