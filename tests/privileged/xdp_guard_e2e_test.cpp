// The XDP front door against real traffic: a flooder namespace sends SYNs (hand-built frames
// through AF_PACKET) at the agent's listen port while a legitimate client opens WebSocket
// connections through the agent. Native XDP on the agent's veth ends (vc to the client, vx to the
// flooder). Checks: the flood is dropped at XDP and counted while every legitimate connection
// succeeds; deny lists block and allow lists exempt (config and wsteerctl); the per-source
// connection cap holds and frees up on close; IPv6 by /64; malformed frames are dropped, VLAN
// frames and traffic to other ports passed untouched; the pinned link survives a killed agent and
// is taken over; a clean exit leaves no link, no program, no pin.
#include "harness/agent_under_test.h"
#include "harness/command.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/prom_text.h"
#include "harness/syn_flood.h"
#include "harness/ws_client.h"

#include <boost/json.hpp>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kAgent4 = "10.77.1.1", kClient4 = "10.77.1.2", kFlooder4 = "10.77.2.2";
const std::string kAgent6 = "fd77:1::1", kClient6 = "fd77:1::2", kFlooder6 = "fd77:2::2";

double xdp_packets(const std::map<std::string, double>& m, const std::string& action, const std::string& reason) {
  const auto it = m.find("wsteer_xdp_packets_total{action=\"" + action + "\",reason=\"" + reason + "\"}");
  return it == m.end() ? -1 : it->second;
}

