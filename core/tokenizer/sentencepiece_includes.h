// SentencePiece's C++ headers, includable beside Debian's Abseil. For sentencepiece_tokenizer.cc
// and its test only: nothing else in semrec talks to SentencePiece. Never link libsentencepiece
// into a binary that also has libprotobuf (libtorch): see SentencePieceLibrary in the .cc.
//
//   #include "core/tokenizer/sentencepiece_includes.h"
//   sentencepiece::SentencePieceProcessor processor;
//
// Thread contract: see sentencepiece_processor.h (Encode and the vocabulary getters are const and
// thread-safe once Load() has returned).
//
// sentencepiece_processor.h declares `namespace absl { using std::string_view; }`, which clashes
// with the absl::string_view class of Debian's Abseil (built without the std::string_view alias).
// Renaming that namespace for the duration of the include keeps the two apart; the alias is
// std::string_view either way, so SentencePiece's mangled names, and linking, are unchanged.
#ifndef SEMREC_CORE_TOKENIZER_SENTENCEPIECE_INCLUDES_H_
#define SEMREC_CORE_TOKENIZER_SENTENCEPIECE_INCLUDES_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#pragma push_macro("absl")
#undef absl
#define absl semrec_sentencepiece_absl
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#pragma pop_macro("absl")

#endif  // SEMREC_CORE_TOKENIZER_SENTENCEPIECE_INCLUDES_H_
