#include "core/tokenizer/sentencepiece_tokenizer.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <new>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "core/common/status_macros.h"
#include "core/tokenizer/hf_files.h"
#include "core/tokenizer/sentencepiece_includes.h"

// Parity: both HF tokenizers run SentencePiece on the text between their special tokens (the slow
// ones call it; the fast ones replay its normalizer, whitespace handling and model). tokenizer.json
// files converted before transformers' SentencePiece converter learnt to strip the right end also
// turn trailing whitespace into a "▁" piece; SentencePiece, and so this tokenizer, drops it.

namespace semrec {
namespace tokenizer_internal {

// libsentencepiece.so bundles its own protobuf-lite and exports all of it, so in a process that
// also has libprotobuf (libtorch brings it) each copy's calls bind to the other's code, and
// protobuf's static initialisers crash before main(). The library is therefore not linked but
// loaded on first use into its own symbol scope (RTLD_LOCAL | RTLD_DEEPBIND):
// SentencePieceProcessor is used through its vtable, and the three non-virtual functions needed are
// looked up by name.
class SentencePieceLibrary {
 public:
  // The library, loaded once; FAILED_PRECONDITION when it cannot be.
  static absl::StatusOr<const SentencePieceLibrary*> Get() {
    static const absl::StatusOr<const SentencePieceLibrary*>* const library = Load();
    return *library;
  }