class XdpGuardE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    topology_ = std::make_unique<Topology>(1);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
    flooder_ = topology_->client_ns() + "f";
    const auto& a = topology_->agent_ns();
    run("ip netns add " + flooder_ + " && ip -n " + flooder_ + " link set lo up");
    flooder_created_ = true;
    run("ip link add vx netns " + flooder_ + " type veth peer name vx netns " + a);
    run("ip -n " + flooder_ + " addr add " + kFlooder4 + "/24 dev vx && ip -n " + flooder_ + " link set vx up");
    run("ip -n " + a + " addr add 10.77.2.1/24 dev vx && ip -n " + a + " link set vx up");
    run("ip -n " + flooder_ + " route add default via 10.77.2.1");
    // IPv6 next to IPv4 (nodad: usable at once).
    run("ip -n " + a + " addr add " + kAgent6 + "/64 dev vc nodad && ip -n " + a + " addr add fd77:2::1/64 dev vx nodad");
    run("ip -n " + topology_->client_ns() + " addr add " + kClient6 + "/64 dev vc nodad && ip -n " +
        topology_->client_ns() + " route add default via " + kAgent6);
    run("ip -n " + flooder_ + " addr add " + kFlooder6 + "/64 dev vx nodad && ip -n " + flooder_ +
        " route add default via fd77:2::1");
    endpoints_ = dir_.path() / "endpoints";
    std::ofstream(endpoints_) << backends_->endpoints();
    agent_vf_mac_ = interface_mac(a, "vx");
    flooder_mac_ = interface_mac(flooder_, "vx");
  }
  void TearDown() override {
    if (agent_ && HasFailure()) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    backends_.reset();
    if (flooder_created_) std::system(("ip netns delete " + flooder_ + " 2>/dev/null").c_str());
    topology_.reset();
  }

  // The agent on [::]:8080 (IPv4 and IPv6) with the XDP guard on vc and vx.
  void start_agent(std::vector<std::string> extra, const std::string& datapath = "splice") {
    std::vector<std::string> args{"--listen", "[::]:8080", "--endpoints-file", endpoints_.string(),
                                  "--xdp-interfaces", "vc,vx"};
    args.insert(args.end(), extra.begin(), extra.end());
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, AgentUnderTest::kServicesFromArgs, datapath, args);
  }

  // wsteerctl in the agent's network namespace (nsenter keeps our mounts, so bpffs stays visible):
  // the interfaces' XDP modes can only be asked there.
  CommandResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/nsenter", "--net=/run/netns/" + topology_->agent_ns(), wsteer_binary("wsteerctl").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--bpffs", agent_->bpffs().string()});
    return run_command(argv);
  }
  json::object ctl_json(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    const auto r = ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    auto v = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << "not JSON: " << r.out;
    return !ec && v.is_object() ? v.as_object() : json::object{};
  }

  FrameSpec syn_from_flooder(bool v6 = false) {
    FrameSpec s;
    s.src_mac = flooder_mac_;
    s.dst_mac = agent_vf_mac_;
    s.src_ip = v6 ? kFlooder6 : kFlooder4;
    s.dst_ip = v6 ? kAgent6 : kAgent4;
    return s;
  }

  // `n` WebSocket connections from the client, each through the agent to the echo backend and
  // back; returns how many succeeded (each has 3 s).
  int legitimate_connections(int n, const std::string& host, std::chrono::milliseconds pace = 0ms) {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_for(pace);
      try {
        run_in_netns(topology_->client_ns(), 3s, [&]() -> asio::awaitable<void> {
          auto c = co_await connect_ws(host, 8080);
          if (co_await round_trip(*c.ws, "hello") == "hello") ++ok;
        });
      } catch (const std::exception& e) {
        std::cerr << "legitimate connection " << i << " failed: " << e.what() << "\n";
      }
    }
    return ok;
  }
  // Whether one connection from the client gets through within `limit`.
  bool can_connect(const std::string& host, std::chrono::milliseconds limit = 1500ms) {
    try {
      run_in_netns(topology_->client_ns(), limit, [&]() -> asio::awaitable<void> {
        auto c = co_await connect_ws(host, 8080);
        co_await round_trip(*c.ws, "x");
      });
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  // Waits (up to 5 s) until wsteerctl reports `n` open connections counted for the cap.
  bool wait_open_connections(std::uint64_t n) {
    for (int i = 0; i < 50; ++i) {
      if (ctl_json({"xdp", "status"}).at("open_connections").to_number<std::uint64_t>() == n) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<AgentUnderTest> agent_;
  std::string flooder_;
  bool flooder_created_ = false;
  std::filesystem::path endpoints_;
  Mac agent_vf_mac_{}, flooder_mac_{};
};

TEST_F(XdpGuardE2E, SynFloodIsDroppedAtXdpWhileEveryLegitimateClientConnects) {
  // The legitimate client opens at most 50 connections a second: under its own limit.
  start_agent({"--xdp-syn-rate", "100", "--xdp-syn-burst", "100"});
  // Every label pair is there, at 0, from the first scrape.
  const auto first = agent_->metrics();
  for (const char* pair : {"pass,not_guarded", "pass,vlan", "pass,allow_list", "pass,established", "pass,syn_accepted",
                           "drop,deny_list", "drop,syn_rate", "drop,conn_limit", "drop,malformed"}) {
    const std::string p(pair);
    const auto comma = p.find(',');
    EXPECT_GE(xdp_packets(first, p.substr(0, comma), p.substr(comma + 1)), 0) << pair << " not exported";
  }
  // A well-formed family a scraper accepts: HELP, TYPE counter.
  const auto reply = http_exchange(topology_->agent_ns(), agent_->host(), AgentUnderTest::kMetricsPort,
                                   "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto exposition = prom::parse(reply.body);
  ASSERT_TRUE(exposition.families.count("wsteer_xdp_packets_total"));
  const auto& family = exposition.families.at("wsteer_xdp_packets_total");
  EXPECT_TRUE(family.help && !family.help->empty());
  EXPECT_EQ(family.type.value_or(""), "counter");
  // Native mode on both veth ends.
  const auto status = ctl_json({"xdp", "status"});
  ASSERT_EQ(status.at("interfaces").as_array().size(), 2u);
  for (const auto& i : status.at("interfaces").as_array()) EXPECT_EQ(i.at("mode").as_string(), "native") << i;

  // As many SYNs as one core can send in 3 s, while the client connects.
  auto flood_done = std::async(std::launch::async, [&] { return flood(flooder_, "vx", syn_from_flooder(), 100'000'000, 3); });
  // Connect in rounds of 10 for as long as the flood lasts.
  int tried = 0, ok = 0;
  do {
    ok += legitimate_connections(10, kAgent4, 20ms);
    tried += 10;
  } while (flood_done.wait_for(0s) != std::future_status::ready);
  const auto flooded = flood_done.get();
  EXPECT_EQ(ok, tried) << "legitimate connections failed during the flood";
  EXPECT_GE(tried, 30);
  std::cerr << ok << " of " << tried << " legitimate WebSocket connections succeeded during the flood\n";
  std::cerr << "flood: " << flooded.sent << " SYNs in " << flooded.seconds << " s ("
            << static_cast<std::uint64_t>(flooded.sent / flooded.seconds) << "/s)\n";

  const auto m = agent_->metrics();
  // The flooder's bucket lets burst + rate x time through; the rest is dropped and counted.
  const double allowed = 100 + 100 * (flooded.seconds + 1) + 50;
  EXPECT_GE(xdp_packets(m, "drop", "syn_rate"), static_cast<double>(flooded.sent) - allowed);
  EXPECT_LE(xdp_packets(m, "pass", "syn_accepted"), allowed + tried * 2);
  EXPECT_GT(xdp_packets(m, "pass", "established"), 0);  // the legitimate flows' data

  // wsteerctl xdp top names the flooder (and not the client).
  const auto top = ctl_json({"xdp", "top", "--window", "60"});
  ASSERT_FALSE(top.at("sources").as_array().empty());
  const auto& worst = top.at("sources").as_array()[0].as_object();
  EXPECT_EQ(worst.at("source").as_string(), kFlooder4);
  EXPECT_GT(worst.at("rate_drops").to_number<std::uint64_t>(), 0u);
  for (const auto& s : top.at("sources").as_array()) EXPECT_NE(s.at("source").as_string(), kClient4);
  const auto table = ctl({"xdp", "status"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("syn_rate"), std::string::npos) << table.out;
}

TEST_F(XdpGuardE2E, Ipv6FloodIsLimitedPerSlash64) {
  start_agent({"--xdp-syn-rate", "20", "--xdp-syn-burst", "40"});
  auto flood_done = std::async(std::launch::async, [&] { return flood(flooder_, "vx", syn_from_flooder(true), 100'000'000, 3); });
  const int ok = legitimate_connections(20, kAgent6);
  const auto flooded = flood_done.get();
  EXPECT_EQ(ok, 20);
  const auto m = agent_->metrics();
  EXPECT_GE(xdp_packets(m, "drop", "syn_rate"), static_cast<double>(flooded.sent) - (40 + 20 * (flooded.seconds + 1) + 20));
  const auto top = ctl_json({"xdp", "top", "--window", "60"});
  ASSERT_FALSE(top.at("sources").as_array().empty());
  EXPECT_EQ(top.at("sources").as_array()[0].at("source").as_string(), "fd77:2::/64");
}

TEST_F(XdpGuardE2E, DenyListBlocksAndAllowListExempts) {
  // Lists from the config file; then changed live with wsteerctl.
  const auto config = dir_.path() / "xdp.yaml";
  std::ofstream(config) << "xdp-deny:\n  - 10.77.2.0/24\n  - fd77:2::/64\nxdp-syn-rate: 10\nxdp-syn-burst: 10\n";
  start_agent({"--config", config.string()});
  auto flooded = flood(flooder_, "vx", syn_from_flooder(), 2000);
  flooded.sent += flood(flooder_, "vx", syn_from_flooder(true), 2000).sent;
  auto m = agent_->metrics();
  EXPECT_GE(xdp_packets(m, "drop", "deny_list"), static_cast<double>(flooded.sent));
  EXPECT_EQ(xdp_packets(m, "drop", "syn_rate"), 0);  // denied before the bucket

  ASSERT_TRUE(can_connect(kAgent4));
  ASSERT_EQ(ctl({"xdp", "deny", kClient4}).exit_code, 0);
  EXPECT_FALSE(can_connect(kAgent4)) << "a denied client got through";
  EXPECT_TRUE(can_connect(kAgent6)) << "the client's IPv6 address is not denied";
  ASSERT_EQ(ctl({"xdp", "allow", "10.77.1.0/24"}).exit_code, 0);
  EXPECT_TRUE(can_connect(kAgent4)) << "the allow list did not exempt a denied client";
  ASSERT_EQ(ctl({"xdp", "undeny", "10.77.1.0/24"}).exit_code, 0);  // off the allow list
  EXPECT_FALSE(can_connect(kAgent4));
  ASSERT_EQ(ctl({"xdp", "undeny", kClient4 + "/32"}).exit_code, 0);
  EXPECT_TRUE(can_connect(kAgent4));

  // The allow list also exempts from the SYN rate: a flooder on it is not limited at all.
  ASSERT_EQ(ctl({"xdp", "allow", kFlooder4}).exit_code, 0);
  const double rate_before = xdp_packets(agent_->metrics(), "drop", "syn_rate");
  const auto exempt = flood(flooder_, "vx", syn_from_flooder(), 1000);
  m = agent_->metrics();
  EXPECT_EQ(xdp_packets(m, "drop", "syn_rate"), rate_before);
  EXPECT_GE(xdp_packets(m, "pass", "allow_list"), static_cast<double>(exempt.sent));

  const auto status = ctl_json({"xdp", "status"});
  EXPECT_EQ(status.at("deny").as_array().size(), 2u) << status;  // the two from the config
  const auto bad = ctl({"xdp", "deny", "10.77.1.2/8"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("host bits"), std::string::npos) << bad.err;
}

// The cap: a spliced flow is counted out by SpliceDatapath::remove(), a userspace session when it
// ends (next test).
TEST_F(XdpGuardE2E, ConnectionCapPerSourceHoldsAndFreesOnClose) {
  start_agent({"--xdp-max-conns-per-source", "5", "--xdp-syn-rate", "0"});
  asio::io_context io;
  std::vector<Connected> open;
  for (int i = 0; i < 5; ++i)
    run_in_netns(io, topology_->client_ns(), 3s, [&]() -> asio::awaitable<void> {
      open.push_back(co_await connect_ws(kAgent4, 8080));
    });
  const auto open_connections = [&] { return ctl_json({"xdp", "status"}).at("open_connections").to_number<std::uint64_t>(); };
  EXPECT_EQ(open_connections(), 5u);
  EXPECT_FALSE(can_connect(kAgent4)) << "a sixth connection got past the cap of 5";
  EXPECT_GE(xdp_packets(agent_->metrics(), "drop", "conn_limit"), 1);
  EXPECT_TRUE(can_connect(kAgent6)) << "the cap is per source: the client's IPv6 /64 is another one";

  // Closing one frees a place (the spliced flow's end counts it out).
  open.pop_back();
  io.poll();
  ASSERT_TRUE(wait_open_connections(4));
  EXPECT_TRUE(can_connect(kAgent4, 3000ms));
}

TEST_F(XdpGuardE2E, ConnectionCapHoldsWithTheUserspaceDatapathToo) {
  start_agent({"--xdp-max-conns-per-source", "2", "--xdp-syn-rate", "0"}, "userspace");
  asio::io_context io;
  std::vector<Connected> open;
  for (int i = 0; i < 2; ++i)
    run_in_netns(io, topology_->client_ns(), 3s, [&]() -> asio::awaitable<void> {
      open.push_back(co_await connect_ws(kAgent4, 8080));
    });
  EXPECT_FALSE(can_connect(kAgent4)) << "a third connection got past the cap of 2";
  open.pop_back();
  io.poll();
  ASSERT_TRUE(wait_open_connections(1));
  EXPECT_TRUE(can_connect(kAgent4, 3000ms));
}

TEST_F(XdpGuardE2E, MalformedFramesAreDroppedVlanAndOtherPortsPassUntouched) {
  start_agent({});
  std::uint64_t malformed = 0;
  for (auto defect : {FrameSpec::Defect::short_doff, FrameSpec::Defect::bad_ihl, FrameSpec::Defect::truncated_tcp}) {
    auto spec = syn_from_flooder();
    spec.defect = defect;
    malformed += flood(flooder_, "vx", spec, 1000).sent;
  }
  auto spec6 = syn_from_flooder(true);
  spec6.defect = FrameSpec::Defect::short_doff;
  malformed += flood(flooder_, "vx", spec6, 1000).sent;
  auto vlan = syn_from_flooder();
  vlan.vlan = 77;
  const auto tagged = flood(flooder_, "vx", vlan, 1000).sent;
  // Only the listen ports are judged: a flood (even malformed) to another port passes at once.
  auto other = syn_from_flooder();
  other.dst_port = 9999;
  const auto not_guarded = flood(flooder_, "vx", other, 1000).sent;
  other.defect = FrameSpec::Defect::short_doff;
  const auto not_guarded_bad = flood(flooder_, "vx", other, 1000).sent;
  const auto m = agent_->metrics();
  EXPECT_GE(xdp_packets(m, "pass", "not_guarded"), static_cast<double>(not_guarded + not_guarded_bad));
  EXPECT_EQ(xdp_packets(m, "drop", "malformed"), static_cast<double>(malformed));
  EXPECT_GE(xdp_packets(m, "pass", "vlan"), static_cast<double>(tagged));
  EXPECT_EQ(xdp_packets(m, "drop", "syn_rate"), 0);  // the VLAN SYNs never met the bucket
  EXPECT_TRUE(can_connect(kAgent4));
}

// bpf_link ids of XDP links attached to `ifindex`es in the agent's namespace, from the pins.
std::vector<std::uint32_t> link_ids(const json::object& status) {
  std::vector<std::uint32_t> ids;
  for (const auto& i : status.at("interfaces").as_array())
    ids.push_back(static_cast<std::uint32_t>(i.at("link_id").to_number<std::uint64_t>()));
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST_F(XdpGuardE2E, PinnedLinkSurvivesAKilledAgentAndACleanExitLeavesNothing) {
  start_agent({"--xdp-syn-rate", "10", "--xdp-syn-burst", "10"});
  const auto bpffs = agent_->bpffs();
  const auto before = ctl_json({"xdp", "status"});
  const auto ids = link_ids(before);
  ASSERT_EQ(ids.size(), 2u);

  // Killed: the pins keep the program attached and dropping.
  agent_->process().signal(SIGKILL);
  agent_->process().wait_exit(5s);
  const auto dead = flood(flooder_, "vx", syn_from_flooder(), 5000);
  const auto orphan = ctl_json({"xdp", "status"});
  EXPECT_EQ(link_ids(orphan), ids);
  std::uint64_t syn_rate_drops = 0;
  for (const auto& p : orphan.at("packets").as_array())
    if (p.at("reason").as_string() == "syn_rate") syn_rate_drops = p.at("packets").to_number<std::uint64_t>();
  EXPECT_GE(syn_rate_drops, dead.sent - 100) << "the orphaned program stopped dropping";

  // A new agent on the same folder takes the pinned links over: same links, its own program.
  const auto log = dir_.path() / "agent-restarted.log";
  {
    Process again(topology_->agent_ns(),
                  {wsteer_binary("wsteer-agent").string(), "--listen", "[::]:8080", "--endpoints-file",
                   endpoints_.string(), "--metrics-listen", kAgent4 + ":9090", "--bpffs", bpffs.string(),
                   "--xdp-interfaces", "vc,vx", "--shutdown-grace", "1"},
                  log.string());
    bool ready = false;
    for (int i = 0; i < 100 && !ready; ++i) {
      try {
        ready = http_exchange(topology_->agent_ns(), kAgent4, 9090, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200;
      } catch (const std::exception&) {
      }
      if (!ready) std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(ready) << again.log();
    EXPECT_NE(again.log().find("took over"), std::string::npos) << again.log();
    const auto taken = ctl_json({"xdp", "status"});
    EXPECT_EQ(link_ids(taken), ids);
    EXPECT_NE(taken.at("interfaces").as_array()[0].at("prog_id"), before.at("interfaces").as_array()[0].at("prog_id"));
    EXPECT_TRUE(can_connect(kAgent4));
    again.signal(SIGTERM);
    ASSERT_EQ(again.wait_exit(10s), 0) << again.log();
  }
  // Clean exit: no pin, no link, no program on either interface.
  EXPECT_FALSE(std::filesystem::exists(bpffs / "xdp"));
  for (auto id : ids) {
    const int fd = bpf_link_get_fd_by_id(id);
    EXPECT_LT(fd, 0) << "link " << id << " still exists";
    if (fd >= 0) ::close(fd);
  }
  const auto links = run_command({"/usr/sbin/ip", "-n", topology_->agent_ns(), "-d", "link", "show"});
  EXPECT_EQ(links.out.find("xdp"), std::string::npos) << links.out;
}

// Hand-off (docs/handoff.md): the successor reuses the guard's maps and swaps its program into the
// same pinned links, so the door never stands open and nothing it knows is lost: wsteerctl's list
// entries, the counters, the per-source connection counts of the flows it adopts (the cap holds
// across the hand-off). The old agent leaves pins and links to it; the successor's clean exit
// then leaves nothing.
TEST_F(XdpGuardE2E, AHandOffPassesTheGuardOnWithoutAGapAndWithItsCounts) {
  const std::vector<std::string> xdp_args{"--xdp-max-conns-per-source", "3", "--xdp-syn-rate", "0"};
  start_agent(xdp_args);
  const auto before = ctl_json({"xdp", "status"});
  const auto ids = link_ids(before);
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_EQ(ctl({"xdp", "deny", "10.77.9.0/24"}).exit_code, 0);
  asio::io_context io;
  std::vector<Connected> open;
  for (int i = 0; i < 3; ++i)
    run_in_netns(io, topology_->client_ns(), 3s, [&]() -> asio::awaitable<void> {
      open.push_back(co_await connect_ws(kAgent4, 8080));
    });
  ASSERT_FALSE(can_connect(kAgent4)) << "the cap of 3 did not hold before the hand-off";
  const double capped_before = xdp_packets(agent_->metrics(), "drop", "conn_limit");
  ASSERT_GE(capped_before, 1);

  std::vector<std::string> argv{wsteer_binary("wsteer-agent").string(), "--listen", "[::]:8080", "--endpoints-file",
                                endpoints_.string(), "--metrics-listen", kAgent4 + ":9090", "--bpffs",
                                agent_->bpffs().string(), "--xdp-interfaces", "vc,vx", "--shutdown-grace", "5",
                                "--takeover"};
  argv.insert(argv.end(), xdp_args.begin(), xdp_args.end());
  Process v2(topology_->agent_ns(), argv, (dir_.path() / "agent-v2.log").string());
  ASSERT_EQ(agent_->process().wait_exit(20s), 0) << agent_->process().log();
  for (int i = 0; i < 100 && v2.log().find("hand-off done:") == std::string::npos; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_NE(v2.log().find("hand-off done: 3 flows adopted"), std::string::npos) << v2.log();
  EXPECT_NE(v2.log().find("took over"), std::string::npos) << v2.log();

  const auto after = ctl_json({"xdp", "status"});
  EXPECT_EQ(link_ids(after), ids) << "the links were not kept";
  EXPECT_NE(after.at("interfaces").as_array()[0].at("prog_id"), before.at("interfaces").as_array()[0].at("prog_id"))
      << "the successor's program is not the one attached";
  EXPECT_EQ(after.at("open_connections").to_number<std::uint64_t>(), 3u) << after;
  bool cli_entry_kept = false;
  for (const auto& e : after.at("deny").as_array())
    cli_entry_kept |= e.at("cidr").as_string() == "10.77.9.0/24";
  EXPECT_TRUE(cli_entry_kept) << "wsteerctl's deny entry was lost: " << after;
  // The metrics socket was handed over too: this is the successor answering, with the old counts.
  EXPECT_GE(xdp_packets(agent_->metrics(), "drop", "conn_limit"), capped_before) << "the counters did not carry over";
  EXPECT_FALSE(can_connect(kAgent4)) << "the cap did not hold across the hand-off";
  for (std::size_t i = 0; i < open.size(); ++i)
    run_in_netns(io, topology_->client_ns(), 3s, [&]() -> asio::awaitable<void> {
      const auto msg = "after the hand-off " + std::to_string(i);
      EXPECT_EQ(co_await round_trip(*open[i].ws, msg), msg);
    });

  // A flow closed in the successor counts out of the same source.
  open.pop_back();
  io.poll();
  EXPECT_TRUE(wait_open_connections(2));
  EXPECT_TRUE(can_connect(kAgent4, 3000ms));
  open.clear();
  io.poll();

  v2.signal(SIGTERM);
  ASSERT_EQ(v2.wait_exit(15s), 0) << v2.log();
  EXPECT_FALSE(std::filesystem::exists(agent_->bpffs() / "xdp"));
  for (auto id : ids) {
    const int fd = bpf_link_get_fd_by_id(id);
    EXPECT_LT(fd, 0) << "link " << id << " still exists";
    if (fd >= 0) ::close(fd);
  }
}

// A successor that fails after it adopted the guard: the old agent takes its links back (its own
// program in them again, the pins in place) and serves on with the cap intact.
TEST_F(XdpGuardE2E, AFailedHandOffGivesTheGuardBackToTheOldAgent) {
  const std::vector<std::string> xdp_args{"--xdp-max-conns-per-source", "2", "--xdp-syn-rate", "0"};
  start_agent(xdp_args);
  const auto before = ctl_json({"xdp", "status"});
  std::vector<std::string> argv{wsteer_binary("wsteer-agent").string(), "--listen", "[::]:8080", "--endpoints-file",
                                endpoints_.string(), "--metrics-listen", kAgent4 + ":9090", "--bpffs",
                                agent_->bpffs().string(), "--xdp-interfaces", "vc,vx", "--takeover"};
  argv.insert(argv.end(), xdp_args.begin(), xdp_args.end());
  ::setenv("WSTEER_TEST_HANDOFF_CRASH", "receiver-after-xdp", 1);
  Process v2(topology_->agent_ns(), argv, (dir_.path() / "agent-v2.log").string());
  ::unsetenv("WSTEER_TEST_HANDOFF_CRASH");
  const auto code = v2.wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << v2.log();
  EXPECT_NE(*code, 0);
  EXPECT_NE(v2.log().find("test hook: failing at receiver-after-xdp"), std::string::npos) << v2.log();
  // "abandoned" is logged once the guard is back ("failed" comes before the links are reclaimed).
  for (int i = 0; i < 100 && agent_->process().log().find("hand-off abandoned") == std::string::npos; ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_NE(agent_->process().log().find("hand-off failed"), std::string::npos) << agent_->process().log();
  ASSERT_NE(agent_->process().log().find("hand-off abandoned"), std::string::npos) << agent_->process().log();

  const auto after = ctl_json({"xdp", "status"});
  EXPECT_EQ(link_ids(after), link_ids(before));
  ASSERT_EQ(after.at("interfaces").as_array().size(), 2u);
  for (std::size_t i = 0; i < 2; ++i)
    EXPECT_EQ(after.at("interfaces").as_array()[i].at("prog_id"), before.at("interfaces").as_array()[i].at("prog_id"))
        << "the old agent's program is not back in the link";
  asio::io_context io;
  std::vector<Connected> open;
  for (int i = 0; i < 2; ++i)
    run_in_netns(io, topology_->client_ns(), 3s, [&]() -> asio::awaitable<void> {
      open.push_back(co_await connect_ws(kAgent4, 8080));
    });
  EXPECT_EQ(ctl_json({"xdp", "status"}).at("open_connections").to_number<std::uint64_t>(), 2u);
  EXPECT_FALSE(can_connect(kAgent4)) << "the cap does not hold after the failed hand-off";
}

TEST_F(XdpGuardE2E, NoNativeSupportFallsBackToGenericWithAWarning) {
  // The loopback device has no native XDP: the agent warns and attaches in generic mode.
  std::vector<std::string> args{"--listen", "[::]:8080", "--endpoints-file", endpoints_.string(), "--xdp-interfaces", "lo"};
  agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, AgentUnderTest::kServicesFromArgs, "splice", args);
  EXPECT_NE(agent_->process().log().find("falling back to generic"), std::string::npos) << agent_->process().log();
  const auto status = ctl_json({"xdp", "status"});
  ASSERT_EQ(status.at("interfaces").as_array().size(), 1u);
  EXPECT_EQ(status.at("interfaces").as_array()[0].at("mode").as_string(), "generic");
}

}  // namespace
}  // namespace wsteer::test
