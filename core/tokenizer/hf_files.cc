#include "core/tokenizer/hf_files.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

namespace semrec::tokenizer_internal {

namespace fs = std::filesystem;
using nlohmann::json;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error)) return absl::NotFoundError(absl::StrCat("no such file: ", path));
  if (!fs::is_regular_file(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat("not a regular file: ", path));
  }
  std::ifstream in(path, std::ios::binary);
  const auto size = fs::file_size(path, error);
  std::string contents(error ? 0 : size, '\0');
  if (!in || error || !in.read(contents.data(), static_cast<std::streamsize>(size))) {
    return absl::UnavailableError(absl::StrCat("cannot read ", path));
  }
  return contents;
}

absl::Status ConfigError(const std::string& path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

absl::StatusOr<json> ReadJsonObject(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json parsed = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return ConfigError(path, "not a JSON object");
  }
  return parsed;
}

absl::Status ReadBool(const json& config, const char* key, const std::string& path, bool* out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return ConfigError(path, absl::StrCat("\"", key, "\" must be a boolean"));
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::StatusOr<std::string> TokenContent(const json& token, const std::string& path) {
  if (token.is_string()) return token.get<std::string>();
  if (token.is_object()) {
    auto content = token.find("content");
    if (content != token.end() && content->is_string()) return content->get<std::string>();
  }
  return ConfigError(path, absl::StrCat("bad token ", token.dump()));
}

absl::StatusOr<std::optional<double>> MaxLength(const json& config, const std::string& path) {
  for (const char* key : {"model_max_length", "max_length"}) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) continue;
    if (!it->is_number()) return ConfigError(path, absl::StrCat("\"", key, "\" must be a number"));
    return it->get<double>();
  }
  return std::nullopt;
}

}  // namespace semrec::tokenizer_internal
