// Process logging set-up: spdlog with human-readable text (default) or one JSON object per line
// (for Kubernetes log collectors), timestamps in UTC. Modules log through named loggers cloned
// from the default one ("server", "encoder", ...), so call this before anything logs.
//
//   RETURN_IF_ERROR(ConfigureLogging("json", "info"));
//   spdlog::info("ready");   // {"time":"...Z","level":"info","logger":"main","msg":"ready"}
//
// Thread-compatible: call once at start-up, before other threads log.
#ifndef SEMREC_SERVER_LOGGING_H_
#define SEMREC_SERVER_LOGGING_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/formatter.h"

namespace semrec {

// `format`: "text" or "json"; `level`: trace, debug, info, warn, error, critical, off.
absl::Status ConfigureLogging(const std::string& format, const std::string& level);

// The formatter for `format` ("text" or "json").
absl::StatusOr<std::unique_ptr<spdlog::formatter>> MakeLogFormatter(const std::string& format);

// `text` as the inside of a JSON string literal (quotes, backslashes and control characters
// escaped; invalid UTF-8 bytes replaced by U+FFFD).
std::string JsonEscape(const std::string& text);

}  // namespace semrec

#endif  // SEMREC_SERVER_LOGGING_H_
