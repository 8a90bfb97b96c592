// EncoderManifest: what a model folder's manifest.json says about the exported encoder
// (dimension, pooling, normalization, prefixes, tokenizer), written by tools/make_test_encoder.py
// and tools/export_hf_encoder.py.
//
//   ASSIGN_OR_RETURN(EncoderManifest m, EncoderManifest::Load("/models/minilm"));
//   m.model_path;  // absolute path of the TorchScript file
//
// Thread-compatible: a plain value.
#ifndef SEMREC_CORE_ENCODER_MANIFEST_H_
#define SEMREC_CORE_ENCODER_MANIFEST_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/wordpiece_tokenizer.h"

namespace semrec {

struct EncoderManifest {
  enum class Output { kTokenEmbeddings, kSentenceEmbedding };
  enum class Pooling { kMean, kCls, kNone };

  std::string name;
  std::string model_path;  // resolved against the folder
  int dimension = 0;
  int max_length = 0;
  Output output = Output::kTokenEmbeddings;
  Pooling pooling = Pooling::kMean;
  bool normalize = true;
  std::string query_prefix;
  std::string document_prefix;
  WordPieceOptions wordpiece;  // tokenizer.kind == "wordpiece" (the only kind so far)

  // Reads `<dir>/manifest.json`. NOT_FOUND when absent, INVALID_ARGUMENT naming the bad field.
  static absl::StatusOr<EncoderManifest> Load(const std::string& dir);

  // The tokenizer the manifest describes, truncating to max_length.
  absl::StatusOr<std::unique_ptr<Tokenizer>> CreateTokenizer() const;
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENCODER_MANIFEST_H_