  // A processor with `model_file` loaded; INVALID_ARGUMENT with SentencePiece's message.
  absl::StatusOr<std::unique_ptr<sentencepiece::SentencePieceProcessor>> NewProcessor(
      const std::string& model_file) const {
    void* memory = ::operator new(sizeof(sentencepiece::SentencePieceProcessor));
    construct_processor_(memory);
    std::unique_ptr<sentencepiece::SentencePieceProcessor> processor(
        static_cast<sentencepiece::SentencePieceProcessor*>(memory));
    std::string error;
    if (!Ok([&] { return processor->Load(model_file); }, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load SentencePiece model ", model_file, ": ", error));
    }
    return processor;
  }

  // SentencePiece's ids for `text`; false (with `ids` unspecified) on failure.
  bool Encode(const sentencepiece::SentencePieceProcessor& processor, std::string_view text,
              std::vector<int>* ids) const {
    return Ok([&] { return processor.Encode(text, ids); }, /*error=*/nullptr);
  }

 private:
  using Constructor = void (*)(void* self);
  using StatusDestructor = void (*)(void* self);
  using StatusMessage = const char* (*)(const void* self);

  static absl::StatusOr<const SentencePieceLibrary*>* Load() {
    using Result = absl::StatusOr<const SentencePieceLibrary*>;
    constexpr const char* kSoname = "libsentencepiece.so.0";
    void* handle = dlopen(kSoname, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (handle == nullptr) {
      return new Result(absl::FailedPreconditionError(absl::StrCat(
          "cannot load ", kSoname, " (Debian package libsentencepiece0): ", dlerror())));
    }
    auto* library = new SentencePieceLibrary();
    library->construct_processor_ = reinterpret_cast<Constructor>(
        dlsym(handle, "_ZN13sentencepiece22SentencePieceProcessorC1Ev"));
    library->destroy_status_ =
        reinterpret_cast<StatusDestructor>(dlsym(handle, "_ZN13sentencepiece4util6StatusD1Ev"));
    library->status_message_ = reinterpret_cast<StatusMessage>(
        dlsym(handle, "_ZNK13sentencepiece4util6Status13error_messageEv"));
    if (library->construct_processor_ == nullptr || library->destroy_status_ == nullptr ||
        library->status_message_ == nullptr) {
      delete library;
      return new Result(absl::FailedPreconditionError(
          absl::StrCat(kSoname, " lacks a SentencePieceProcessor or util::Status symbol")));
    }
    return new Result(library);  // Both stay loaded for the life of the process.
  }

  // Runs `call`, which returns a util::Status, and destroys that status through the library.
  template <typename Call>
  bool Ok(const Call& call, std::string* error) const {
    alignas(sentencepiece::util::Status) unsigned char storage[sizeof(sentencepiece::util::Status)];
    auto* status = new (storage) sentencepiece::util::Status(call());  // No copy: C++17 elision.
    const bool ok = status->ok();
    if (!ok && error != nullptr) *error = status_message_(status);
    destroy_status_(status);
    return ok;
  }

  Constructor construct_processor_ = nullptr;
  StatusDestructor destroy_status_ = nullptr;
  StatusMessage status_message_ = nullptr;
};

}  // namespace tokenizer_internal

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using tokenizer_internal::ConfigError;
using tokenizer_internal::MaxLength;
using tokenizer_internal::ReadBool;
using tokenizer_internal::ReadJsonObject;
using tokenizer_internal::TokenContent;

// XLMRobertaTokenizer's fairseq ids for the four tokens it puts before the SentencePiece pieces.
constexpr int32_t kXlmrBosId = 0;
constexpr int32_t kXlmrPadId = 1;
constexpr int32_t kXlmrEosId = 2;
constexpr int32_t kXlmrUnkId = 3;

// Max length taken from a HF folder: "no limit" (HF writes 1e30) gives the 512 positions of XLM-R
// and T5; longer limits are kept up to bge-m3's 8192.
constexpr int kDefaultHfModelLength = 512;
constexpr int kMaxHfModelLength = 8192;
constexpr double kHfNoLimit = 1e18;

constexpr int kT5ExtraIds = 100;
constexpr std::string_view kExtraIdPrefix = "<extra_id_";

std::string ExtraIdToken(int n) { return absl::StrCat("<extra_id_", n, ">"); }

// N for "<extra_id_N>", else -1.
int ExtraIdNumber(const std::string& token) {
  if (token.size() <= kExtraIdPrefix.size() + 1 ||
      token.compare(0, kExtraIdPrefix.size(), kExtraIdPrefix) != 0 || token.back() != '>') {
    return -1;
  }
  int n = 0;
  for (size_t i = kExtraIdPrefix.size(); i + 1 < token.size(); ++i) {
    if (token[i] < '0' || token[i] > '9' || n > 1'000'000) return -1;
    n = n * 10 + (token[i] - '0');
  }
  return n;
}

const char* FlavorName(SentencePieceFlavor flavor) {
  switch (flavor) {
    case SentencePieceFlavor::kXlmr:
      return "xlmr";
    case SentencePieceFlavor::kT5:
      return "t5";
    case SentencePieceFlavor::kPlain:
      return "plain";
  }
  return "plain";
}

// The named special tokens of XLMRobertaTokenizer and T5Tokenizer, by tokenizer_config.json key.
struct NamedToken {
  const char* key;
  const char* text;
};
constexpr NamedToken kXlmrNamedTokens[] = {
    {"bos_token", "<s>"},   {"cls_token", "<s>"},   {"eos_token", "</s>"},   {"sep_token", "</s>"},
    {"unk_token", "<unk>"}, {"pad_token", "<pad>"}, {"mask_token", "<mask>"}};
constexpr NamedToken kT5NamedTokens[] = {
    {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"pad_token", "<pad>"}};

// Whether `token` is one of the special tokens this tokenizer gives the flavor.
bool IsFamilyToken(const SentencePieceOptions& options, const std::string& token) {
  if (options.flavor == SentencePieceFlavor::kXlmr) {
    for (const NamedToken& named : kXlmrNamedTokens) {
      if (token == named.text) return true;
    }
    return false;
  }
  for (const NamedToken& named : kT5NamedTokens) {
    if (token == named.text) return true;
  }
  const int n = ExtraIdNumber(token);
  return n >= 0 && n < options.extra_ids;
}

// Fills `options` from tokenizer_config.json or special_tokens_map.json, and refuses settings that
// would make HF's tokenizer differ from this one.
absl::Status ApplyHfConfig(const json& config, const std::string& path,
                           SentencePieceOptions* options) {
  ASSIGN_OR_RETURN(std::optional<double> max_length, MaxLength(config, path));
  if (max_length.has_value()) {
    const double value = *max_length;
    if (std::isnan(value) || value >= kHfNoLimit) {
      options->max_length = kDefaultHfModelLength;
    } else {
      options->max_length = static_cast<int>(std::min<double>(value, kMaxHfModelLength));
    }
  }
  const bool xlmr = options->flavor == SentencePieceFlavor::kXlmr;
  if (!xlmr) {
    if (auto it = config.find("extra_ids"); it != config.end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 100000) {
        return ConfigError(path, "\"extra_ids\" must be an integer 0..100000");
      }
      options->extra_ids = it->get<int>();
    }
    bool add_prefix_space = true;
    RETURN_IF_ERROR(ReadBool(config, "add_prefix_space", path, &add_prefix_space));
    if (!add_prefix_space) {
      return absl::UnimplementedError(
          absl::StrCat(path, ": \"add_prefix_space\": false is not supported"));
    }
  }
  const char* tokenizer_class = xlmr ? "XLMRobertaTokenizer" : "T5Tokenizer";
  for (const NamedToken& named :
       xlmr ? absl::MakeConstSpan(kXlmrNamedTokens) : absl::MakeConstSpan(kT5NamedTokens)) {
    auto it = config.find(named.key);
    if (it == config.end() || it->is_null()) continue;
    ASSIGN_OR_RETURN(std::string content, TokenContent(*it, path));
    if (content != named.text) {
      return absl::UnimplementedError(absl::StrCat(path, ": ", named.key, " \"", content,
                                                   "\" differs from ", tokenizer_class, "'s \"",
                                                   named.text, "\", which is not supported"));
    }
  }
  auto check_added = [&](const json& token) -> absl::Status {
    ASSIGN_OR_RETURN(std::string content, TokenContent(token, path));
    if (IsFamilyToken(*options, content)) return absl::OkStatus();
    return absl::UnimplementedError(absl::StrCat(path, ": added token \"", content,
                                                 "\" is not one of ", tokenizer_class,
                                                 "'s own, which is not supported"));
  };
  if (auto it = config.find("additional_special_tokens"); it != config.end() && !it->is_null()) {
    if (!it->is_array()) return ConfigError(path, "\"additional_special_tokens\" must be a list");
    for (const json& token : *it) RETURN_IF_ERROR(check_added(token));
  }
  if (auto it = config.find("added_tokens_decoder"); it != config.end() && !it->is_null()) {
    if (!it->is_object()) return ConfigError(path, "\"added_tokens_decoder\" must be an object");
    for (const auto& [id, token] : it->items()) RETURN_IF_ERROR(check_added(token));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<SentencePieceFlavor> SentencePieceFlavorFromName(std::string_view name) {
  for (SentencePieceFlavor flavor :
       {SentencePieceFlavor::kXlmr, SentencePieceFlavor::kT5, SentencePieceFlavor::kPlain}) {
    if (name == FlavorName(flavor)) return flavor;
  }
  return std::nullopt;
}

absl::StatusOr<SentencePieceOptions> SentencePieceOptionsFromHfFolder(const std::string& dir,
                                                                      SentencePieceFlavor flavor) {
  if (flavor == SentencePieceFlavor::kPlain) {
    return absl::InvalidArgumentError(
        "a Hugging Face folder holds an xlmr or t5 SentencePiece tokenizer, not plain");
  }
  const bool xlmr = flavor == SentencePieceFlavor::kXlmr;
  const char* model_name = xlmr ? "sentencepiece.bpe.model" : "spiece.model";
  SentencePieceOptions options;
  options.flavor = flavor;
  options.model_file = (fs::path(dir) / model_name).string();
  options.max_length = kDefaultHfModelLength;
  options.extra_ids = xlmr ? 0 : kT5ExtraIds;
  std::error_code error;
  if (!fs::is_regular_file(options.model_file, error)) {
    return absl::NotFoundError(absl::StrCat("no ", model_name, " in ", dir));
  }
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
  // Older save_pretrained() also lists added tokens here, as {"<mask>": 250001}.
  const std::string added_path = (fs::path(dir) / "added_tokens.json").string();
  if (fs::exists(added_path, error)) {
    ASSIGN_OR_RETURN(json added, ReadJsonObject(added_path));
    for (const auto& [token, id] : added.items()) {
      if (!IsFamilyToken(options, token)) {
        return absl::UnimplementedError(absl::StrCat(added_path, ": added token \"", token,
                                                     "\" is not one of the tokenizer's own, "
                                                     "which is not supported"));
      }
    }
  }
  return options;
}

SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceOptions options)
    : options_(std::move(options)) {}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Create(
    const SentencePieceOptions& options) {
  const SentencePieceFlavor flavor = options.flavor;
  if (options.max_length < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_length must be at least 2, got ", options.max_length));
  }
  if (flavor != SentencePieceFlavor::kPlain && (options.add_bos || options.add_eos)) {
    return absl::InvalidArgumentError(absl::StrCat("add_bos and add_eos are for the plain flavor; ",
                                                   FlavorName(flavor),
                                                   " adds its own special tokens"));
  }
  if (options.extra_ids < 0 || (options.extra_ids > 0 && flavor != SentencePieceFlavor::kT5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("extra_ids must be 0 or more and is for the t5 flavor only, got ",
                     options.extra_ids, " with ", FlavorName(flavor)));
  }
  std::error_code error;
  if (options.model_file.empty() || !fs::is_regular_file(options.model_file, error)) {
    return absl::NotFoundError(
        absl::StrCat("no SentencePiece model file at \"", options.model_file, "\""));
  }
  ASSIGN_OR_RETURN(const tokenizer_internal::SentencePieceLibrary* library,
                   tokenizer_internal::SentencePieceLibrary::Get());
  ASSIGN_OR_RETURN(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor,
                   library->NewProcessor(options.model_file));

  auto tokenizer = absl::WrapUnique(new SentencePieceTokenizer(options));
  SentencePieceTokenizer& t = *tokenizer;
  t.num_pieces_ = processor->GetPieceSize();
  t.spm_unk_id_ = processor->unk_id();
  const int spm_bos = processor->bos_id(), spm_eos = processor->eos_id();
  const int spm_pad = processor->pad_id();
  std::vector<SpecialToken> specials;
  switch (flavor) {
    case SentencePieceFlavor::kXlmr:
      if (t.spm_unk_id_ != 0 || spm_bos != 1 || spm_eos != 2) {
        return absl::InvalidArgumentError(absl::StrCat(
            "flavor xlmr needs the fairseq layout <unk>=0 <s>=1 </s>=2 in ", options.model_file,
            ", which has <unk>=", t.spm_unk_id_, " <s>=", spm_bos, " </s>=", spm_eos));
      }
      t.id_offset_ = 1;
      t.unk_id_ = kXlmrUnkId;
      t.pad_id_ = kXlmrPadId;
      t.begin_id_ = kXlmrBosId;
      t.end_id_ = kXlmrEosId;
      t.vocab_size_ = t.num_pieces_ + 2;  // <pad> and <mask> are not spm pieces.
      specials = {{"<s>", kXlmrBosId},
                  {"<pad>", kXlmrPadId},
                  {"</s>", kXlmrEosId},
                  {"<unk>", kXlmrUnkId},
                  {"<mask>", t.num_pieces_ + 1}};
      break;
    case SentencePieceFlavor::kT5:
      if (spm_eos < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("flavor t5 needs </s> in ", options.model_file, ", which has none"));
      }
      t.unk_id_ = t.spm_unk_id_;
      t.pad_id_ = spm_pad >= 0 ? spm_pad : t.spm_unk_id_;
      t.end_id_ = spm_eos;
      t.vocab_size_ = t.num_pieces_ + options.extra_ids;
      for (int id : {t.spm_unk_id_, spm_eos, spm_pad}) {
        if (id >= 0) specials.push_back({processor->IdToPiece(id), id});
      }
      for (int n = 0; n < options.extra_ids; ++n) {
        specials.push_back({ExtraIdToken(n), t.vocab_size_ - 1 - n});
      }
      break;
    case SentencePieceFlavor::kPlain:
      if (options.add_bos && spm_bos < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("add_bos is set but ", options.model_file, " has no <s>"));
      }
      if (options.add_eos && spm_eos < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("add_eos is set but ", options.model_file, " has no </s>"));
      }
      t.unk_id_ = t.spm_unk_id_;
      t.pad_id_ = spm_pad >= 0 ? spm_pad : t.spm_unk_id_;
      t.begin_id_ = options.add_bos ? spm_bos : -1;
      t.end_id_ = options.add_eos ? spm_eos : -1;
      t.vocab_size_ = t.num_pieces_;
      break;
  }

