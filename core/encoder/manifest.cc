#include "core/encoder/manifest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

namespace semrec {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

absl::Status Invalid(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("encoder manifest ", path, ": ", what));
}

// An error from a Hugging Face folder's files, keeping its code and naming the manifest.
absl::Status InManifest(const std::string& path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("encoder manifest ", path,
                                                  ": \"tokenizer.hf_folder\": ", status.message()));
}

std::string Resolve(const fs::path& dir, const std::string& file) {
  fs::path p(file);
  return (p.is_absolute() ? p : dir / p).lexically_normal().string();
}

// Sets *out from tokenizer[key] when that is present; INVALID_ARGUMENT naming "tokenizer.<key>"
// when it has another type.
template <typename T>
absl::Status ReadTokenizerField(const json& tokenizer, const char* key, const std::string& path,
                                T* out) {
  auto it = tokenizer.find(key);
  if (it == tokenizer.end()) return absl::OkStatus();
  const char* expected = "a string";
  bool ok = it->is_string();
  if constexpr (std::is_same_v<T, bool>) {
    expected = "a boolean";
    ok = it->is_boolean();
  } else if constexpr (std::is_same_v<T, int>) {
    expected = "an integer 0..100000";
    ok = it->is_number_integer() && it->get<int64_t>() >= 0 && it->get<int64_t>() <= 100000;
  }
  if (!ok) return Invalid(path, absl::StrCat("\"tokenizer.", key, "\" must be ", expected));
  *out = it->get<T>();
  return absl::OkStatus();
}

void ReadWordPiece(const json& t, const fs::path& folder, EncoderManifest* m) {
  WordPieceOptions& w = m->wordpiece;
  w.vocab_file = Resolve(folder, t.value("vocab_file", "vocab.txt"));
  w.lowercase = t.value("lowercase", true);
  if (t.contains("strip_accents") && t["strip_accents"].is_boolean()) {
    w.strip_accents = t["strip_accents"].get<bool>();
  }
  w.tokenize_chinese_chars = t.value("tokenize_chinese_chars", true);
  w.unk_token = t.value("unk_token", w.unk_token);
  w.cls_token = t.value("cls_token", w.cls_token);
  w.sep_token = t.value("sep_token", w.sep_token);
  w.pad_token = t.value("pad_token", w.pad_token);
  w.max_length = m->max_length;
}

absl::Status ReadSentencePiece(const json& t, const fs::path& folder, const std::string& path,
                               EncoderManifest* m) {
  SentencePieceOptions& s = m->sentencepiece;
  std::string model_file, flavor_name;
  RETURN_IF_ERROR(ReadTokenizerField(t, "model_file", path, &model_file));
  if (model_file.empty()) return Invalid(path, "\"tokenizer.model_file\" is required");
  s.model_file = Resolve(folder, model_file);
  RETURN_IF_ERROR(ReadTokenizerField(t, "flavor", path, &flavor_name));
  const std::optional<SentencePieceFlavor> flavor = SentencePieceFlavorFromName(flavor_name);
  if (!flavor.has_value()) return Invalid(path, "\"tokenizer.flavor\" must be xlmr, t5 or plain");
  s.flavor = *flavor;
  for (const char* key : {"add_bos", "add_eos"}) {
    if (t.contains(key) && s.flavor != SentencePieceFlavor::kPlain) {
      return Invalid(path, absl::StrCat("\"tokenizer.", key, "\" is for flavor plain only"));
    }
  }
  if (t.contains("extra_ids") && s.flavor != SentencePieceFlavor::kT5) {
    return Invalid(path, "\"tokenizer.extra_ids\" is for flavor t5 only");
  }
  RETURN_IF_ERROR(ReadTokenizerField(t, "add_bos", path, &s.add_bos));
  RETURN_IF_ERROR(ReadTokenizerField(t, "add_eos", path, &s.add_eos));
  s.extra_ids = s.flavor == SentencePieceFlavor::kT5 ? 100 : 0;  // T5Tokenizer's default.
  RETURN_IF_ERROR(ReadTokenizerField(t, "extra_ids", path, &s.extra_ids));
  s.max_length = m->max_length;
  return absl::OkStatus();
}

