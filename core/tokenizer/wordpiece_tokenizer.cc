#include "core/tokenizer/wordpiece_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/tokenizer/hf_files.h"

// Character classes follow the Rust `tokenizers` crate behind BertTokenizerFast, which differs from
// the Python BertTokenizer in a few corners: control = Cc|Cf|Co (Python also drops unassigned Cn),
// whitespace = Rust's White_Space (so U+2028/U+2029 split words), the fifth CJK range starts at
// U+2B920, and accents are stripped before lower-casing. Categories come from utf8proc (Unicode
// 15) while the crate's are frozen at about Unicode 8, so some 570 rare code points assigned or
// re-categorized since (e.g. U+061D, U+08D3..U+08E1) can tokenize differently.

namespace semrec {
namespace {

namespace fs = std::filesystem;

constexpr char32_t kReplacementChar = 0xFFFD;
// Largest HF max length this tokenizer takes from a model folder: BERT has 512 positions, and HF
// writes 1e30 ("no limit") for models that never set one.
constexpr int kMaxHfModelLength = 512;

// Decodes the code point at s[*pos], advancing *pos. An invalid or truncated sequence (or a
// surrogate) yields U+FFFD and skips one byte.
char32_t DecodeUtf8(std::string_view s, size_t* pos) {
  const auto byte = static_cast<unsigned char>(s[*pos]);
  if (byte < 0x80) {
    ++*pos;
    return byte;
  }
  utf8proc_int32_t cp = 0;
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(&s[*pos]),
                                              static_cast<utf8proc_ssize_t>(s.size() - *pos), &cp);
  if (n <= 0) {
    ++*pos;
    return kReplacementChar;
  }
  *pos += static_cast<size_t>(n);
  return static_cast<char32_t>(cp);
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool IsUtf8Continuation(char byte) { return (static_cast<unsigned char>(byte) & 0xC0) == 0x80; }

utf8proc_propval_t Category(char32_t c) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->category;
}

// Rust's char::is_whitespace (the Unicode White_Space property).
bool IsWhitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= '\t' && c <= '\r');
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Removed by clean_text. Tab, newline and carriage return are whitespace instead.
bool IsControl(char32_t c) {
  if (c < 0x80) return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F;
  const utf8proc_propval_t category = Category(c);
  return category == UTF8PROC_CATEGORY_CC || category == UTF8PROC_CATEGORY_CF ||
         category == UTF8PROC_CATEGORY_CO;
}

// Split off as a word of its own: ASCII punctuation (which includes symbols such as $ + < = > ^ `
// | ~) and the Unicode P* categories.
bool IsPunctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  }
  const utf8proc_propval_t category = Category(c);
  return category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO;
}

// CJK ideographs, which BERT surrounds with spaces (Hangul, kana etc. are not among them).
bool IsChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Rust's str::trim_end: drops trailing White_Space characters.
std::string_view TrimEnd(std::string_view s) {
  while (!s.empty()) {
    size_t start = s.size() - 1;
    while (start > 0 && IsUtf8Continuation(s[start])) --start;
    size_t pos = start;
    if (!IsWhitespace(DecodeUtf8(s, &pos)) || pos != s.size()) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

}  // namespace

struct WordPieceTokenizer::Vocab {
  absl::flat_hash_map<std::string, int32_t> token_to_id;  // Later lines win, as in HF.
  std::vector<std::string> id_to_token;
  size_t max_token_bytes = 0;
};

WordPieceTokenizer::WordPieceTokenizer(WordPieceOptions options) : options_(std::move(options)) {}
WordPieceTokenizer::~WordPieceTokenizer() = default;

absl::StatusOr<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::Create(
    const WordPieceOptions& options) {
  if (options.max_length < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_length must be at least 2 ([CLS] and [SEP]), got ", options.max_length));
  }
  if (options.max_input_chars_per_word < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_input_chars_per_word must be positive, got ", options.max_input_chars_per_word));
  }
  ASSIGN_OR_RETURN(std::string text, tokenizer_internal::ReadFile(options.vocab_file));

  auto vocab = std::make_unique<Vocab>();
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t newline = rest.find('\n');
    const std::string_view line = TrimEnd(rest.substr(0, newline));
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    const auto id = static_cast<int32_t>(vocab->id_to_token.size());
    vocab->token_to_id.insert_or_assign(std::string(line), id);
    vocab->id_to_token.emplace_back(line);
    vocab->max_token_bytes = std::max(vocab->max_token_bytes, line.size());
  }
  if (vocab->id_to_token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("empty vocab: ", options.vocab_file));
  }

  std::unique_ptr<WordPieceTokenizer> tokenizer(new WordPieceTokenizer(options));
  auto find_id = [&](const std::string& token, const char* what) -> absl::StatusOr<int32_t> {
    auto it = vocab->token_to_id.find(token);
    if (token.empty() || it == vocab->token_to_id.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " \"", token, "\" is not in the vocab ", options.vocab_file));
    }
    return it->second;
  };
  ASSIGN_OR_RETURN(tokenizer->unk_id_, find_id(options.unk_token, "unk_token"));
  ASSIGN_OR_RETURN(tokenizer->cls_id_, find_id(options.cls_token, "cls_token"));
  ASSIGN_OR_RETURN(tokenizer->sep_id_, find_id(options.sep_token, "sep_token"));
  ASSIGN_OR_RETURN(tokenizer->pad_id_, find_id(options.pad_token, "pad_token"));

  std::vector<std::string> specials;
  auto add_special = [&](const std::string& token) {
    if (std::find(specials.begin(), specials.end(), token) == specials.end()) {
      specials.push_back(token);
    }
  };
  for (const std::string* token :
       {&options.unk_token, &options.cls_token, &options.sep_token, &options.pad_token}) {
    add_special(*token);
  }
  if (vocab->token_to_id.contains(options.mask_token)) add_special(options.mask_token);
  for (const std::string& token : options.extra_special_tokens) {
    RETURN_IF_ERROR(find_id(token, "special token").status());
    add_special(token);
  }
  std::stable_sort(specials.begin(), specials.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (std::string& token : specials) {
    tokenizer->special_first_byte_[static_cast<unsigned char>(token[0])] = true;
    const int32_t id = vocab->token_to_id.find(token)->second;
    tokenizer->special_tokens_.push_back({std::move(token), id});
  }

  tokenizer->strip_accents_ = options.strip_accents.value_or(options.lowercase);
  tokenizer->vocab_ = std::move(vocab);
  return tokenizer;
}

