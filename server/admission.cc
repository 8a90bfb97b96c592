#include "server/admission.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace semrec {

AdmissionControl::Ticket::~Ticket() {
  if (owner_ != nullptr) owner_->inflight_.fetch_sub(1, std::memory_order_acq_rel);
}

AdmissionControl::AdmissionControl(int max_inflight) : max_inflight_(std::max(1, max_inflight)) {}

absl::StatusOr<AdmissionControl::Ticket> AdmissionControl::TryAdmit() {
  if (inflight_.fetch_add(1, std::memory_order_acq_rel) >= max_inflight_) {
    inflight_.fetch_sub(1, std::memory_order_acq_rel);
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(
        absl::StrCat("the server is overloaded (", max_inflight_,
                     " requests in flight, its limit); retry with backoff"));
  }
  return Ticket(this);
}

}  // namespace semrec