// Tokenizer classes (with or without "Fast") whose folders WordPieceOptionsFromHfFolder reads; a
// class not listed here is read the same way when its folder has a vocab.txt.
constexpr std::string_view kWordPieceClasses[] = {
    "BertTokenizer",       "DistilBertTokenizer",  "MPNetTokenizer",    "ElectraTokenizer",
    "MobileBertTokenizer", "SqueezeBertTokenizer", "LayoutLMTokenizer", "RetriBertTokenizer"};

// The tokenizer_class of `dir`'s tokenizer_config.json without "Fast"; for folders without one,
// the class its files imply; empty when neither tells.
absl::StatusOr<std::string> HfTokenizerClass(const fs::path& dir, const std::string& path) {
  std::error_code error;
  std::string tokenizer_class;
  const fs::path config_path = dir / "tokenizer_config.json";
  if (fs::exists(config_path, error)) {
    std::ifstream in(config_path);
    const json config = json::parse(in, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded() || !config.is_object()) {
      return Invalid(path, absl::StrCat("\"tokenizer.hf_folder\": ", config_path.string(),
                                        " is not a JSON object"));
    }
    if (auto it = config.find("tokenizer_class"); it != config.end() && it->is_string()) {
      tokenizer_class = it->get<std::string>();
    }
  }
  constexpr std::string_view kFast = "Fast";
  if (tokenizer_class.size() > kFast.size() &&
      tokenizer_class.compare(tokenizer_class.size() - kFast.size(), kFast.size(), kFast) == 0) {
    tokenizer_class.resize(tokenizer_class.size() - kFast.size());
  }
  if (!tokenizer_class.empty()) return tokenizer_class;
  if (fs::exists(dir / "vocab.txt", error)) return std::string("BertTokenizer");
  if (fs::exists(dir / "sentencepiece.bpe.model", error)) return std::string("XLMRobertaTokenizer");
  if (fs::exists(dir / "spiece.model", error)) return std::string("T5Tokenizer");
  return std::string();
}

