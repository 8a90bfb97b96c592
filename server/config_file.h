// Config file: the server's flags as `name = value` lines, so that a Kubernetes ConfigMap can be
// mounted and named with --config. Flags on the command line win over the file, the file over
// the defaults. Anything the file gets wrong stops start-up with `path:line: what`.
//
//   absl::ParseCommandLine(argc, argv);
//   ASSIGN_OR_RETURN(AppliedConfig applied, ApplyConfigFile("/etc/semrec.conf", argc, argv));
//   // applied.set: names taken from the file; applied.kept: names the command line had set
//
// The format, one setting per line: `name = value` with a flag name as main.cc defines it (no
// dashes), `#` starting a comment (a whole line, or after a space following the value), blank
// lines ignored, and the value optionally in matching "double" or 'single' quotes (no escapes),
// which keeps a `#` or surrounding spaces. An empty value is allowed (`http_listen =`).
//
// Thread-compatible: call once at start-up, before other threads read flags.
#ifndef SEMREC_SERVER_CONFIG_FILE_H_
#define SEMREC_SERVER_CONFIG_FILE_H_

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace semrec {

struct ConfigEntry {
  int line = 0;  // 1-based line of the file
  std::string name;
  std::string value;
};

// The settings in `text`, the content of `path` (which only names it in errors); INVALID_ARGUMENT
// "path:line: ..." for a malformed line or a name set twice.
absl::StatusOr<std::vector<ConfigEntry>> ParseConfig(std::string_view text,
                                                     const std::string& path);

// The names of the flags argv sets explicitly (`--name=v`, `--name v`, `-name`, and a bool's
// `--noname`), up to a lone `--`.
std::set<std::string> FlagsSetOnCommandLine(int argc, char** argv);

struct AppliedConfig {
  std::vector<std::string> set;   // flags set from the file
  std::vector<std::string> kept;  // in the file, but the command line's value was kept
};

// Sets each entry's flag through absl's flag registry, except those in `command_line`.
// INVALID_ARGUMENT "path:line: ..." for a name that is not a server flag (absl's own flags such
// as flagfile, and config itself, included) or a value the flag cannot parse; flags set before
// the error keep their new values (start-up stops anyway).
absl::StatusOr<AppliedConfig> ApplyConfig(const std::vector<ConfigEntry>& entries,
                                          const std::string& path,
                                          const std::set<std::string>& command_line);

// Reads, parses and applies `path` under the command line argc/argv. Also INVALID_ARGUMENT when
// the file cannot be read.
absl::StatusOr<AppliedConfig> ApplyConfigFile(const std::string& path, int argc, char** argv);

}  // namespace semrec

#endif  // SEMREC_SERVER_CONFIG_FILE_H_
