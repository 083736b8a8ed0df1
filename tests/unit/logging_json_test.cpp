// --log-format json: every line is one JSON object, whatever the message holds.
#include "core/logging.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace wsteer {
namespace {

std::string parsed(std::string_view text) {
  return std::string(boost::json::parse(json_quote(text)).as_string());
}

TEST(LoggingJson, QuoteRoundTripsQuotesBackslashesAndControls) {
  const std::string nasty = "say \"hi\" \\ path\\to\nnew line\ttab\x01\x1f end";
  EXPECT_EQ(parsed(nasty), nasty);
  EXPECT_EQ(parsed("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"), "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(LoggingJson, InvalidUtf8BecomesReplacementCharacters) {
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(parsed("a\xFF" "b"), "a" + replacement + "b");
  EXPECT_EQ(parsed("\xC0\xAF"), replacement + replacement);  // overlong '/'
  EXPECT_EQ(parsed("\xED\xA0\x80"), replacement + replacement + replacement);  // a surrogate
  EXPECT_EQ(parsed("cut \xE2\x82"), "cut " + replacement + replacement);
}

TEST(LoggingJson, EveryLineIsOneObject) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  spdlog::logger logger("test", sink);
  logger.set_formatter(make_log_formatter("json"));
  logger.set_level(spdlog::level::debug);
  const std::string message = "backend \"b\\0\" said \x02\xFE";
  logger.warn("connection backend_error reason=bad_response client=10.0.0.1:5: {}", message);
  logger.debug("plain");
  std::istringstream lines(out.str());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const auto first = boost::json::parse(line).as_object();
  EXPECT_EQ(first.at("level").as_string(), "warning");
  EXPECT_EQ(first.at("msg").as_string(),
            "connection backend_error reason=bad_response client=10.0.0.1:5: backend \"b\\0\" said \x02\xEF\xBF\xBD");
  EXPECT_TRUE(first.at("ts").as_string().ends_with("Z"));
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(boost::json::parse(line).at("msg").as_string(), "plain");
  EXPECT_FALSE(std::getline(lines, line));
}

TEST(LoggingJson, UnknownFormatOrLevelIsAClearError) {
  EXPECT_THROW(make_log_formatter("xml"), std::invalid_argument);
  EXPECT_THROW(setup_logging("loud", "plain"), std::invalid_argument);
}

}  // namespace
}  // namespace wsteer
