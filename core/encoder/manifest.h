// EncoderManifest: what a model folder's manifest.json says about the exported encoder
// (dimension, pooling, normalization, prefixes, tokenizer), written by tools/make_test_encoder.py
// and tools/export_hf_encoder.py.
//
//   ASSIGN_OR_RETURN(EncoderManifest m, EncoderManifest::Load("/models/minilm"));
//   ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, m.CreateTokenizer());
//
// Thread-compatible: a plain value.
#ifndef SEMREC_CORE_ENCODER_MANIFEST_H_
#define SEMREC_CORE_ENCODER_MANIFEST_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/wordpiece_tokenizer.h"

namespace semrec {

struct EncoderManifest {
  enum class Output { kTokenEmbeddings, kSentenceEmbedding };
  enum class Pooling { kMean, kCls, kNone };
  enum class TokenizerKind { kWordPiece, kSentencePiece };

  std::string name;
  std::string model_path;  // resolved against the folder
  int dimension = 0;
  int max_length = 0;
  Output output = Output::kTokenEmbeddings;
  Pooling pooling = Pooling::kMean;
  bool normalize = true;
  std::string query_prefix;
  std::string document_prefix;
  // The manifest's "tokenizer" object, one of (paths relative to the manifest's folder):
  //   {"kind": "wordpiece", "vocab_file": "vocab.txt", "lowercase": true, ...}
  //   {"kind": "sentencepiece", "model_file": "sentencepiece.bpe.model",
  //    "flavor": "xlmr" | "t5" | "plain", "add_bos": false, "add_eos": false, "extra_ids": 100}
  //   {"kind": "hf", "hf_folder": "."}  (or just {"hf_folder": "."}): the Hugging Face tokenizer
  //     files there; tokenizer_config.json's tokenizer_class picks WordPiece (BERT family, or a
  //     vocab.txt), XLM-R (sentencepiece.bpe.model) or T5 (spiece.model).
  // Either way the tokenizer's max length is at most the manifest's "max_length".
  TokenizerKind tokenizer_kind = TokenizerKind::kWordPiece;
  WordPieceOptions wordpiece;          // tokenizer_kind == kWordPiece
  SentencePieceOptions sentencepiece;  // tokenizer_kind == kSentencePiece

  // Reads `<dir>/manifest.json`, and a "hf_folder"'s tokenizer config. NOT_FOUND when the manifest
  // is absent, INVALID_ARGUMENT naming the bad field; a Hugging Face folder's errors keep their
  // code (NOT_FOUND for a missing vocab or model file, UNIMPLEMENTED for unsupported settings).
  static absl::StatusOr<EncoderManifest> Load(const std::string& dir);

  // The tokenizer the manifest describes, truncating to max_length.
  absl::StatusOr<std::unique_ptr<Tokenizer>> CreateTokenizer() const;
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENCODER_MANIFEST_H_
