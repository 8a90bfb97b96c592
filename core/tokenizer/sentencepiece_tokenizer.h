// SentencePieceTokenizer: a SentencePiece (.model) tokenizer with the ids of Hugging Face's
// tokenizer for the model family: XLM-RoBERTa (multilingual-e5, bge-m3: fairseq ids and
// "<s> $A </s>"), T5 ("$A </s>") or the model's own. Right truncation keeps the end token.
//
//   ASSIGN_OR_RETURN(SentencePieceOptions options,
//                    SentencePieceOptionsFromHfFolder("/models/e5", SentencePieceFlavor::kXlmr));
//   ASSIGN_OR_RETURN(auto tokenizer, SentencePieceTokenizer::Create(options));
//   std::vector<int32_t> ids = tokenizer->Encode("Hello world");  // 0 35378 8999 2
//
// Thread-safe: immutable after Create().
#ifndef SEMREC_CORE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
#define SEMREC_CORE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace semrec {
namespace tokenizer_internal {
class SentencePieceLibrary;
}  // namespace tokenizer_internal

// How SentencePiece ids become model ids, and which special tokens wrap the text.
enum class SentencePieceFlavor {
  // XLMRobertaTokenizer: <s>=0 <pad>=1 </s>=2 <unk>=3, every other piece at its spm id + 1,
  // <mask> last; "<s> $A </s>". Needs the fairseq layout (spm <unk>=0 <s>=1 </s>=2).
  kXlmr,
  // T5Tokenizer: spm ids as they are, "$A </s>"; <extra_id_N> sentinels after the spm pieces.
  kT5,
  // spm ids as they are; <s> and </s> only when add_bos / add_eos say so.
  kPlain,
};

// "xlmr", "t5" or "plain"; nullopt for anything else.
std::optional<SentencePieceFlavor> SentencePieceFlavorFromName(std::string_view name);

// Set once at start-up; none of the fields can change at run time.
struct SentencePieceOptions {
  std::string model_file;  // A SentencePiece .model (HF sentencepiece.bpe.model, spiece.model).
  SentencePieceFlavor flavor = SentencePieceFlavor::kPlain;
  int max_length = 512;  // Ids per Encode() including special tokens; at least 2.
  bool add_bos = false;  // kPlain only: start with the model's <s>.
  bool add_eos = false;  // kPlain only: end with the model's </s>.
  int extra_ids = 0;     // kT5 only: <extra_id_0..N-1> sentinels (100 in T5 checkpoints).
};

// Options for the Hugging Face folder `dir` of an XLM-R (`flavor` kXlmr: sentencepiece.bpe.model)
// or T5 (kT5: spiece.model) tokenizer, with tokenizer_config.json, special_tokens_map.json and
// added_tokens.json when present: model_max_length (or max_length; "no limit" gives 512, at most
// 8192), T5's extra_ids (100 unless set). NOT_FOUND without the model file; INVALID_ARGUMENT for a
// malformed config or kPlain; UNIMPLEMENTED for special or added tokens other than the family's
// own.
absl::StatusOr<SentencePieceOptions> SentencePieceOptionsFromHfFolder(const std::string& dir,
                                                                      SentencePieceFlavor flavor);

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // NOT_FOUND when the model file is missing; INVALID_ARGUMENT when it is not a SentencePiece
  // model, when the flavor does not fit it (kXlmr without the fairseq layout, kT5 or add_eos
  // without </s>, add_bos without <s>), for flavor-specific fields on another flavor, or for
  // max_length < 2; FAILED_PRECONDITION when libsentencepiece.so.0 is not installed (it is loaded
  // at run time: see the .cc).
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Create(
      const SentencePieceOptions& options);
  ~SentencePieceTokenizer() override;

  // The flavor's special tokens written in the text (e.g. "</s>") are matched verbatim, as HF
  // matches its special tokens; the text between them is encoded by SentencePiece.
  std::vector<int32_t> Encode(std::string_view text) const override;
  // Ids outside the vocab come back as the unk token.
  std::vector<std::string> IdsToTokens(const std::vector<int32_t>& ids) const override;
  // kXlmr: 1. Otherwise the model's <pad>, or its <unk> when it has none (padding is masked).
  int32_t pad_id() const override { return pad_id_; }
  int max_length() const override { return options_.max_length; }
  // HF's vocab size: spm pieces, plus <pad> and <mask> (kXlmr) or the sentinels (kT5).
  int vocab_size() const override { return vocab_size_; }

 private:
  struct SpecialToken {
    std::string text;
    int32_t id;
  };

  explicit SentencePieceTokenizer(SentencePieceOptions options);

  // Appends the model ids of `text` to `ids`, stopping once ids->size() >= limit.
  void AppendIds(std::string_view text, size_t limit, std::vector<int32_t>* ids) const;
  // Appends the model ids SentencePiece gives `segment`, which holds no special token.
  void AppendSegmentIds(std::string_view segment, std::vector<int32_t>* ids) const;

  SentencePieceOptions options_;
  const tokenizer_internal::SentencePieceLibrary* library_ = nullptr;
  std::unique_ptr<const sentencepiece::SentencePieceProcessor> processor_;
  int32_t num_pieces_ = 0;  // spm's own vocabulary size.
  int32_t id_offset_ = 0;   // model id = spm id + id_offset_, but for <unk>.
  int32_t spm_unk_id_ = 0;
  int32_t unk_id_ = 0, pad_id_ = 0, vocab_size_ = 0;
  int32_t begin_id_ = -1, end_id_ = -1;  // Put around the pieces; -1 for none.
  std::string unk_token_;
  std::vector<SpecialToken> special_tokens_;  // Longest first, so the first match is the longest.
  absl::flat_hash_map<int32_t, std::string> special_id_to_token_;
  bool special_first_byte_[256] = {};
};

}  // namespace semrec

#endif  // SEMREC_CORE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
