#include "server/config_file.h"

#include <fstream>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, cf_workers, 2, "test flag");
ABSL_FLAG(std::string, cf_listen, "127.0.0.1:50051", "test flag");
ABSL_FLAG(bool, cf_tls, true, "test flag");
ABSL_FLAG(absl::Duration, cf_grace, absl::Seconds(10), "test flag");

namespace semrec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return argv;
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(ConfigFileTest, ParsesCommentsBlankLinesQuotesAndLineNumbers) {
  auto entries = ParseConfig(
      "# semrec.conf\n"
      "\n"
      "  cf_workers = 4   # cores\r\n"
      "cf_listen=\"0.0.0.0:50051\"\n"
      "cf_grace = '30s' # quoted\n"
      "cf_tls =\n"
      "model_dir = data/models/a#b\n",
      "semrec.conf");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ((*entries)[0].line, 3);
  EXPECT_EQ((*entries)[0].name, "cf_workers");
  EXPECT_EQ((*entries)[0].value, "4");
  EXPECT_EQ((*entries)[1].value, "0.0.0.0:50051");
  EXPECT_EQ((*entries)[2].value, "30s");
  EXPECT_EQ((*entries)[3].value, "");
  EXPECT_EQ((*entries)[4].value, "data/models/a#b");  // a # inside a word is not a comment
}

TEST(ConfigFileTest, MalformedLinesNameTheFileAndLine) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"cf_workers 4\n", "semrec.conf:1: expected `name = value`"},
      {"\n--cf_workers = 4\n", "semrec.conf:2: write the flag name without dashes: `cf_workers"},
      {"cf workers = 4\n", "semrec.conf:1: \"cf workers\" is not a flag name"},
      {"= 4\n", "semrec.conf:1: \"\" is not a flag name"},
      {"cf_listen = \"0.0.0.0\n", "semrec.conf:1: cf_listen: the value's opening \" is never"},
      {"cf_listen = \"a\" b\n", "semrec.conf:1: cf_listen: unexpected \"b\" after the quoted"},
      {"cf_workers = 1\n# again\ncf_workers = 2\n",
       "semrec.conf:3: cf_workers is already set on line 1"},
  };
  for (const Case& c : cases) {
    auto entries = ParseConfig(c.text, "semrec.conf");
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(Message(entries.status()), HasSubstr(c.message)) << c.text;
  }
}

TEST(ConfigFileTest, FindsTheFlagsTheCommandLineSets) {
  std::vector<std::string> args = {"semrec-server", "--cf_workers", "8",  "-cf_listen=:1",
                                   "--nocf_tls",    "positional",   "--", "--cf_grace=1s"};
  std::vector<char*> argv = Argv(args);
  EXPECT_THAT(FlagsSetOnCommandLine(static_cast<int>(argv.size()), argv.data()),
              ElementsAre("cf_listen", "cf_tls", "cf_workers"));
  // A bool flag takes no separate value: what follows it is not consumed.
  std::vector<std::string> bools = {"semrec-server", "--cf_tls", "--cf_grace=2s"};
  argv = Argv(bools);
  EXPECT_THAT(FlagsSetOnCommandLine(static_cast<int>(argv.size()), argv.data()),
              ElementsAre("cf_grace", "cf_tls"));
}

TEST(ConfigFileTest, TheFileSetsFlagsButTheCommandLineWins) {
  absl::FlagSaver restore;
  auto entries = ParseConfig(
      "cf_workers = 8\ncf_listen = 0.0.0.0:7\ncf_tls = false\n"
      "cf_grace = 1m\n",
      "semrec.conf");
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto applied = ApplyConfig(*entries, "semrec.conf", {"cf_listen"});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(applied->set, ElementsAre("cf_workers", "cf_tls", "cf_grace"));
  EXPECT_THAT(applied->kept, ElementsAre("cf_listen"));
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_workers), 8);
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_listen), "127.0.0.1:50051");  // the command line's (default)
  EXPECT_FALSE(absl::GetFlag(FLAGS_cf_tls));
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_grace), absl::Minutes(1));
}

TEST(ConfigFileTest, UnknownNamesAndBadValuesNameTheFileAndLine) {
  absl::FlagSaver restore;
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"cf_workers = 3\ncf_wrokers = 4\n", "semrec.conf:2: unknown setting \"cf_wrokers\""},
      {"config = other.conf\n", "semrec.conf:1: unknown setting \"config\""},
      {"flagfile = other.flags\n", "semrec.conf:1: unknown setting \"flagfile\""},
      {"\n\ncf_workers = many\n", "semrec.conf:3: cf_workers = \"many\": "},
      {"cf_grace = 10\n", "semrec.conf:1: cf_grace = \"10\": "},
      {"cf_tls = maybe\n", "semrec.conf:1: cf_tls = \"maybe\": "},
  };
  for (const Case& c : cases) {
    auto entries = ParseConfig(c.text, "semrec.conf");
    ASSERT_TRUE(entries.ok()) << entries.status();
    auto applied = ApplyConfig(*entries, "semrec.conf", {});
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(Message(applied.status()), HasSubstr(c.message)) << c.text;
  }
}

TEST(ConfigFileTest, ReadsAFileAndReportsOneItCannotRead) {
  absl::FlagSaver restore;
  const std::string path = ::testing::TempDir() + "/config_file_test.conf";
  std::ofstream(path) << "cf_workers = 6\ncf_listen = \"0.0.0.0:9\"\n";
  std::vector<std::string> args = {"semrec-server", "--config=" + path, "--cf_listen=:5"};
  std::vector<char*> argv = Argv(args);
  auto applied = ApplyConfigFile(path, static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(absl::GetFlag(FLAGS_cf_workers), 6);
  EXPECT_THAT(applied->kept, ElementsAre("cf_listen"));

  auto missing = ApplyConfigFile(path + ".missing", 1, argv.data());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(missing.status()), HasSubstr(path + ".missing: cannot read"));
  EXPECT_THAT(ParseConfig("", "empty.conf").value(), IsEmpty());
}

}  // namespace
}  // namespace semrec
