// Tokenizer: text -> model input ids, the interface every tokenizer kind implements
// (WordPiece now; SentencePiece later).
//
//   ASSIGN_OR_RETURN(auto tok, WordPieceTokenizer::Create(options));
//   std::vector<int32_t> ids = tok->Encode("a red bicycle");  // [CLS] ... [SEP]
//
// Thread-safe: implementations are immutable after Create().
#ifndef SEMREC_CORE_TOKENIZER_TOKENIZER_H_
#define SEMREC_CORE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace semrec {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Model input ids for `text`, with the model's special tokens ([CLS] ... [SEP] for BERT) and
  // truncated to max_length() ids in total. Never fails: unknown pieces map to the unk id.
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;

  // The token strings for `ids` (for debugging / the Embed RPC's return_tokens).
  virtual std::vector<std::string> IdsToTokens(const std::vector<int32_t>& ids) const = 0;

  virtual int32_t pad_id() const = 0;
  virtual int max_length() const = 0;
  virtual int vocab_size() const = 0;
};

}  // namespace semrec

#endif  // SEMREC_CORE_TOKENIZER_TOKENIZER_H_
