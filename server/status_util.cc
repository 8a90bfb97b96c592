#include "server/status_util.h"

#include <string>

namespace semrec {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  if (message.size() > kMaxStatusMessageBytes) {
    size_t n = kMaxStatusMessageBytes;
    while (n > 0 && (static_cast<unsigned char>(message[n]) & 0xC0) == 0x80) --n;
    message.resize(n);
    message += "...";
  }
  // absl::StatusCode values are gRPC's codes by design.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

}  // namespace semrec
