#include "core/encoder/manifest.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace semrec {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

absl::Status Invalid(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("encoder manifest ", path, ": ", what));
}

std::string Resolve(const fs::path& dir, const std::string& file) {
  fs::path p(file);
  return (p.is_absolute() ? p : dir / p).lexically_normal().string();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> EncoderManifest::CreateTokenizer() const {
  auto tokenizer = WordPieceTokenizer::Create(wordpiece);
  if (!tokenizer.ok()) return tokenizer.status();
  return std::unique_ptr<Tokenizer>(std::move(tokenizer).value());
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
    if (m.dimension <= 0 || m.dimension > 65536) return Invalid(path, "\"dimension\" must be 1..65536");
    m.max_length = j.value("max_length", 0);
    if (m.max_length < 2 || m.max_length > 8192) return Invalid(path, "\"max_length\" must be 2..8192");
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
    const std::string kind = t.value("kind", "wordpiece");
    if (kind != "wordpiece") {
      return Invalid(path, absl::StrCat("tokenizer kind \"", kind, "\" is not supported (wordpiece)"));
    }
    WordPieceOptions& w = m.wordpiece;
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
    w.max_length = m.max_length;
  } catch (const json::exception& e) {
    return Invalid(path, absl::StrCat("a field has the wrong type: ", e.what()));
  }
  return m;
}

}  // namespace semrec
