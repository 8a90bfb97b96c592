// The one absl::Status -> grpc::Status conversion. Codes map one to one; messages are bounded so
// that a huge id echoed in an error cannot blow up a response.
//
//   return ToGrpcStatus(engine.Feedback(...).status());
//
// Thread-safe: pure function.
#ifndef SEMREC_SERVER_STATUS_UTIL_H_
#define SEMREC_SERVER_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace semrec {

inline constexpr size_t kMaxStatusMessageBytes = 1024;

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace semrec

#endif  // SEMREC_SERVER_STATUS_UTIL_H_
