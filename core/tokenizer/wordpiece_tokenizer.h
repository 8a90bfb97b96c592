// WordPieceTokenizer: a BERT WordPiece tokenizer with the output of Hugging Face's
// BertTokenizerFast (BertNormalizer, BertPreTokenizer, WordPiece, "[CLS] $A [SEP]" and right
// truncation).
//
//   ASSIGN_OR_RETURN(WordPieceOptions options, WordPieceOptionsFromHfFolder("/models/bert"));
//   ASSIGN_OR_RETURN(auto tokenizer, WordPieceTokenizer::Create(options));
//   std::vector<int32_t> ids = tokenizer->Encode("Hello, World!");  // 101 7592 1010 2088 999 102
//
// Thread-safe: immutable after Create().
#ifndef SEMREC_CORE_TOKENIZER_WORDPIECE_TOKENIZER_H_
#define SEMREC_CORE_TOKENIZER_WORDPIECE_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"

namespace semrec {

// Set once at start-up; none of the fields can change at run time.
struct WordPieceOptions {
  std::string vocab_file;             // HF vocab.txt: one token per line, id = line number.
  bool lowercase = true;              // HF do_lower_case.
  std::optional<bool> strip_accents;  // NFD + drop Mn; unset => same as `lowercase` (HF).
  bool tokenize_chinese_chars = true;
  bool clean_text = true;              // Drop NUL, U+FFFD and control chars; map whitespace to ' '.
  int max_length = 512;                // Ids per Encode() including [CLS] and [SEP]; at least 2.
  int max_input_chars_per_word = 100;  // Longer words become [UNK].
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  // Matched verbatim in the raw text, like the four above, when the vocab has it.
  std::string mask_token = "[MASK]";
  // More tokens matched verbatim in the raw text (HF added tokens); each must be in the vocab.
  std::vector<std::string> extra_special_tokens;
};

// Options for the Hugging Face model folder `dir`: its vocab.txt, and tokenizer_config.json when
// present (do_lower_case, strip_accents, tokenize_chinese_chars, model_max_length or max_length
// clamped to 512, special and added tokens). NOT_FOUND without vocab.txt; INVALID_ARGUMENT for a
// malformed config; UNIMPLEMENTED for added-token features this tokenizer does not model.
absl::StatusOr<WordPieceOptions> WordPieceOptionsFromHfFolder(const std::string& dir);

class WordPieceTokenizer final : public Tokenizer {
 public:
  // NOT_FOUND when the vocab file is missing; INVALID_ARGUMENT for an empty vocab, a special token
  // missing from it, max_length < 2 or max_input_chars_per_word < 1.
  static absl::StatusOr<std::unique_ptr<WordPieceTokenizer>> Create(
      const WordPieceOptions& options);
  ~WordPieceTokenizer() override;

  std::vector<int32_t> Encode(std::string_view text) const override;
  // Ids outside the vocab come back as the unk token.
  std::vector<std::string> IdsToTokens(const std::vector<int32_t>& ids) const override;
  int32_t pad_id() const override { return pad_id_; }
  int max_length() const override { return options_.max_length; }
  // Number of ids (lines of vocab.txt); every id is in [0, vocab_size()).
  int vocab_size() const override;

  // The word pieces of `text`: no [CLS]/[SEP] added, no truncation.
  std::vector<std::string> Tokenize(std::string_view text) const;
  std::optional<int32_t> TokenToId(std::string_view token) const;

 private:
  struct Vocab;  // Token <-> id maps; defined in the .cc to keep this header light.
  struct SpecialToken {
    std::string text;
    int32_t id;
  };

  explicit WordPieceTokenizer(WordPieceOptions options);

  // Appends the piece ids of `text` to `ids`, stopping once ids->size() >= limit.
  void AppendIds(std::string_view text, size_t limit, std::vector<int32_t>* ids) const;
  // Normalizes, pre-tokenizes and word-pieces text that holds no special token.
  void AppendSegmentIds(std::string_view segment, size_t limit, std::vector<int32_t>* ids) const;
  // Greedy longest-match-first pieces of one pre-tokenized word. `padded_word` holds two scratch
  // bytes, then the word's UTF-8; it is overwritten.
  void AppendWordIds(std::string* padded_word, size_t num_chars, std::vector<int32_t>* ids) const;

  WordPieceOptions options_;
  bool strip_accents_ = false;
  std::unique_ptr<const Vocab> vocab_;
  int32_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
  std::vector<SpecialToken> special_tokens_;  // Longest first, so the first match is the longest.
  bool special_first_byte_[256] = {};
};

}  // namespace semrec

#endif  // SEMREC_CORE_TOKENIZER_WORDPIECE_TOKENIZER_H_