int WordPieceTokenizer::vocab_size() const { return static_cast<int>(vocab_->id_to_token.size()); }

std::vector<int32_t> WordPieceTokenizer::Encode(std::string_view text) const {
  const auto max_length = static_cast<size_t>(options_.max_length);
  std::vector<int32_t> ids;
  ids.reserve(std::min(max_length, text.size() / 3 + 8));
  ids.push_back(cls_id_);
  AppendIds(text, max_length - 1, &ids);
  if (ids.size() > max_length - 1) ids.resize(max_length - 1);
  ids.push_back(sep_id_);
  return ids;
}

std::vector<std::string> WordPieceTokenizer::Tokenize(std::string_view text) const {
  std::vector<int32_t> ids;
  AppendIds(text, SIZE_MAX, &ids);
  return IdsToTokens(ids);
}

std::vector<std::string> WordPieceTokenizer::IdsToTokens(const std::vector<int32_t>& ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const bool known = id >= 0 && static_cast<size_t>(id) < vocab_->id_to_token.size();
    tokens.push_back(known ? vocab_->id_to_token[id] : options_.unk_token);
  }
  return tokens;
}

std::optional<int32_t> WordPieceTokenizer::TokenToId(std::string_view token) const {
  auto it = vocab_->token_to_id.find(absl::string_view(token.data(), token.size()));
  if (it == vocab_->token_to_id.end()) return std::nullopt;
  return it->second;
}

// Special tokens are matched in the raw text, leftmost then longest, before any normalization (HF's
// added vocabulary); the text between them is tokenized on its own.
void WordPieceTokenizer::AppendIds(std::string_view text, size_t limit,
                                   std::vector<int32_t>* ids) const {
  size_t segment_start = 0;
  for (size_t i = 0; i < text.size() && ids->size() < limit; ++i) {
    if (!special_first_byte_[static_cast<unsigned char>(text[i])]) continue;
    for (const SpecialToken& special : special_tokens_) {
      if (text.compare(i, special.text.size(), special.text) != 0) continue;
      AppendSegmentIds(text.substr(segment_start, i - segment_start), limit, ids);
      ids->push_back(special.id);
      segment_start = i + special.text.size();
      i = segment_start - 1;
      break;
    }
  }
  if (segment_start < text.size() && ids->size() < limit) {
    AppendSegmentIds(text.substr(segment_start), limit, ids);
  }
}

