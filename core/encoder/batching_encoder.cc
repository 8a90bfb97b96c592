#include "core/encoder/batching_encoder.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace semrec {

struct BatchingEncoder::Call {
  absl::Span<const std::string> texts;
  TextKind kind = TextKind::kQuery;
  absl::Time enqueued;
  // The caller's request (nullptr: none) and its deadline (absl::InfiniteFuture(): none). The
  // caller waits inside Encode while the call exists, so `request` outlives it.
  const ScopedDeadline* request = nullptr;
  absl::Time deadline = absl::InfiniteFuture();
  absl::StatusOr<std::vector<std::vector<float>>> result{absl::UnknownError("not run")};
  absl::Notification done;
};

absl::Status BatchingEncoder::Options::Validate() const {
  if (max_batch_size < 1) return absl::InvalidArgumentError("batch max size must be at least 1");
  if (max_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("batch max wait must not be negative");
  }
  if (workers < 1) return absl::InvalidArgumentError("encoder workers must be at least 1");
  if (bulk_threshold < 1) return absl::InvalidArgumentError("bulk threshold must be at least 1");
  if (max_queued_texts < max_batch_size) {
    return absl::InvalidArgumentError("the encoder queue must hold at least one batch");
  }
  return absl::OkStatus();
}

BatchingEncoder::BatchingEncoder(const Options& options, std::unique_ptr<Encoder> inner)
    : options_(options), inner_(std::move(inner)) {}

absl::StatusOr<std::unique_ptr<BatchingEncoder>> BatchingEncoder::Create(
    const Options& options, std::unique_ptr<Encoder> inner) {
  if (auto s = options.Validate(); !s.ok()) return s;
  if (!inner) return absl::InvalidArgumentError("BatchingEncoder needs an encoder to wrap");
  std::unique_ptr<BatchingEncoder> batcher(new BatchingEncoder(options, std::move(inner)));
  for (int i = 0; i < options.workers; ++i) {
    batcher->workers_.emplace_back([b = batcher.get()] { b->WorkerLoop(); });
  }
  return batcher;
}

BatchingEncoder::~BatchingEncoder() {
  std::deque<Call*> abandoned;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    abandoned.swap(queue_);
    queued_texts_ = 0;
  }
  for (Call* call : abandoned) {
    call->result = absl::CancelledError("the encoder is shutting down");
    call->done.Notify();
  }
  for (auto& t : workers_) t.join();
}

absl::StatusOr<std::vector<std::vector<float>>> BatchingEncoder::Encode(
    absl::Span<const std::string> texts, TextKind kind) {
  if (texts.empty()) return std::vector<std::vector<float>>();
  Call call;
  call.texts = texts;
  call.kind = kind;
  call.request = ScopedDeadline::Current();
  if (call.request != nullptr) {
    if (absl::Status s = call.request->Check("encode"); !s.ok()) {
      (s.code() == absl::StatusCode::kCancelled ? cancelled_ : expired_)
          .fetch_add(1, std::memory_order_relaxed);
      return s;
    }
    call.deadline = call.request->deadline();
  }
  if (static_cast<int>(texts.size()) >= options_.bulk_threshold) {
    bulk_calls_.fetch_add(1, std::memory_order_relaxed);
    return inner_->Encode(texts, kind);
  }
  call.enqueued = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("the encoder is shutting down");
    if (queued_texts_ + static_cast<int>(texts.size()) > options_.max_queued_texts) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(absl::StrCat(
          "the encoder queue is full (", queued_texts_, " texts waiting); retry later"));
    }
    queue_.push_back(&call);
    queued_texts_ += static_cast<int>(texts.size());
  }
  if (!call.done.WaitForNotificationWithDeadline(call.deadline)) {
    // Out of time: leave the queue unencoded. A worker that has already taken the call is
    // encoding it (and reading `texts`, which this frame owns): wait for that one pass.
    absl::MutexLock lock(&mu_);
    auto it = std::find(queue_.begin(), queue_.end(), &call);
    if (it != queue_.end()) {
      queue_.erase(it);
      queued_texts_ -= static_cast<int>(texts.size());
      expired_.fetch_add(1, std::memory_order_relaxed);
      return absl::DeadlineExceededError(
          absl::StrCat("deadline exceeded before encode (queued for ",
                       absl::FormatDuration(absl::Now() - call.enqueued), ")"));
    }
  }
  call.done.WaitForNotification();
  return std::move(call.result);
}