absl::Status ReadHfFolder(const json& t, const fs::path& folder, const std::string& path,
                          EncoderManifest* m) {
  std::string hf_folder = ".";
  RETURN_IF_ERROR(ReadTokenizerField(t, "hf_folder", path, &hf_folder));
  const fs::path dir = Resolve(folder, hf_folder);
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return Invalid(path,
                   absl::StrCat("\"tokenizer.hf_folder\" ", dir.string(), " is not a directory"));
  }
  ASSIGN_OR_RETURN(const std::string tokenizer_class, HfTokenizerClass(dir, path));
  std::optional<SentencePieceFlavor> flavor;
  if (tokenizer_class == "XLMRobertaTokenizer") {
    flavor = SentencePieceFlavor::kXlmr;
  } else if (tokenizer_class == "T5Tokenizer") {
    flavor = SentencePieceFlavor::kT5;
  } else if (std::find(std::begin(kWordPieceClasses), std::end(kWordPieceClasses),
                       tokenizer_class) == std::end(kWordPieceClasses) &&
             !fs::exists(dir / "vocab.txt", error)) {
    return Invalid(path, absl::StrCat("\"tokenizer.hf_folder\" ", dir.string(),
                                      ": tokenizer_class \"", tokenizer_class,
                                      "\" is not supported (BERT-family WordPiece with a "
                                      "vocab.txt, XLMRobertaTokenizer or T5Tokenizer)"));
  }
  if (flavor.has_value()) {
    absl::StatusOr<SentencePieceOptions> options =
        SentencePieceOptionsFromHfFolder(dir.string(), *flavor);
    if (!options.ok()) return InManifest(path, options.status());
    m->tokenizer_kind = EncoderManifest::TokenizerKind::kSentencePiece;
    m->sentencepiece = *std::move(options);
    m->sentencepiece.max_length = std::min(m->sentencepiece.max_length, m->max_length);
  } else {
    absl::StatusOr<WordPieceOptions> options = WordPieceOptionsFromHfFolder(dir.string());
    if (!options.ok()) return InManifest(path, options.status());
    m->tokenizer_kind = EncoderManifest::TokenizerKind::kWordPiece;
    m->wordpiece = *std::move(options);
    m->wordpiece.max_length = std::min(m->wordpiece.max_length, m->max_length);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> EncoderManifest::CreateTokenizer() const {
  switch (tokenizer_kind) {
    case TokenizerKind::kWordPiece: {
      ASSIGN_OR_RETURN(std::unique_ptr<WordPieceTokenizer> tokenizer,
                       WordPieceTokenizer::Create(wordpiece));
      return std::unique_ptr<Tokenizer>(std::move(tokenizer));
    }
    case TokenizerKind::kSentencePiece: {
      ASSIGN_OR_RETURN(std::unique_ptr<SentencePieceTokenizer> tokenizer,
                       SentencePieceTokenizer::Create(sentencepiece));
      return std::unique_ptr<Tokenizer>(std::move(tokenizer));
    }
  }
  return absl::InternalError("unknown tokenizer kind");
}

absl::StatusOr<EncoderManifest> EncoderManifest::Load(const std::string& dir) {
  const fs::path folder(dir);
  const std::string path = (folder / "manifest.json").string();
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("no encoder manifest at ", path,
                                            " (generate one with tools/make_test_encoder.py or "
                                            "tools/export_hf_encoder.py)"));
  }
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    return Invalid(path, absl::StrCat("not valid JSON: ", e.what()));
  }
  EncoderManifest m;
  try {
    if (j.value("format", "") != "semrec.encoder.v1") {
      return Invalid(path, "\"format\" must be \"semrec.encoder.v1\"");
    }
    m.name = j.value("name", folder.filename().string());
    m.model_path = Resolve(folder, j.value("model_file", "model.pt"));
    m.dimension = j.value("dimension", 0);
    if (m.dimension <= 0 || m.dimension > 65536)
      return Invalid(path, "\"dimension\" must be 1..65536");
    m.max_length = j.value("max_length", 0);
    if (m.max_length < 2 || m.max_length > 8192)
      return Invalid(path, "\"max_length\" must be 2..8192");
    const std::string output = j.value("output", "token_embeddings");
    if (output == "token_embeddings") {
      m.output = Output::kTokenEmbeddings;
    } else if (output == "sentence_embedding") {
      m.output = Output::kSentenceEmbedding;
    } else {
      return Invalid(path, "\"output\" must be token_embeddings or sentence_embedding");
    }
    const std::string pooling = j.value("pooling", "mean");
    if (pooling == "mean") {
      m.pooling = Pooling::kMean;
    } else if (pooling == "cls") {
      m.pooling = Pooling::kCls;
    } else if (pooling == "none") {
      m.pooling = Pooling::kNone;
    } else {
      return Invalid(path, "\"pooling\" must be mean, cls or none");
    }
    if (m.output == Output::kTokenEmbeddings && m.pooling == Pooling::kNone) {
      return Invalid(path, "token_embeddings output needs pooling mean or cls");
    }
    m.normalize = j.value("normalize", true);
    m.query_prefix = j.value("query_prefix", "");
    m.document_prefix = j.value("document_prefix", "");

    if (!j.contains("tokenizer") || !j["tokenizer"].is_object()) {
      return Invalid(path, "missing \"tokenizer\" object");
    }
    const json& t = j["tokenizer"];
    const std::string kind = t.value("kind", t.contains("hf_folder") ? "hf" : "wordpiece");
    if (kind != "hf" && t.contains("hf_folder")) {
      return Invalid(path, "\"tokenizer.hf_folder\" needs \"kind\": \"hf\" (or no kind)");
    }
    if (kind == "wordpiece") {
      ReadWordPiece(t, folder, &m);
    } else if (kind == "sentencepiece") {
      m.tokenizer_kind = TokenizerKind::kSentencePiece;
      RETURN_IF_ERROR(ReadSentencePiece(t, folder, path, &m));
    } else if (kind == "hf") {
      RETURN_IF_ERROR(ReadHfFolder(t, folder, path, &m));
    } else {
      return Invalid(path, absl::StrCat("\"tokenizer.kind\" \"", kind,
                                        "\" is not supported (wordpiece, sentencepiece or hf)"));
    }
  } catch (const json::exception& e) {
    return Invalid(path, absl::StrCat("a field has the wrong type: ", e.what()));
  }
  return m;
}

}  // namespace semrec
