// SemrecClient: a thin C++ client for the semrec.v1 API (Recommender and Catalog services). Each
// call takes and returns the generated request/response protos, applies the configured deadline,
// retries idempotent calls that fail with UNAVAILABLE, and reports errors as absl::Status with
// gRPC's code and message unchanged.
//
//   ASSIGN_OR_RETURN(auto client, SemrecClient::Create({.target = "localhost:50051"}));
//   v1::RecommendRequest request;  request.set_user_id("u1");
//   ASSIGN_OR_RETURN(v1::RecommendResponse recs, client->Recommend(request));
//
// Thread-safe: all calls may run concurrently; they share one channel.
#ifndef SEMREC_CLIENT_SEMREC_CLIENT_H_
#define SEMREC_CLIENT_SEMREC_CLIENT_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "semrec/v1/semrec.grpc.pb.h"

namespace semrec {

// Fixed for the client's lifetime. Transport security and credentials will be added here as
// fields whose defaults keep today's behaviour (plaintext, no token).
struct ClientOptions {
  // gRPC target: host:port, or any name gRPC resolves (dns:///, unix:...).
  std::string target = "127.0.0.1:50051";
  // Budget of one call, retries and back-off included.
  absl::Duration deadline = absl::Seconds(5);
  // Attempts after the first one. Only calls that are safe to repeat are retried, and only on
  // UNAVAILABLE (the server could not be reached or is draining): Recommend, SimilarItems, Embed,
  // GetUser, GetItem, Stats, UpsertItems, DeleteItems, DeleteUser, and Feedback when every event
  // carries an event_id (the server applies each id once). A repeated delete reports what the
  // repeat saw: DeleteUser.deleted = false, DeleteItems.not_found lists ids the first attempt
  // deleted.
  int max_retries = 3;
  // Wait before the first retry; doubled before each further one (50, 100, 200 ms by default).
  absl::Duration initial_backoff = absl::Milliseconds(50);

  absl::Status Validate() const;
};

class SemrecClient {
 public:
  // INVALID_ARGUMENT for bad options. Connects lazily: an unreachable target shows up as
  // UNAVAILABLE on the first call.
  static absl::StatusOr<std::unique_ptr<SemrecClient>> Create(const ClientOptions& options);

  SemrecClient(const SemrecClient&) = delete;
  SemrecClient& operator=(const SemrecClient&) = delete;

  // semrec.v1.Recommender
  absl::StatusOr<v1::RecommendResponse> Recommend(const v1::RecommendRequest& request) const;
  absl::StatusOr<v1::FeedbackResponse> Feedback(const v1::FeedbackRequest& request) const;
  absl::StatusOr<v1::RecommendResponse> SimilarItems(const v1::SimilarItemsRequest& request) const;
  absl::StatusOr<v1::EmbedResponse> Embed(const v1::EmbedRequest& request) const;
  absl::StatusOr<v1::GetUserResponse> GetUser(const v1::GetUserRequest& request) const;
  absl::StatusOr<v1::DeleteUserResponse> DeleteUser(const v1::DeleteUserRequest& request) const;

  // semrec.v1.Catalog
  absl::StatusOr<v1::UpsertItemsResponse> UpsertItems(const v1::UpsertItemsRequest& request) const;
  absl::StatusOr<v1::DeleteItemsResponse> DeleteItems(const v1::DeleteItemsRequest& request) const;
  absl::StatusOr<v1::GetItemResponse> GetItem(const v1::GetItemRequest& request) const;
  absl::StatusOr<v1::StatsResponse> Stats(const v1::StatsRequest& request = {}) const;

  const ClientOptions& options() const { return options_; }

 private:
  SemrecClient(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel);

  // Runs `rpc` (one attempt: context in, response out) under the call's deadline, retrying on
  // UNAVAILABLE when `retryable`.
  template <typename Response, typename Rpc>
  absl::StatusOr<Response> Call(bool retryable, Rpc rpc) const;

  const ClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::Recommender::Stub> recommender_;
  const std::unique_ptr<v1::Catalog::Stub> catalog_;
};

}  // namespace semrec

#endif  // SEMREC_CLIENT_SEMREC_CLIENT_H_
