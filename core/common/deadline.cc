#include "core/common/deadline.h"

#include <algorithm>
#include <string>
#include <utility>

namespace semrec {
namespace {

thread_local const ScopedDeadline* current_scope = nullptr;

}  // namespace

ScopedDeadline::ScopedDeadline(absl::Time deadline, std::function<bool()> cancelled)
    : enclosing_(current_scope),
      deadline_(enclosing_ ? std::min(deadline, enclosing_->deadline()) : deadline),
      cancelled_(std::move(cancelled)) {
  current_scope = this;
}

ScopedDeadline::~ScopedDeadline() { current_scope = enclosing_; }

const ScopedDeadline* ScopedDeadline::Current() { return current_scope; }

bool ScopedDeadline::cancelled() const {
  return (cancelled_ && cancelled_()) || (enclosing_ && enclosing_->cancelled());
}

absl::Status ScopedDeadline::Check(std::string_view stage) const {
  if (expired()) {
    return absl::DeadlineExceededError("deadline exceeded before " + std::string(stage));
  }
  if (cancelled()) return absl::CancelledError("request cancelled before " + std::string(stage));
  return absl::OkStatus();
}

absl::Time CurrentDeadline() {
  return current_scope ? current_scope->deadline() : absl::InfiniteFuture();
}

absl::Status CheckDeadline(std::string_view stage) {
  return current_scope ? current_scope->Check(stage) : absl::OkStatus();
}

}  // namespace semrec
