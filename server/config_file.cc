#include "server/config_file.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"

namespace semrec {
namespace {

constexpr std::string_view kSpace = " \t\r\f\v";

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

absl::Status LineError(const std::string& path, int line, const std::string& what) {
  return absl::InvalidArgumentError(path + ":" + std::to_string(line) + ": " + what);
}

bool IsFlagName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// The value after `=`: quoted (the quotes removed, nothing but a comment after them) or bare (up
// to a `#` that follows a space). Empty `error` when it is well formed.
std::string ParseValue(std::string_view raw, std::string* error) {
  raw = Trim(raw);
  if (!raw.empty() && (raw[0] == '"' || raw[0] == '\'')) {
    const size_t close = raw.find(raw[0], 1);
    if (close == std::string_view::npos) {
      *error = std::string("the value's opening ") + raw[0] + " is never closed";
      return "";
    }
    const std::string_view rest = Trim(raw.substr(close + 1));
    if (!rest.empty() && rest[0] != '#') {
      *error = "unexpected \"" + std::string(rest) + "\" after the quoted value";
      return "";
    }
    return std::string(raw.substr(1, close - 1));
  }
  for (size_t i = 1; i < raw.size(); ++i) {
    if (raw[i] == '#' && kSpace.find(raw[i - 1]) != std::string_view::npos) {
      return std::string(Trim(raw.substr(0, i)));
    }
  }
  if (!raw.empty() && raw[0] == '#') return "";  // `name = # comment`: an empty value
  return std::string(raw);
}

}  // namespace

absl::StatusOr<std::vector<ConfigEntry>> ParseConfig(std::string_view text,
                                                     const std::string& path) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte order mark
  std::vector<ConfigEntry> entries;
  std::map<std::string, int> first_line;
  int line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = Trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return LineError(path, line_number,
                       "expected `name = value`, got \"" + std::string(line) + "\"");
    }
    const std::string name(Trim(line.substr(0, equals)));
    if (name.size() > 1 && name[0] == '-') {
      return LineError(path, line_number,
                       "write the flag name without dashes: `" +
                           name.substr(name[1] == '-' ? 2 : 1) + " = ...`");
    }
    if (!IsFlagName(name)) {
      return LineError(path, line_number,
                       "\"" + name + "\" is not a flag name (letters, digits and _)");
    }
    std::string error;
    std::string value = ParseValue(line.substr(equals + 1), &error);
    if (!error.empty()) return LineError(path, line_number, name + ": " + error);
    if (auto [it, inserted] = first_line.emplace(name, line_number); !inserted) {
      return LineError(path, line_number,
                       name + " is already set on line " + std::to_string(it->second));
    }
    entries.push_back({line_number, name, std::move(value)});
  }
  return entries;
}

std::set<std::string> FlagsSetOnCommandLine(int argc, char** argv) {
  std::set<std::string> names;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;  // a positional argument
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const size_t equals = arg.find('=');
    const std::string name(arg.substr(0, equals));
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && equals == std::string_view::npos && name.rfind("no", 0) == 0) {
      // `--noname` sets the bool flag `name` to false.
      const absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        names.insert(name.substr(2));
        continue;
      }
    }
    names.insert(name);
    // `--name value`: the next argument is the value of a flag that is not a bool.
    if (equals == std::string_view::npos && flag != nullptr && !flag->IsOfType<bool>()) ++i;
  }
  return names;
}

absl::StatusOr<AppliedConfig> ApplyConfig(const std::vector<ConfigEntry>& entries,
                                          const std::string& path,
                                          const std::set<std::string>& command_line) {
  AppliedConfig applied;
  for (const ConfigEntry& entry : entries) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(entry.name);
    // absl's own flags (flagfile, fromenv, help...) and --config itself are not settings.
    if (flag == nullptr || flag->IsRetired() || entry.name == "config" ||
        flag->Filename().find("absl/flags/") != std::string::npos) {
      return LineError(path, entry.line,
                       "unknown setting \"" + entry.name +
                           "\" (names are the server's flags: semrec-server --help)");
    }
    if (command_line.count(entry.name) > 0) {
      applied.kept.push_back(entry.name);
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(entry.value, &error)) {
      return LineError(path, entry.line, entry.name + " = \"" + entry.value + "\": " + error);
    }
    applied.set.push_back(entry.name);
  }
  return applied;
}

absl::StatusOr<AppliedConfig> ApplyConfigFile(const std::string& path, int argc, char** argv) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError("config file " + path +
                                      ": cannot read: " + std::strerror(errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError("config file " + path + ": read error");
  absl::StatusOr<std::vector<ConfigEntry>> entries = ParseConfig(content.str(), path);
  if (!entries.ok()) return entries.status();
  return ApplyConfig(*entries, path, FlagsSetOnCommandLine(argc, argv));
}

}  // namespace semrec
