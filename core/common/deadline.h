// Request deadlines and cancellation, without gRPC types. The server installs the caller's
// deadline (and a "has the caller gone away" check) for the thread that runs a request; the
// request's stages check it before expensive work, and the encoder's batcher captures it when a
// call is queued.
//
//   ScopedDeadline scope(absl::Now() + absl::Milliseconds(50), [ctx] { return ctx->IsCancelled();
//   }); RETURN_IF_ERROR(CheckDeadline("ann"));  // anywhere below, on the same thread const
//   ScopedDeadline* request = ScopedDeadline::Current();  // to check from another thread
//
// Thread-compatible: a scope belongs to the thread that made it and must be destroyed there, in
// reverse order of creation; its const methods may be called from any thread while it lives.
#ifndef SEMREC_CORE_COMMON_DEADLINE_H_
#define SEMREC_CORE_COMMON_DEADLINE_H_

#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace semrec {

class ScopedDeadline {
 public:
  // Until destroyed, `deadline` applies to this thread (absl::InfiniteFuture(): none), and
  // `cancelled`, when set, says whether the caller has given up. A nested scope never extends the
  // enclosing one: its deadline is the earlier of the two, and the enclosing cancellation check
  // still applies.
  explicit ScopedDeadline(absl::Time deadline, std::function<bool()> cancelled = nullptr);
  ~ScopedDeadline();
  ScopedDeadline(const ScopedDeadline&) = delete;
  ScopedDeadline& operator=(const ScopedDeadline&) = delete;

  // The innermost scope of this thread; nullptr outside any.
  static const ScopedDeadline* Current();

  absl::Time deadline() const { return deadline_; }
  bool expired() const { return absl::Now() >= deadline_; }
  bool cancelled() const;

  // OK while there is time left; CANCELLED "request cancelled before <stage>" once the caller has
  // gone away; DEADLINE_EXCEEDED "deadline exceeded before <stage>" once the deadline has passed.
  absl::Status Check(std::string_view stage) const;

 private:
  const ScopedDeadline* const enclosing_;
  const absl::Time deadline_;
  const std::function<bool()> cancelled_;
};

// This thread's request deadline; absl::InfiniteFuture() outside any scope.
absl::Time CurrentDeadline();

// ScopedDeadline::Current()->Check(stage), and OK outside any scope. Call it before each stage
// that costs real time (encoding, ANN search, ranking), so that a request nobody waits for any
// more stops early.
absl::Status CheckDeadline(std::string_view stage);

}  // namespace semrec

#endif  // SEMREC_CORE_COMMON_DEADLINE_H_
