// ModuleLogger: the named spdlog logger of a module ("storage", "encoder", "server"...), so every
// line says which module wrote it. It is the logger registered under that name if there is one,
// else a clone of the default logger, which carries the format and level the server configured
// (call it after logging is configured, e.g. from a function-local static on first use).
//
//   std::shared_ptr<spdlog::logger> Logger() {
//     static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("storage");
//     return logger;
//   }
//
// Thread-safe: spdlog's registry and clone are.
#ifndef SEMREC_CORE_COMMON_LOGGER_H_
#define SEMREC_CORE_COMMON_LOGGER_H_

#include <memory>
#include <string>

#include "spdlog/spdlog.h"

namespace semrec {

inline std::shared_ptr<spdlog::logger> ModuleLogger(const std::string& name) {
  std::shared_ptr<spdlog::logger> registered = spdlog::get(name);
  return registered ? registered : spdlog::default_logger()->clone(name);
}

}  // namespace semrec

#endif  // SEMREC_CORE_COMMON_LOGGER_H_