  std::stable_sort(specials.begin(), specials.end(),
                   [](const auto& a, const auto& b) { return a.text.size() > b.text.size(); });
  for (SpecialToken& special : specials) {
    if (special.text.empty()) continue;
    t.special_first_byte_[static_cast<unsigned char>(special.text[0])] = true;
    t.special_id_to_token_.emplace(special.id, special.text);
    t.special_tokens_.push_back(std::move(special));
  }
  auto unk = t.special_id_to_token_.find(t.unk_id_);
  t.unk_token_ =
      unk != t.special_id_to_token_.end() ? unk->second : processor->IdToPiece(t.spm_unk_id_);
  t.library_ = library;
  t.processor_ = std::move(processor);
  return tokenizer;
}

std::vector<int32_t> SentencePieceTokenizer::Encode(std::string_view text) const {
  const auto max_length = static_cast<size_t>(options_.max_length);
  const size_t limit = end_id_ >= 0 ? max_length - 1 : max_length;
  std::vector<int32_t> ids;
  ids.reserve(std::min(max_length, text.size() / 2 + 4));
  if (begin_id_ >= 0) ids.push_back(begin_id_);
  AppendIds(text, limit, &ids);
  if (ids.size() > limit) ids.resize(limit);
  if (end_id_ >= 0) ids.push_back(end_id_);
  return ids;
}

