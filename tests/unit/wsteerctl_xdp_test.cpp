// wsteerctl xdp: the models its tables and -o json print, built from plain snapshots.
#include "cli/commands.h"
#include "datapath/xdp_cidr.h"

#include <boost/asio/ip/address.hpp>
#include <gtest/gtest.h>

#include <sstream>

namespace wsteer::cli {
namespace {

XdpSourceEntry source(const std::string& address, std::uint64_t rate_drops, std::uint64_t last_drop_ns,
                      std::uint32_t open = 0) {
  XdpSourceEntry e;
  e.source = datapath::source_of(boost::asio::ip::make_address(address));
  e.state.syns = rate_drops + 10;
  e.state.rate_drops = rate_drops;
  e.state.last_drop_ns = last_drop_ns;
  e.open_connections = open;
  return e;
}

TEST(WsteerctlXdp, TopShowsOnlySourcesLimitedWithinTheWindowMostDropsFirst) {
  const std::uint64_t now = 1000ULL * 1'000'000'000ULL;
  const std::vector<XdpSourceEntry> sources{
      source("203.0.113.7", 50, now - 2'000'000'000ULL),
      source("2001:db8:1:2::99", 500, now - 1'000'000ULL, 3),
      source("198.51.100.1", 900, now - 60'000'000'000ULL),  // an old flood: out of the window
      source("10.0.0.1", 0, 0, 7),                             // never limited
  };
  const auto model = xdp_top_model(sources, now, 10, 0);
  EXPECT_EQ(model.at("limited").as_uint64(), 2u);
  const auto& rows = model.at("sources").as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("source").as_string(), "2001:db8:1:2::/64");
  EXPECT_EQ(rows[0].at("open_connections").as_uint64(), 3u);
  EXPECT_EQ(rows[0].at("last_drop_ms_ago").as_uint64(), 1u);
  EXPECT_EQ(rows[1].at("source").as_string(), "203.0.113.7");
  EXPECT_EQ(xdp_top_model(sources, now, 10, 1).at("sources").as_array().size(), 1u);
  std::ostringstream table;
  xdp_top_table(model, table);
  EXPECT_NE(table.str().find("RATE DROPS"), std::string::npos);
  std::ostringstream none;
  xdp_top_table(xdp_top_model({}, now, 10, 0), none);
  EXPECT_EQ(none.str(), "no source limited in the last 10 s\n");
}

TEST(WsteerctlXdp, StatusCountsEveryReasonAndTotals) {
  XdpSnapshot s;
  s.links.push_back({"eth0", 7, 8, 2, "native"});
  s.config.syn_rate = 100;
  s.config.syn_burst = 200;
  s.counters[WSTEER_XDP_PASS_SYN] = 10;
  s.counters[WSTEER_XDP_DROP_SYN_RATE] = 990;
  s.counters[WSTEER_XDP_DROP_MALFORMED] = 5;
  s.deny.push_back({datapath::parse_cidr("203.0.113.0/24"), WSTEER_XDP_ORIGIN_CLI});
  s.sources.push_back(source("10.0.0.1", 0, 0, 4));
  const auto model = xdp_status_model(s);
  EXPECT_EQ(model.at("packets").as_array().size(), static_cast<std::size_t>(WSTEER_XDP_REASON_COUNT));
  EXPECT_EQ(model.at("dropped").as_uint64(), 995u);
  EXPECT_EQ(model.at("passed").as_uint64(), 10u);
  EXPECT_EQ(model.at("open_connections").as_uint64(), 4u);
  EXPECT_EQ(model.at("deny").as_array()[0].at("origin").as_string(), "wsteerctl");
  std::ostringstream table;
  xdp_status_table(model, table);
  EXPECT_NE(table.str().find("eth0"), std::string::npos);
  EXPECT_NE(table.str().find("100/s, burst 200"), std::string::npos);
  EXPECT_NE(table.str().find("203.0.113.0/24  (wsteerctl)"), std::string::npos);
}

}  // namespace
}  // namespace wsteer::cli
