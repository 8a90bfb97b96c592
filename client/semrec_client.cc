#include "client/semrec_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace semrec {
namespace {

// Large enough for the biggest responses (Embed of 256 texts with tokens, k = 1000 with items).
constexpr int kMaxReceiveMessageBytes = 64 << 20;

// absl::StatusCode values are gRPC's codes by design.
absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

absl::Status ClientOptions::Validate() const {
  if (target.empty()) return absl::InvalidArgumentError("target is empty");
  if (deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("deadline must be positive, got ", absl::FormatDuration(deadline)));
  }
  if (max_retries < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_retries must be >= 0, got ", max_retries));
  }
  if (initial_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("initial_backoff must be >= 0, got ", absl::FormatDuration(initial_backoff)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SemrecClient>> SemrecClient::Create(const ClientOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  // gRPC waits 1 s before reconnecting after a failed connect and fails calls fast meanwhile;
  // reconnect on our back-off schedule so that a retry can reach a server that came back.
  args.SetInt(
      GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
      std::max<int>(1, static_cast<int>(absl::ToInt64Milliseconds(options.initial_backoff))));
  auto channel =
      grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
  return std::unique_ptr<SemrecClient>(new SemrecClient(options, std::move(channel)));
}

SemrecClient::SemrecClient(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      channel_(std::move(channel)),
      recommender_(v1::Recommender::NewStub(channel_)),
      catalog_(v1::Catalog::NewStub(channel_)) {}

template <typename Response, typename Rpc>
absl::StatusOr<Response> SemrecClient::Call(bool retryable, Rpc rpc) const {
  const absl::Time deadline = absl::Now() + options_.deadline;
  absl::Duration backoff = options_.initial_backoff;
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    Response response;
    const grpc::Status status = rpc(&context, &response);
    if (status.ok()) return response;
    if (!retryable || status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        attempt >= options_.max_retries || absl::Now() + backoff >= deadline) {
      return FromGrpcStatus(status);
    }
    absl::SleepFor(backoff);
    backoff *= 2;
  }
}

absl::StatusOr<v1::RecommendResponse> SemrecClient::Recommend(
    const v1::RecommendRequest& request) const {
  return Call<v1::RecommendResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return recommender_->Recommend(ctx, request, response);
  });
}

absl::StatusOr<v1::FeedbackResponse> SemrecClient::Feedback(
    const v1::FeedbackRequest& request) const {
  // Without an event id on every event, a repeat after a lost reply would apply events twice.
  const bool retryable = std::all_of(request.events().begin(), request.events().end(),
                                     [](const v1::Event& e) { return !e.event_id().empty(); });
  return Call<v1::FeedbackResponse>(retryable, [&](grpc::ClientContext* ctx, auto* response) {
    return recommender_->Feedback(ctx, request, response);
  });
}

absl::StatusOr<v1::RecommendResponse> SemrecClient::SimilarItems(
    const v1::SimilarItemsRequest& request) const {
  return Call<v1::RecommendResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return recommender_->SimilarItems(ctx, request, response);
  });
}

absl::StatusOr<v1::EmbedResponse> SemrecClient::Embed(const v1::EmbedRequest& request) const {
  return Call<v1::EmbedResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return recommender_->Embed(ctx, request, response);
  });
}

absl::StatusOr<v1::GetUserResponse> SemrecClient::GetUser(const v1::GetUserRequest& request) const {
  return Call<v1::GetUserResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return recommender_->GetUser(ctx, request, response);
  });
}

absl::StatusOr<v1::DeleteUserResponse> SemrecClient::DeleteUser(
    const v1::DeleteUserRequest& request) const {
  return Call<v1::DeleteUserResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return recommender_->DeleteUser(ctx, request, response);
  });
}

absl::StatusOr<v1::UpsertItemsResponse> SemrecClient::UpsertItems(
    const v1::UpsertItemsRequest& request) const {
  return Call<v1::UpsertItemsResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return catalog_->UpsertItems(ctx, request, response);
  });
}

absl::StatusOr<v1::DeleteItemsResponse> SemrecClient::DeleteItems(
    const v1::DeleteItemsRequest& request) const {
  return Call<v1::DeleteItemsResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return catalog_->DeleteItems(ctx, request, response);
  });
}

absl::StatusOr<v1::GetItemResponse> SemrecClient::GetItem(const v1::GetItemRequest& request) const {
  return Call<v1::GetItemResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return catalog_->GetItem(ctx, request, response);
  });
}

absl::StatusOr<v1::StatsResponse> SemrecClient::Stats(const v1::StatsRequest& request) const {
  return Call<v1::StatsResponse>(true, [&](grpc::ClientContext* ctx, auto* response) {
    return catalog_->Stats(ctx, request, response);
  });
}

}  // namespace semrec
