// CachingEncoder: an Encoder with a bounded LRU cache of query text -> embedding in front of
// another encoder, so repeated queries (the head of the query distribution) skip the model.
// Document texts pass through uncached: catalog upserts would only evict hot queries.
//
//   CachingEncoder::Options o; o.capacity_bytes = 64 << 20;
//   auto cached = std::make_unique<CachingEncoder>(o, std::move(batcher));
//   cached->stats().hits;
//
// Thread-safe: one mutex around the LRU list; the wrapped encoder runs outside it.
#ifndef SEMREC_CORE_ENCODER_CACHING_ENCODER_H_
#define SEMREC_CORE_ENCODER_CACHING_ENCODER_H_

#include <atomic>
#include <list>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "core/common/string_map.h"
#include "core/encoder/encoder.h"

namespace semrec {

class CachingEncoder final : public Encoder {
 public:
  struct Options {
    size_t capacity_bytes = 64 << 20;  // 0 disables the cache; start-up only
  };

  CachingEncoder(const Options& options, std::unique_ptr<Encoder> inner);

  absl::StatusOr<std::vector<std::vector<float>>> Encode(absl::Span<const std::string> texts,
                                                         TextKind kind) override;
  std::vector<int32_t> Tokenize(std::string_view text, TextKind kind) const override {
    return inner_->Tokenize(text, kind);
  }
  const Tokenizer& tokenizer() const override { return inner_->tokenizer(); }
  int dimension() const override { return inner_->dimension(); }
  const std::string& name() const override { return inner_->name(); }

  EncoderStats stats() const override;
  int64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::string text;
    std::vector<float> vector;
  };
  using Lru = std::list<Entry>;  // most recently used first

  size_t EntryBytes(const Entry& e) const;
  bool Lookup(const std::string& text, std::vector<float>& out);
  void Insert(const std::string& text, const std::vector<float>& vector);

  const Options options_;
  const std::unique_ptr<Encoder> inner_;
  mutable absl::Mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);
  StringMap<Lru::iterator> index_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENCODER_CACHING_ENCODER_H_
