// Encoder: texts -> L2-normalized sentence embeddings, the interface the engine talks to.
//
//   ASSIGN_OR_RETURN(auto encoder, TorchEncoder::Create(options));
//   ASSIGN_OR_RETURN(auto vecs, encoder->Encode({"wireless earbuds"}, TextKind::kQuery));
//   float cosine = Dot(vecs[0], other);  // vectors are unit length
//
// Thread-safe: implementations accept concurrent Encode calls.
#ifndef SEMREC_CORE_ENCODER_ENCODER_H_
#define SEMREC_CORE_ENCODER_ENCODER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/tokenizer/tokenizer.h"

namespace semrec {

// Queries and documents may get different prefixes (E5's "query: " / "passage: ").
enum class TextKind { kQuery, kDocument };

// Counters of the encoder stack (batching and caching layers fill in theirs).
struct EncoderStats {
  int64_t batches = 0;         // shared forward passes run by the batcher
  int64_t batched_texts = 0;   // texts in them
  int64_t bulk_calls = 0;      // large calls that bypassed the batcher
  int64_t rejected = 0;        // calls refused because the batcher's queue was full
  int64_t expired = 0;         // calls answered DEADLINE_EXCEEDED unencoded: their deadline passed
  int64_t cancelled = 0;       // calls answered CANCELLED unencoded: their caller went away
  int64_t queued_texts = 0;    // texts waiting now
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t cache_entries = 0;
  int64_t cache_bytes = 0;
};

class Encoder {
 public:
  virtual ~Encoder() = default;

  // One unit-length embedding of dimension() floats per text, in input order.
  virtual absl::StatusOr<std::vector<std::vector<float>>> Encode(
      absl::Span<const std::string> texts, TextKind kind) = 0;

  // The model input ids for `text` (prefix, special tokens and truncation included), exactly as
  // Encode feeds them to the model.
  virtual std::vector<int32_t> Tokenize(std::string_view text, TextKind kind) const = 0;

  virtual const Tokenizer& tokenizer() const = 0;
  virtual int dimension() const = 0;
  virtual const std::string& name() const = 0;
  virtual EncoderStats stats() const { return {}; }
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENCODER_ENCODER_H_
