// The XDP front door's settings: CIDR parsing (clear refusals), sources (IPv4, IPv6 /64), config
// validation, and the --xdp-* flags and xdp-* YAML keys merged like every other setting.
#include "app/agent_config.h"
#include "datapath/xdp_cidr.h"
#include "datapath/xdp_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <unistd.h>

namespace wsteer::datapath {
namespace {

std::string refusal(const std::string& text) {
  try {
    parse_cidr(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(XdpCidr, ParsesBothFamiliesAndBareAddresses) {
  const auto a = parse_cidr("10.0.0.0/8");
  EXPECT_FALSE(a.v6);
  EXPECT_EQ(a.prefix, 8);
  EXPECT_EQ(to_string(a), "10.0.0.0/8");
  EXPECT_EQ(to_string(parse_cidr("203.0.113.7")), "203.0.113.7/32");
  const auto b = parse_cidr("2001:db8::/32");
  EXPECT_TRUE(b.v6);
  EXPECT_EQ(to_string(b), "2001:db8::/32");
  EXPECT_EQ(to_string(parse_cidr("fd77:2::2")), "fd77:2::2/128");
  EXPECT_EQ(to_string(parse_cidr("0.0.0.0/0")), "0.0.0.0/0");
  const auto key = lpm4_key(parse_cidr("192.168.4.0/22"));
  EXPECT_EQ(key.prefixlen, 22u);
  EXPECT_EQ(key.addr[0], 192);
  EXPECT_EQ(key.addr[2], 4);
  EXPECT_EQ(cidr_of(key), parse_cidr("192.168.4.0/22"));
  EXPECT_EQ(cidr_of(lpm6_key(b)), b);
}

TEST(XdpCidr, RefusesWhatItCannotReadOrWouldHaveToGuess) {
  EXPECT_NE(refusal("10.1.2.3/8").find("host bits set (did you mean 10.0.0.0/8?)"), std::string::npos);
  EXPECT_NE(refusal("2001:db8::1/64").find("did you mean 2001:db8::/64?"), std::string::npos);
  EXPECT_NE(refusal("10.0.0.0/33").find("0..32"), std::string::npos);
  EXPECT_NE(refusal("::/129").find("0..128"), std::string::npos);
  EXPECT_NE(refusal("10.0.0.0/").find("prefix length"), std::string::npos);
  EXPECT_NE(refusal("10.0.0.0/8x").find("prefix length"), std::string::npos);
  EXPECT_NE(refusal("example.com/24").find("not a CIDR"), std::string::npos);
  EXPECT_NE(refusal("").find("not a CIDR"), std::string::npos);
  EXPECT_THROW(lpm4_key(parse_cidr("::/0")), std::invalid_argument);
}

TEST(XdpSource, Ipv4IsOneAddressIpv6IsItsSlash64) {
  namespace ip = boost::asio::ip;
  EXPECT_EQ(to_string(source_of(ip::make_address("203.0.113.7"))), "203.0.113.7");
  EXPECT_EQ(to_string(source_of(ip::make_address("::ffff:203.0.113.7"))), "203.0.113.7");
  const auto a = source_of(ip::make_address("2001:db8:1:2:aaaa::1"));
  const auto b = source_of(ip::make_address("2001:db8:1:2:bbbb::9"));
  EXPECT_EQ(0, std::memcmp(a.addr, b.addr, 16)) << "one /64, one source";
  EXPECT_EQ(to_string(a), "2001:db8:1:2::/64");
  EXPECT_NE(0, std::memcmp(a.addr, source_of(ip::make_address("2001:db8:1:3::1")).addr, 16));
  // The layout the XDP program builds: ::ffff:a.b.c.d.
  const auto v4 = source_of(ip::make_address("10.77.2.2"));
  EXPECT_EQ(v4.addr[10], 0xff);
  EXPECT_EQ(v4.addr[12], 10);
  EXPECT_EQ(v4.addr[15], 2);
}

std::string invalid(const XdpConfig& c) {
  try {
    validate_xdp_config(c);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(XdpConfigValidation, RefusesBadInterfacesLimitsAndListsWithoutInterfaces) {
  XdpConfig c;
  EXPECT_EQ(invalid(c), "");  // off
  c.interfaces = {"eth0", "eth1"};
  EXPECT_EQ(invalid(c), "");
  c.interfaces = {"eth0", "eth0"};
  EXPECT_NE(invalid(c).find("listed twice"), std::string::npos);
  c.interfaces = {"a-very-long-interface-name"};
  EXPECT_NE(invalid(c).find("1 to 15 characters"), std::string::npos);
  c.interfaces = {"eth0/1"};
  EXPECT_NE(invalid(c).find("not an interface name"), std::string::npos);
  c.interfaces = {"eth0"};
  c.syn_burst = 0;
  EXPECT_NE(invalid(c).find("xdp-syn-burst"), std::string::npos);
  c.syn_rate = 0;  // no rate limit: the burst does not matter
  EXPECT_EQ(invalid(c), "");
  c.syn_rate = 2'000'000'000u;
  c.syn_burst = 1;
  EXPECT_NE(invalid(c).find("xdp-syn-rate"), std::string::npos);
  XdpConfig off;
  off.deny = {parse_cidr("10.0.0.0/8")};
  EXPECT_NE(invalid(off).find("need xdp-interfaces"), std::string::npos);
}

TEST(XdpConfigValidation, MapValueIsTheTokenBucketInNanoseconds) {
  XdpConfig c;
  c.syn_rate = 50;
  c.syn_burst = 100;
  c.max_conns_per_source = 7;
  const auto m = xdp_map_config(c);
  EXPECT_EQ(m.syn_cost_ns, 20'000'000u);
  EXPECT_EQ(m.syn_burst_ns, 2'000'000'000u);
  EXPECT_EQ(m.max_conns_per_source, 7u);
  c.syn_rate = 0;
  EXPECT_EQ(xdp_map_config(c).syn_cost_ns, 0u);  // the program's "no limit"
}

}  // namespace
}  // namespace wsteer::datapath

namespace wsteer::app {
namespace {

AgentConfig parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"wsteer-agent", "--listen", "10.0.0.1:8080", "--endpoints-file", "/dev/null"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_agent_config(static_cast<int>(argv.size()), argv.data());
}

TEST(XdpAgentSettings, FlagsAndYamlKeysFlagsWin) {
  const auto path = std::filesystem::temp_directory_path() / ("wsteer-xdp-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << "xdp-interfaces: [eth0, eth1]\nxdp-syn-rate: 30\nxdp-syn-burst: 60\n"
                         "xdp-max-conns-per-source: 9\nxdp-deny: [10.0.0.0/8, '2001:db8::/32']\nxdp-allow: 10.1.0.0/16\n";
  const auto file = parse({"--config", path.string()});
  EXPECT_EQ(file.xdp.interfaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(file.xdp.syn_rate, 30u);
  EXPECT_EQ(file.xdp.syn_burst, 60u);
  EXPECT_EQ(file.xdp.max_conns_per_source, 9u);
  ASSERT_EQ(file.xdp.deny.size(), 2u);
  EXPECT_TRUE(file.xdp.deny[1].v6);
  ASSERT_EQ(file.xdp.allow.size(), 1u);
  const auto flags = parse({"--config", path.string(), "--xdp-interfaces", "bond0", "--xdp-syn-rate", "5"});
  EXPECT_EQ(flags.xdp.interfaces, (std::vector<std::string>{"bond0"}));
  EXPECT_EQ(flags.xdp.syn_rate, 5u);
  EXPECT_EQ(flags.xdp.syn_burst, 60u);  // from the file
  std::filesystem::remove(path);
  const auto none = parse({});
  EXPECT_FALSE(none.xdp.enabled());
  EXPECT_EQ(none.xdp.syn_rate, 100u);
}

TEST(XdpAgentSettings, BadValuesExitWithAClearMessage) {
  EXPECT_EXIT(parse({"--xdp-interfaces", "eth0", "--xdp-deny", "10.1.2.3/8"}), ::testing::ExitedWithCode(2),
              "xdp-deny: '10.1.2.3/8' has host bits set");
  EXPECT_EXIT(parse({"--xdp-deny", "10.0.0.0/8"}), ::testing::ExitedWithCode(2), "need xdp-interfaces");
  EXPECT_EXIT(parse({"--xdp-interfaces", "eth0,eth0"}), ::testing::ExitedWithCode(2), "listed twice");
}

}  // namespace
}  // namespace wsteer::app