void BatchingEncoder::Drop(Call* call, absl::Status status) {
  (status.code() == absl::StatusCode::kCancelled ? cancelled_ : expired_)
      .fetch_add(1, std::memory_order_relaxed);
  call->result = std::move(status);
  call->done.Notify();
}

std::vector<BatchingEncoder::Call*> BatchingEncoder::NextBatch(std::vector<Call*>* expired) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](BatchingEncoder* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
        return b->stopping_ || !b->queue_.empty();
      },
      this));
  if (stopping_) return {};
  if (options_.max_wait > absl::ZeroDuration()) {
    // Give others until the oldest call's window closes to fill the batch; a call with a
    // deadline waits for company at most half the time its caller had left.
    const Call& oldest = *queue_.front();
    const absl::Time deadline =
        oldest.enqueued + std::min(options_.max_wait, (oldest.deadline - oldest.enqueued) / 2);
    mu_.AwaitWithDeadline(
        absl::Condition(
            +[](BatchingEncoder* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
              return b->stopping_ || b->queue_.empty() ||
                     b->queued_texts_ >= b->options_.max_batch_size;
            },
            this),
        deadline);
    if (stopping_ || queue_.empty()) return {};
  }
  // The oldest live call decides the kind; calls of the other kind keep their place in the
  // queue. Calls whose caller's deadline has passed leave it unencoded.
  std::vector<Call*> batch;
  std::optional<TextKind> kind;
  const absl::Time now = absl::Now();
  int texts = 0;
  for (auto it = queue_.begin(); it != queue_.end();) {
    Call* call = *it;
    const int n = static_cast<int>(call->texts.size());
    if (call->deadline <= now) {
      expired->push_back(call);
      queued_texts_ -= n;
      it = queue_.erase(it);
      continue;
    }
    if (!kind) kind = call->kind;
    if (call->kind != *kind || (!batch.empty() && texts + n > options_.max_batch_size)) {
      ++it;
      continue;
    }
    batch.push_back(call);
    texts += n;
    queued_texts_ -= n;
    it = queue_.erase(it);
    if (texts >= options_.max_batch_size) break;
  }
  return batch;
}

void BatchingEncoder::WorkerLoop() {
  std::vector<std::string> texts;
  std::vector<Call*> expired;
  while (true) {
    expired.clear();
    std::vector<Call*> batch = NextBatch(&expired);
    for (Call* call : expired) {
      Drop(call, absl::DeadlineExceededError(
                     absl::StrCat("deadline exceeded before encode (queued for ",
                                  absl::FormatDuration(absl::Now() - call->enqueued), ")")));
    }
    // Callers that went away are not encoded either (asking may take a lock: not under mu_).
    auto live = batch.begin();
    for (Call* call : batch) {
      absl::Status status = call->request ? call->request->Check("encode") : absl::OkStatus();
      if (status.ok()) {
        *live++ = call;
      } else {
        Drop(call, std::move(status));
      }
    }
    batch.erase(live, batch.end());
    if (batch.empty()) {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      continue;
    }
    texts.clear();
    for (Call* call : batch) texts.insert(texts.end(), call->texts.begin(), call->texts.end());
    auto result = inner_->Encode(texts, batch.front()->kind);
    batches_.fetch_add(1, std::memory_order_relaxed);
    batched_texts_.fetch_add(static_cast<int64_t>(texts.size()), std::memory_order_relaxed);
    size_t offset = 0;
    for (Call* call : batch) {
      if (result.ok()) {
        std::vector<std::vector<float>> mine;
        mine.reserve(call->texts.size());
        for (size_t i = 0; i < call->texts.size(); ++i) mine.push_back(std::move((*result)[offset + i]));
        call->result = std::move(mine);
      } else {
        call->result = result.status();
      }
      offset += call->texts.size();
      call->done.Notify();
    }
  }
}

EncoderStats BatchingEncoder::stats() const {
  EncoderStats s = inner_->stats();
  s.batches = batches_.load(std::memory_order_relaxed);
  s.batched_texts = batched_texts_.load(std::memory_order_relaxed);
  s.bulk_calls = bulk_calls_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.expired = expired_.load(std::memory_order_relaxed);
  s.cancelled = cancelled_.load(std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  s.queued_texts = queued_texts_;
  return s;
}

}  // namespace semrec