std::vector<std::string> SentencePieceTokenizer::IdsToTokens(
    const std::vector<int32_t>& ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (auto special = special_id_to_token_.find(id); special != special_id_to_token_.end()) {
      tokens.push_back(special->second);
      continue;
    }
    const int32_t spm_id = id - id_offset_;
    const bool known = id >= 0 && spm_id >= 0 && spm_id < num_pieces_;
    tokens.push_back(known ? processor_->IdToPiece(spm_id) : unk_token_);
  }
  return tokens;
}

// Special tokens are matched in the raw text, leftmost then longest, as HF's added vocabulary
// does; the text between them is encoded on its own.
void SentencePieceTokenizer::AppendIds(std::string_view text, size_t limit,
                                       std::vector<int32_t>* ids) const {
  size_t segment_start = 0;
  for (size_t i = 0; i < text.size() && ids->size() < limit; ++i) {
    if (!special_first_byte_[static_cast<unsigned char>(text[i])]) continue;
    for (const SpecialToken& special : special_tokens_) {
      if (text.substr(i, special.text.size()) != special.text) continue;
      if (i > segment_start) AppendSegmentIds(text.substr(segment_start, i - segment_start), ids);
      ids->push_back(special.id);
      i += special.text.size() - 1;
      segment_start = i + 1;
      break;
    }
  }
  if (segment_start < text.size() && ids->size() < limit) {
    AppendSegmentIds(text.substr(segment_start), ids);
  }
}

void SentencePieceTokenizer::AppendSegmentIds(std::string_view segment,
                                              std::vector<int32_t>* ids) const {
  std::vector<int> pieces;
  if (!library_->Encode(*processor_, segment, &pieces)) {
    ids->push_back(unk_id_);  // Never happens with a loaded model; keeps Encode total.
    return;
  }
  for (int id : pieces) ids->push_back(id == spm_unk_id_ ? unk_id_ : id + id_offset_);
}

}  // namespace semrec
