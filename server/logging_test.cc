#include "server/logging.h"

#include <algorithm>
#include <sstream>

#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

TEST(LoggingTest, JsonEscapeMakesAnyTextAValidJsonString) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("a \"quote\" and \\ back"), "a \\\"quote\\\" and \\\\ back");
  EXPECT_EQ(JsonEscape("line\nbreak\ttab\x01"), "line\\nbreak\\ttab\\u0001");
  EXPECT_EQ(JsonEscape("caf\xC3\xA9 \xE6\x8E\xA8"), "caf\xC3\xA9 \xE6\x8E\xA8");  // UTF-8 kept
  EXPECT_EQ(JsonEscape("bad \xFF byte"), "bad \\ufffd byte");
  EXPECT_EQ(JsonEscape("cut \xE6\x8E"), "cut \\ufffd\\ufffd");
}

TEST(LoggingTest, JsonFormatWritesOneObjectPerLine) {
  auto formatter = MakeLogFormatter("json");
  ASSERT_TRUE(formatter.ok());
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("engine", sink);
  logger.set_formatter(std::move(formatter).value());
  logger.warn("said \"hi\"\nthen left");
  const std::string line = out.str();
  EXPECT_EQ(line.rfind("{\"time\":\"", 0), 0u) << line;
  EXPECT_NE(line.find("Z\",\"level\":\"warning\",\"logger\":\"engine\",\"msg\":\"said \\\"hi\\\"\\nthen left\"}"),
            std::string::npos)
      << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);  // one line per record
}

TEST(LoggingTest, BadFormatOrLevelIsAClearError) {
  EXPECT_EQ(ConfigureLogging("xml", "info").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConfigureLogging("text", "loud").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ConfigureLogging("text", "info").ok());
}

}  // namespace
}  // namespace semrec
