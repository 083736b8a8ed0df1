// /v1/connections: what one agent serves and the scaling leader reads back. A report survives
// the round trip exactly; a malformed one is refused with the field that is wrong, never summed.
#include "admin/connections_report.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace wsteer::admin {
namespace {

namespace json = boost::json;

ConnectionsReport sample() {
  return {"wsteer-x7k2p",
          1796220000,
          {{"games/chat", {{"10.0.1.5:8080", 412}, {"10.0.2.9:8080", 0}}},
           {"games/lobby", {}},
           {"default", {{"[fd00::7]:9000", 18446744073709551615ull}}}}};
}

std::string error_of(const std::string& body) {
  try {
    parse_connections_report(body);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ConnectionsReport, FormatsTheDocumentedShape) {
  const auto doc = json::parse(format_connections_report(sample())).as_object();
  EXPECT_EQ(doc.at("agent").as_string(), "wsteer-x7k2p");
  EXPECT_EQ(doc.at("time").to_number<std::int64_t>(), 1796220000);
  const auto& services = doc.at("services").as_array();
  ASSERT_EQ(services.size(), 3u);
  const auto& chat = services[0].as_object();
  EXPECT_EQ(chat.at("service").as_string(), "games/chat");
  const auto& backends = chat.at("backends").as_array();
  ASSERT_EQ(backends.size(), 2u);
  EXPECT_EQ(backends[0].as_object().at("backend").as_string(), "10.0.1.5:8080");
  EXPECT_EQ(backends[0].as_object().at("active").to_number<std::uint64_t>(), 412u);
  EXPECT_TRUE(services[1].as_object().at("backends").as_array().empty());
}

TEST(ConnectionsReport, RoundTrips) {
  const auto original = sample();
  const auto back = parse_connections_report(format_connections_report(original));
  EXPECT_EQ(back.agent, original.agent);
  EXPECT_EQ(back.time, original.time);
  ASSERT_EQ(back.services.size(), original.services.size());
  for (std::size_t i = 0; i < back.services.size(); ++i) {
    EXPECT_EQ(back.services[i].service, original.services[i].service);
    ASSERT_EQ(back.services[i].backends.size(), original.services[i].backends.size());
    for (std::size_t j = 0; j < back.services[i].backends.size(); ++j) {
      EXPECT_EQ(back.services[i].backends[j].backend, original.services[i].backends[j].backend);
      EXPECT_EQ(back.services[i].backends[j].active, original.services[i].backends[j].active);
    }
  }
  EXPECT_EQ(back.total("games/chat"), 412u);
  EXPECT_EQ(back.total("games/lobby"), 0u);
  EXPECT_EQ(back.total("games/none"), 0u);
  EXPECT_EQ(back.find("games/none"), nullptr);
  ASSERT_NE(back.find("default"), nullptr);
  EXPECT_EQ(back.find("default")->backends[0].active, 18446744073709551615ull);
}

TEST(ConnectionsReport, AnEmptyAgentRoundTrips) {
  const auto back = parse_connections_report(format_connections_report({"wsteer-a", 0, {}}));
  EXPECT_EQ(back.agent, "wsteer-a");
  EXPECT_TRUE(back.services.empty());
}

TEST(ConnectionsReport, UnknownKeysAreIgnored) {
  const auto r = parse_connections_report(
      R"({"agent": "a", "time": 5, "version": 2, "node": "n1",
          "services": [{"service": "s", "draining": true, "backends": [{"backend": "b", "active": 3, "spliced": 3}]}]})");
  EXPECT_EQ(r.total("s"), 3u);
}

TEST(ConnectionsReport, MalformedReportsAreRejectedWithTheField) {
  struct Case {
    std::string body, message;
  };
  const std::string ok_service = R"({"service": "s", "backends": [{"backend": "b", "active": 1}]})";
  const Case cases[] = {
      {"", "connections report: not JSON"},
      {"{\"agent\": \"a\",", "connections report: not JSON"},
      {"[1]", "connections report: the body: expected an object"},
      {R"({"time": 1, "services": []})", "connections report: agent: missing"},
      {R"({"agent": "", "time": 1, "services": []})", "connections report: agent: empty"},
      {R"({"agent": 7, "time": 1, "services": []})", "connections report: agent: expected a string"},
      {R"({"agent": "a", "services": []})", "connections report: time: missing"},
      {R"({"agent": "a", "time": -1, "services": []})", "connections report: time: expected unix seconds"},
      {R"({"agent": "a", "time": "now", "services": []})", "connections report: time: expected unix seconds"},
      {R"({"agent": "a", "time": 1})", "connections report: services: missing"},
      {R"({"agent": "a", "time": 1, "services": {}})", "connections report: services: expected an array"},
      {R"({"agent": "a", "time": 1, "services": [3]})", "connections report: services[0]: expected an object"},
      {R"({"agent": "a", "time": 1, "services": [{"backends": []}]})", "connections report: services[0].service: missing"},
      {R"({"agent": "a", "time": 1, "services": [{"service": "s"}]})", "connections report: services[0].backends: missing"},
      {R"({"agent": "a", "time": 1, "services": [)" + ok_service + "," + ok_service + "]}",
       "connections report: services[1].service: 's' appears twice"},
      {R"({"agent": "a", "time": 1, "services": [)" + ok_service +
           R"(, {"service": "t", "backends": [{"backend": "b", "active": -2}]}]})",
       "connections report: services[1].backends[0].active: expected a non-negative integer"},
      {R"({"agent": "a", "time": 1, "services": [{"service": "t", "backends": [{"backend": "b", "active": 1.5}]}]})",
       "connections report: services[0].backends[0].active: expected a non-negative integer"},
      {R"({"agent": "a", "time": 1, "services": [{"service": "t", "backends": [{"backend": "b", "active": "7"}]}]})",
       "connections report: services[0].backends[0].active: expected a non-negative integer"},
      {R"({"agent": "a", "time": 1, "services": [{"service": "t", "backends": [{"backend": "b"}]}]})",
       "connections report: services[0].backends[0].active: missing"},
      {R"({"agent": "a", "time": 1, "services": [{"service": "t", "backends": [{"active": 1}]}]})",
       "connections report: services[0].backends[0].backend: missing"},
      {R"({"agent": "a", "time": 1, "services": [{"service": "t", "backends": [{"backend": "b", "active": 1}, {"backend": "b", "active": 2}]}]})",
       "connections report: services[0].backends[1].backend: 'b' appears twice"},
  };
  for (const auto& c : cases) {
    const auto message = error_of(c.body);
    EXPECT_EQ(message.rfind(c.message, 0), 0u) << c.body << "\n  got: '" << message << "'";
  }
}

}  // namespace
}  // namespace wsteer::admin
