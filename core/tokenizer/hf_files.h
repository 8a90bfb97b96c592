// Readers for the files of a Hugging Face tokenizer folder (vocab.txt, tokenizer_config.json,
// special_tokens_map.json), shared by WordPieceOptionsFromHfFolder and
// SentencePieceOptionsFromHfFolder. Internal to core/tokenizer.
//
//   using namespace tokenizer_internal;
//   ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonObject(path));
//   ASSIGN_OR_RETURN(std::optional<double> max_length, MaxLength(config, path));
//
// Thread-safe: stateless functions.
#ifndef SEMREC_CORE_TOKENIZER_HF_FILES_H_
#define SEMREC_CORE_TOKENIZER_HF_FILES_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace semrec::tokenizer_internal {

// The whole file. NOT_FOUND when absent, INVALID_ARGUMENT when not a regular file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// INVALID_ARGUMENT "<path>: <message>".
absl::Status ConfigError(const std::string& path, absl::string_view message);

// The JSON object in `path`; INVALID_ARGUMENT when the file holds anything else.
absl::StatusOr<nlohmann::json> ReadJsonObject(const std::string& path);

// Sets *out from config[key] when that is a boolean; leaves it when absent or null.
absl::Status ReadBool(const nlohmann::json& config, const char* key, const std::string& path,
                      bool* out);

// The text of a token written either as a string or as an AddedToken {"content": ..., ...}.
absl::StatusOr<std::string> TokenContent(const nlohmann::json& token, const std::string& path);

// The first of "model_max_length" and "max_length" that is set, as a double (HF writes 1e30, which
// fits no integer type, for "no limit"); nullopt when neither is.
absl::StatusOr<std::optional<double>> MaxLength(const nlohmann::json& config,
                                                const std::string& path);

}  // namespace semrec::tokenizer_internal

#endif  // SEMREC_CORE_TOKENIZER_HF_FILES_H_
