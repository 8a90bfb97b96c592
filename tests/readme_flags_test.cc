// Every flag server/main.cc defines has a row in README.md's configuration table, so that the
// README stays the complete reference for the command line and the config file.
#include <fstream>
#include <regex>
#include <sstream>

#include "core/common/testing/test_paths.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(ReadmeFlagsTest, EveryServerFlagIsInTheConfigurationTable) {
  const std::string main_cc = ReadFile(TestSourceDir() + "/server/main.cc");
  const std::string readme = ReadFile(TestSourceDir() + "/README.md");
  const size_t begin = readme.find("## Configuration");
  ASSERT_NE(begin, std::string::npos) << "README.md has no configuration section";
  const size_t end = readme.find("\n## ", begin + 1);
  const std::string section = readme.substr(begin, end - begin);
  // Table rows start with the flag, or two flags sharing a row: | `--a`, `--b` | ...
  std::string rows;
  const std::regex row(R"(^\| (`--\w+`(, `--\w+`)*) \|)", std::regex::multiline);
  for (std::sregex_iterator it(section.begin(), section.end(), row), last; it != last; ++it) {
    rows += (*it)[1].str() + " ";
  }

  const std::regex flag(R"(ABSL_FLAG\(\s*[\w:]+,\s*(\w+),)");
  int flags = 0;
  for (std::sregex_iterator it(main_cc.begin(), main_cc.end(), flag), last; it != last; ++it) {
    ++flags;
    const std::string name = (*it)[1].str();
    EXPECT_NE(rows.find("`--" + name + "`"), std::string::npos)
        << "--" << name << " (server/main.cc) has no row in README.md's configuration table";
  }
  EXPECT_GT(flags, 30);
}

}  // namespace
}  // namespace semrec
