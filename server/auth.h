// The API token that guards writes: catalog writes (UpsertItems, DeleteItems) and DeleteUser need
// metadata `authorization: Bearer <token>` when a token is configured; reads stay open.
//
//   ASSIGN_OR_RETURN(std::string token, ReadApiTokenFile(options.api_token_file));
//   ApiToken guard(token);
//   if (auto s = guard.Check(*context); !s.ok()) return ToGrpcStatus(s);  // in a write handler
//
// Thread-safe: immutable after construction.
//
// Why the write handlers call Check and not an interceptor: gRPC 1.51's experimental server
// interceptors cannot fail a call before the handler runs (the write would still be applied),
// and an AuthMetadataProcessor only runs with TLS credentials.
#ifndef SEMREC_SERVER_AUTH_H_
#define SEMREC_SERVER_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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

}  // namespace semrec

#endif  // SEMREC_SERVER_AUTH_H_