// BertNormalizer then BertPreTokenizer, streamed one code point at a time: clean text, space out
// CJK ideographs, NFD and drop nonspacing marks, lower-case, then split words on whitespace and
// around punctuation. Each finished word goes through WordPiece.
void WordPieceTokenizer::AppendSegmentIds(std::string_view segment, size_t limit,
                                          std::vector<int32_t>* ids) const {
  std::string word(2, '#');  // Two scratch bytes for AppendWordIds, then the word's UTF-8.
  size_t word_chars = 0;
  auto finish_word = [&] {
    if (word_chars == 0) return;
    AppendWordIds(&word, word_chars, ids);
    word.resize(2);
    word_chars = 0;
  };
  auto pre_tokenize = [&](char32_t c) {
    if (IsWhitespace(c)) {
      finish_word();
    } else if (IsPunctuation(c)) {
      finish_word();
      AppendUtf8(c, &word);
      word_chars = 1;
      finish_word();
    } else {
      AppendUtf8(c, &word);
      ++word_chars;
    }
  };
  auto lowercase = [&](char32_t c) {
    if (!options_.lowercase) {
      pre_tokenize(c);
    } else if (c < 0x80) {
      pre_tokenize(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    } else if (c == 0x130) {  // İ: the one full lower-case mapping longer than a code point.
      pre_tokenize('i');
      pre_tokenize(0x307);
    } else {
      pre_tokenize(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  };
  // Canonical ordering sorts each run of combining marks by combining class. Nonspacing marks
  // are dropped anyway, so only the rare other marks with a class (e.g. U+1D165) are held back.
  std::vector<std::pair<int, char32_t>> held_marks;
  auto release_marks = [&] {
    std::stable_sort(held_marks.begin(), held_marks.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [combining_class, c] : held_marks) lowercase(c);
    held_marks.clear();
  };
  auto strip_accents = [&](char32_t c) {
    if (!strip_accents_) return lowercase(c);
    if (c < 0x80) {
      if (!held_marks.empty()) release_marks();
      return lowercase(c);
    }
    utf8proc_int32_t decomposed[16];
    int last_boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), decomposed, 16,
                                                 UTF8PROC_DECOMPOSE, &last_boundclass);
    if (n < 0 || n > 16) {  // Not expected for canonical decompositions; keep the character.
      decomposed[0] = static_cast<utf8proc_int32_t>(c);
      n = 1;
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
      const utf8proc_property_t* property = utf8proc_get_property(decomposed[k]);
      if (property->combining_class == 0 && !held_marks.empty()) release_marks();
      if (property->category == UTF8PROC_CATEGORY_MN) continue;
      const auto d = static_cast<char32_t>(decomposed[k]);
      if (property->combining_class == 0) {
        lowercase(d);
      } else {
        held_marks.emplace_back(property->combining_class, d);
      }
    }
  };

  for (size_t pos = 0; pos < segment.size() && ids->size() < limit;) {
    char32_t c = DecodeUtf8(segment, &pos);
    if (options_.clean_text) {
      if (c == 0 || c == kReplacementChar || IsControl(c)) continue;
      if (IsWhitespace(c)) c = ' ';
    }
    if (options_.tokenize_chinese_chars && IsChineseChar(c)) {
      strip_accents(' ');
      strip_accents(c);
      strip_accents(' ');
    } else {
      strip_accents(c);
    }
  }
  if (!held_marks.empty()) release_marks();
  finish_word();
}

// HF WordPiece: longest vocab prefix first, continuation pieces looked up as "##" + rest; a word
// with any unmatched remainder, or longer than max_input_chars_per_word, is a single [UNK].
void WordPieceTokenizer::AppendWordIds(std::string* padded_word, size_t num_chars,
                                       std::vector<int32_t>* ids) const {
  std::string& word = *padded_word;
  if (num_chars > static_cast<size_t>(options_.max_input_chars_per_word)) {
    ids->push_back(unk_id_);
    return;
  }
  constexpr size_t kWordBegin = 2;
  const size_t word_end = word.size();
  const size_t first_piece = ids->size();
  for (size_t start = kWordBegin; start < word_end;) {
    // A continuation piece is looked up with "##" written over the two bytes before it, which
    // belong to pieces already matched (or to the scratch bytes).
    size_t key_begin = start;
    if (start > kWordBegin) {
      key_begin -= 2;
      word[key_begin] = '#';
      word[key_begin + 1] = '#';
    }
    size_t end = word_end;
    if (end - key_begin > vocab_->max_token_bytes) {  // No vocab entry is that long.
      end = key_begin + vocab_->max_token_bytes;
      while (end > start && IsUtf8Continuation(word[end])) --end;
    }
    int32_t piece_id = -1;
    while (end > start) {
      auto it = vocab_->token_to_id.find(absl::string_view(&word[key_begin], end - key_begin));
      if (it != vocab_->token_to_id.end()) {
        piece_id = it->second;
        break;
      }
      do {
        --end;
      } while (end > start && IsUtf8Continuation(word[end]));
    }
    if (piece_id < 0) {
      ids->resize(first_piece);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(piece_id);
    start = end;
  }
}

namespace {

using nlohmann::json;
using tokenizer_internal::ConfigError;
using tokenizer_internal::MaxLength;
using tokenizer_internal::ReadBool;
using tokenizer_internal::ReadJsonObject;
using tokenizer_internal::TokenContent;

// Fills `options` from tokenizer_config.json or special_tokens_map.json (read in that order, the
// second overriding the first as in transformers).
absl::Status ApplyHfConfig(const json& config, const std::string& path, WordPieceOptions* options) {
  RETURN_IF_ERROR(ReadBool(config, "do_lower_case", path, &options->lowercase));
  RETURN_IF_ERROR(
      ReadBool(config, "tokenize_chinese_chars", path, &options->tokenize_chinese_chars));
  if (auto it = config.find("strip_accents"); it != config.end()) {
    if (it->is_boolean()) {
      options->strip_accents = it->get<bool>();
    } else if (it->is_null()) {
      options->strip_accents.reset();
    } else {
      return ConfigError(path, "\"strip_accents\" must be a boolean or null");
    }
  }
  ASSIGN_OR_RETURN(std::optional<double> max_length, MaxLength(config, path));
  if (max_length.has_value()) {
    const double value = *max_length;
    options->max_length = value >= kMaxHfModelLength || std::isnan(value) ? kMaxHfModelLength
                                                                          : static_cast<int>(value);
  }
  const std::pair<const char*, std::string*> named_tokens[] = {
      {"unk_token", &options->unk_token},
      {"cls_token", &options->cls_token},
      {"sep_token", &options->sep_token},
      {"pad_token", &options->pad_token},
      {"mask_token", &options->mask_token}};
  for (const auto& [key, token] : named_tokens) {
    auto it = config.find(key);
    if (it == config.end()) continue;
    if (it->is_null()) {
      token->clear();
      continue;
    }
    ASSIGN_OR_RETURN(*token, TokenContent(*it, path));
  }
  auto add_extra = [&](std::string token) {
    auto& extras = options->extra_special_tokens;
    if (std::find(extras.begin(), extras.end(), token) == extras.end()) {
      extras.push_back(std::move(token));
    }
  };
  if (auto it = config.find("additional_special_tokens"); it != config.end() && !it->is_null()) {
    if (!it->is_array()) return ConfigError(path, "\"additional_special_tokens\" must be a list");
    for (const json& token : *it) {
      ASSIGN_OR_RETURN(std::string content, TokenContent(token, path));
      add_extra(std::move(content));
    }
  }
  if (auto it = config.find("added_tokens_decoder"); it != config.end() && !it->is_null()) {
    if (!it->is_object()) return ConfigError(path, "\"added_tokens_decoder\" must be an object");
    for (const auto& [id, token] : it->items()) {
      ASSIGN_OR_RETURN(std::string content, TokenContent(token, path));
      // HF matches normalized added tokens in the normalized text and single-word ones only
      // between word boundaries; neither is modelled here, so refuse rather than diverge.
      if (token.is_object() &&
          (token.value("normalized", false) == true || token.value("single_word", false) == true)) {
        return absl::UnimplementedError(
            absl::StrCat(path, ": added token \"", content, "\" (id ", id,
                         ") is normalized or single_word, which is not supported"));
      }
      add_extra(std::move(content));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WordPieceOptions> WordPieceOptionsFromHfFolder(const std::string& dir) {
  WordPieceOptions options;
  options.vocab_file = (fs::path(dir) / "vocab.txt").string();
  std::error_code error;
  if (!fs::is_regular_file(options.vocab_file, error)) {
    return absl::NotFoundError(absl::StrCat("no vocab.txt in ", dir));
  }
  options.max_length = kMaxHfModelLength;
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string path = (fs::path(dir) / name).string();
    if (!fs::exists(path, error)) continue;
    ASSIGN_OR_RETURN(json config, ReadJsonObject(path));
    try {
      RETURN_IF_ERROR(ApplyHfConfig(config, path, &options));
    } catch (const json::exception& e) {
      return ConfigError(path, e.what());
    }
  }
  // Named tokens are matched already; listing them again among the extras is harmless but noisy.
  auto& extras = options.extra_special_tokens;
  extras.erase(std::remove_if(extras.begin(), extras.end(),
                              [&](const std::string& token) {
                                return token == options.unk_token || token == options.cls_token ||
                                       token == options.sep_token || token == options.pad_token ||
                                       token == options.mask_token;
                              }),
               extras.end());
  return options;
}

}  // namespace semrec
