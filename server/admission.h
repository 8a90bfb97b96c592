// AdmissionControl: a bound on the expensive RPCs in flight (those that encode, search, rank or
// write). Beyond it a call is refused at once with RESOURCE_EXHAUSTED, which the client retries
// with backoff, instead of queueing behind work the server cannot finish in time.
//
//   AdmissionControl admission(/*max_inflight=*/128);
//   absl::StatusOr<AdmissionControl::Ticket> ticket = admission.TryAdmit();
//   if (!ticket.ok()) return ToGrpcStatus(ticket.status());  // the slot frees with the ticket
//
// Thread-safe.
#ifndef SEMREC_SERVER_ADMISSION_H_
#define SEMREC_SERVER_ADMISSION_H_

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"

namespace semrec {

class AdmissionControl {
 public:
  // A slot in flight, held by one call until the ticket is destroyed. Move-only.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket();

   private:
    friend class AdmissionControl;
    explicit Ticket(AdmissionControl* owner) : owner_(owner) {}
    AdmissionControl* owner_;
  };

  // At most `max_inflight` (at least 1) tickets are held at once.
  explicit AdmissionControl(int max_inflight);
  AdmissionControl(const AdmissionControl&) = delete;
  AdmissionControl& operator=(const AdmissionControl&) = delete;

  // A ticket, or RESOURCE_EXHAUSTED "the server is overloaded ...; retry with backoff" when
  // max_inflight calls hold one. Never waits.
  absl::StatusOr<Ticket> TryAdmit();

  int max_inflight() const { return max_inflight_; }
  int inflight() const { return inflight_.load(std::memory_order_relaxed); }
  int64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  const int max_inflight_;
  std::atomic<int> inflight_{0};
  std::atomic<int64_t> rejected_{0};
};

}  // namespace semrec

#endif  // SEMREC_SERVER_ADMISSION_H_
