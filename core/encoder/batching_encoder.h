// BatchingEncoder: an Encoder that groups concurrent small Encode calls (queries, search texts,
// single items) into shared forward passes of the wrapped encoder. Calls with many texts (bulk
// catalog embedding) skip the queue and run as large batches directly. A call made inside a
// ScopedDeadline (core/common/deadline.h) keeps its caller's deadline: it is never encoded, and
// its caller never waits, past that deadline or after the caller went away; such calls are
// answered DEADLINE_EXCEEDED or CANCELLED and counted in stats().expired / .cancelled.
//
//   ASSIGN_OR_RETURN(auto batcher, BatchingEncoder::Create(options, std::move(torch_encoder)));
//   ASSIGN_OR_RETURN(auto vecs, batcher->Encode({"red shoes"}, TextKind::kQuery));  // may share a pass
//   batcher->stats().batches;  // forward passes run by the workers
//
// Thread-safe: any number of callers; `workers` threads run the forward passes.
#ifndef SEMREC_CORE_ENCODER_BATCHING_ENCODER_H_
#define SEMREC_CORE_ENCODER_BATCHING_ENCODER_H_

#include <atomic>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/deadline.h"
#include "core/encoder/encoder.h"

namespace semrec {

class BatchingEncoder final : public Encoder {
 public:
  struct Options {
    // Texts per shared forward pass; a queued call is never split across passes.
    int max_batch_size = 32;
    // How long a queued call waits for others to join before a worker runs it anyway. 0 (the
    // default) never delays a call: a pass starts as soon as a worker is free, and calls that
    // arrive while workers are busy are batched together. A call with a deadline waits at most
    // half the time its caller has left.
    absl::Duration max_wait = absl::ZeroDuration();
    // Threads running forward passes (each pass uses the wrapped encoder's own threads).
    int workers = 2;
    // Calls with at least this many texts bypass the queue (bulk embedding).
    int bulk_threshold = 64;
    // Texts waiting at most; beyond, Encode answers RESOURCE_EXHAUSTED at once.
    int max_queued_texts = 8192;

    absl::Status Validate() const;
  };

  static absl::StatusOr<std::unique_ptr<BatchingEncoder>> Create(const Options& options,
                                                                 std::unique_ptr<Encoder> inner);
  // Fails calls still queued with CANCELLED and joins the workers.
  ~BatchingEncoder() override;

  absl::StatusOr<std::vector<std::vector<float>>> Encode(absl::Span<const std::string> texts,
                                                         TextKind kind) override;
  std::vector<int32_t> Tokenize(std::string_view text, TextKind kind) const override {
    return inner_->Tokenize(text, kind);
  }
  const Tokenizer& tokenizer() const override { return inner_->tokenizer(); }
  int dimension() const override { return inner_->dimension(); }
  const std::string& name() const override { return inner_->name(); }

  EncoderStats stats() const override;

 private:
  struct Call;
  BatchingEncoder(const Options& options, std::unique_ptr<Encoder> inner);
  void WorkerLoop();
  // Takes the next batch off the queue (waiting as the options say); empty when stopping. Calls
  // whose deadline has passed leave the queue into `expired`, unencoded.
  std::vector<Call*> NextBatch(std::vector<Call*>* expired);
  // Answers `call` with `status` without encoding it, and counts it.
  void Drop(Call* call, absl::Status status);

  const Options options_;
  const std::unique_ptr<Encoder> inner_;

  mutable absl::Mutex mu_;
  std::deque<Call*> queue_ ABSL_GUARDED_BY(mu_);
  int queued_texts_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::atomic<int64_t> batches_{0}, batched_texts_{0}, bulk_calls_{0}, rejected_{0}, expired_{0},
      cancelled_{0};
  std::vector<std::thread> workers_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENCODER_BATCHING_ENCODER_H_
