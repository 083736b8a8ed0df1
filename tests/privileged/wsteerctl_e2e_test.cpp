// wsteerctl against a live agent: backends, flows and lookup agree with where connections really
// landed (the echo backends name themselves in X-Wsteer-Backend on their 101); drain steers new
// connections away while existing ones stay; the pinned maps still answer with the agent stopped
// or killed; and errors are clear.
#include "harness/agent_under_test.h"
#include "harness/command.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/ws_client.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <map>
#include <set>
#include <thread>

namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using asio::awaitable;

std::set<std::string> keys_of(const json::object& o) {
  std::set<std::string> keys;
  for (const auto& kv : o) keys.insert(std::string(kv.key()));
  return keys;
}

class WsteerctlE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    topology_ = std::make_unique<Topology>(3);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, backends_->endpoints(), "splice",
                                              std::vector<std::string>{"--hash-key", "query:room,sec-websocket-key"});
  }
  void TearDown() override {
    if (agent_ && HasFailure()) std::cerr << "---- agent log ----\n" << agent_->process().log();
    if (agent_) agent_->process().signal(SIGCONT);
    agent_.reset();
    backends_.reset();
    topology_.reset();
  }

  // wsteerctl ARGS --bpffs <the agent's folder>
  CommandResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), wsteer_binary("wsteerctl").string());
    args.push_back("--bpffs");
    args.push_back(agent_->bpffs().string());
    return run_command(args);
  }
  // The same with -o json, parsed; fails the test on a non-zero exit or unparseable output.
  json::object ctl_json(std::vector<std::string> args) {
    args.push_back("-o");
    args.push_back("json");
    const auto r = ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    auto v = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << "not JSON: " << r.out;
    return !ec && v.is_object() ? v.as_object() : json::object{};
  }
  std::map<std::string, json::object> backends_by_name(const json::object& model) {
    std::map<std::string, json::object> out;
    for (const auto& b : model.at("backends").as_array()) out[std::string(b.at("name").as_string())] = b.as_object();
    return out;
  }
  // The agent mirrors its connection counts into the maps every second: wait for them to settle.
  json::object backends_when(const std::function<bool(const json::object&)>& done) {
    json::object model;
    for (int i = 0; i < 40; ++i) {
      model = ctl_json({"backends"});
      if (done(model)) break;
      std::this_thread::sleep_for(100ms);
    }
    return model;
  }
  static std::uint64_t total_active(const json::object& model) {
    std::uint64_t n = 0;
    for (const auto& b : model.at("backends").as_array()) n += b.at("active_connections").to_number<std::uint64_t>();
    return n;
  }
  // Opens `rooms` connections (/?room=R), one message each way; keeps them open while `body` runs.
  // With `expect_alive` false the body may end the flows (killing the agent ends them).
  void with_open_rooms(int rooms, const std::function<void(std::map<int, Connected*>&, std::map<unsigned short, std::string>&)>& body,
                       bool expect_alive = true) {
    run_in_netns(topology_->client_ns(), 120s, [&]() -> awaitable<void> {
      std::vector<Connected> open;
      std::map<int, Connected*> by_room;
      std::map<unsigned short, std::string> by_port;  // client port -> backend it landed on
      for (int r = 0; r < rooms; ++r) {
        open.push_back(co_await connect_ws(agent_->host(), AgentUnderTest::kPort, "/game?room=" + std::to_string(r)));
        EXPECT_EQ(co_await round_trip(*open.back().ws, "ten bytes!"), "ten bytes!");
      }
      for (int r = 0; r < rooms; ++r) {
        by_room[r] = &open[static_cast<std::size_t>(r)];
        by_port[boost::beast::get_lowest_layer(*open[static_cast<std::size_t>(r)].ws).socket().local_endpoint().port()] =
            open[static_cast<std::size_t>(r)].backend;
      }
      // The checks run wsteerctl (blocking) from this coroutine: the io_context has nothing else
      // to do meanwhile.
      body(by_room, by_port);
      if (!expect_alive) co_return;
      for (auto& c : open) EXPECT_EQ(co_await round_trip(*c.ws, "still here"), "still here") << "a flow on " << c.backend << " broke";
    });
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<AgentUnderTest> agent_;
};

TEST_F(WsteerctlE2E, BackendsFlowsAndLookupAgreeWithWhereConnectionsLanded) {
  constexpr int kRooms = 12;
  with_open_rooms(kRooms, [&](std::map<int, Connected*>& by_room, std::map<unsigned short, std::string>& by_port) {
    std::map<std::string, std::uint64_t> landed;
    for (const auto& [r, c] : by_room) landed[c->backend]++;

    const auto model = backends_when([&](const json::object& m) { return total_active(m) == kRooms; });
    const auto backends = backends_by_name(model);
    ASSERT_EQ(backends.size(), 3u);
    double share = 0;
    for (const auto& [name, b] : backends) {
      EXPECT_EQ(b.at("state").as_string(), "active");
      EXPECT_EQ(b.at("active_connections").to_number<std::uint64_t>(), landed[name]) << name;
      EXPECT_EQ(b.at("total_connections").to_number<std::uint64_t>(), landed[name]) << name;
      // One masked 10-byte frame up (6 + 10), one unmasked back (2 + 10), per connection.
      EXPECT_EQ(b.at("bytes_client_to_backend").to_number<std::uint64_t>(), 16 * landed[name]) << name;
      EXPECT_EQ(b.at("bytes_backend_to_client").to_number<std::uint64_t>(), 12 * landed[name]) << name;
      share += b.at("maglev_share").as_double();
    }
    EXPECT_NEAR(share, 1.0, 1e-9);

    const auto flows = ctl_json({"flows"});
    ASSERT_EQ(flows.at("flows").as_array().size(), static_cast<std::size_t>(kRooms)) << json::serialize(flows);
    for (const auto& f : flows.at("flows").as_array()) {
      EXPECT_EQ(f.at("client_address").as_string(), topology_->client_address());
      const auto port = static_cast<unsigned short>(f.at("client_port").to_number<std::uint64_t>());
      ASSERT_TRUE(by_port.count(port)) << "a flow from an unknown client port " << port;
      EXPECT_EQ(f.at("backend").as_string(), by_port[port]);
      EXPECT_EQ(f.at("bytes_client_to_backend").to_number<std::uint64_t>(), 16u);
      EXPECT_EQ(f.at("bytes_backend_to_client").to_number<std::uint64_t>(), 12u);
      EXPECT_LT(f.at("age_seconds").to_number<std::uint64_t>(), 120u);
    }
    const std::string some_backend = by_room[0]->backend;
    const auto filtered = ctl_json({"flows", "--backend", some_backend});
    EXPECT_EQ(filtered.at("matching").to_number<std::uint64_t>(), landed[some_backend]);
    for (const auto& f : filtered.at("flows").as_array()) EXPECT_EQ(f.at("backend").as_string(), some_backend);
    const auto limited = ctl_json({"flows", "--limit", "2"});
    EXPECT_EQ(limited.at("shown").to_number<std::uint64_t>(), 2u);
    EXPECT_EQ(limited.at("matching").to_number<std::uint64_t>(), static_cast<std::uint64_t>(kRooms));

    for (const auto& [r, c] : by_room) {
      const auto lookup = ctl_json({"lookup", "--query", "room=" + std::to_string(r), "--path", "/game"});
      EXPECT_EQ(lookup.at("backend").as_string(), c->backend) << "room " << r;
      EXPECT_EQ(lookup.at("key_source").as_string(), "query:room");
      EXPECT_EQ(lookup.at("hash_key").as_string(), std::to_string(r));
    }
    // Without the room the key falls back to Sec-WebSocket-Key, as the policy says.
    const auto fallback = ctl_json({"lookup", "--sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="});
    EXPECT_EQ(fallback.at("key_source").as_string(), "sec-websocket-key");

    // The tables a person reads.
    const auto table = ctl({"backends"});
    EXPECT_EQ(table.exit_code, 0);
    for (const char* name : {"b0", "b1", "b2"}) EXPECT_NE(table.out.find(std::string("\n") + name + "  "), std::string::npos) << table.out;
    const auto flows_table = ctl({"flows"});
    EXPECT_NE(flows_table.out.find(topology_->client_address() + ":"), std::string::npos) << flows_table.out;
    const auto lookup_table = ctl({"lookup", "--query", "room=0", "--path", "/game"});
    EXPECT_NE(lookup_table.out.find("backend:"), std::string::npos);
    EXPECT_NE(lookup_table.out.find(by_room[0]->backend), std::string::npos) << lookup_table.out;
  });
}

TEST_F(WsteerctlE2E, DrainSteersNewConnectionsAwayAndExistingOnesStay) {
  const auto home = std::string(ctl_json({"lookup", "--query", "room=7"}).at("backend").as_string());
  run_in_netns(topology_->client_ns(), 60s, [&]() -> awaitable<void> {
    auto before = co_await connect_ws(agent_->host(), AgentUnderTest::kPort, "/?room=7");
    EXPECT_EQ(before.backend, home) << "lookup must predict the landing";

    const auto drained = ctl({"drain", home});
    EXPECT_EQ(drained.exit_code, 0) << drained.err;
    EXPECT_NE(drained.out.find(home + ": draining"), std::string::npos) << drained.out;
    // Published to the maps at once, not at the next tick.
    EXPECT_EQ(backends_by_name(ctl_json({"backends"}))[home].at("state").as_string(), "draining");
    const auto lookup = ctl_json({"lookup", "--query", "room=7"});
    EXPECT_NE(lookup.at("backend").as_string(), home);
    EXPECT_EQ(lookup.at("home_slot_backend").as_string(), home);
    EXPECT_NE(std::string(lookup.at("reason").as_string()).find(home + " (draining)"), std::string::npos) << lookup;

    for (int i = 0; i < 5; ++i) {
      auto after = co_await connect_ws(agent_->host(), AgentUnderTest::kPort, "/?room=7");
      EXPECT_EQ(after.backend, std::string(lookup.at("backend").as_string())) << "a new connection reached the drained backend";
    }
    EXPECT_EQ(co_await round_trip(*before.ws, "kept"), "kept") << "the existing flow must stay";

    EXPECT_EQ(ctl({"undrain", home}).exit_code, 0);
    auto back = co_await connect_ws(agent_->host(), AgentUnderTest::kPort, "/?room=7");
    EXPECT_EQ(back.backend, home);
  });
  const auto unknown = ctl({"drain", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no backend named 'nope'"), std::string::npos) << unknown.err;
}

TEST_F(WsteerctlE2E, StatusStatsAndAStableJsonShape) {
  with_open_rooms(2, [&](auto&, auto&) {
    const auto status = ctl_json({"status"});
    EXPECT_EQ(keys_of(status), (std::set<std::string>{"bpffs", "agent", "programs", "maps", "totals"}));
    const auto& agent = status.at("agent").as_object();
    EXPECT_TRUE(agent.at("up").as_bool());
    EXPECT_EQ(agent.at("pid").as_int64(), agent_->process().pid());
    EXPECT_EQ(agent.at("control_socket").as_string(), agent_->control_socket().string());
    EXPECT_GE(agent.at("endpoints_version").to_number<std::uint64_t>(), 1u);
    ASSERT_EQ(status.at("programs").as_array().size(), 1u) << "the verdict must be attached";
    EXPECT_EQ(status.at("programs").as_array()[0].at("name").as_string().subview().substr(0, 13), "wsteer_splice");
    EXPECT_EQ(status.at("programs").as_array()[0].at("attached_to").as_string(), "wsteer_spliced");
    EXPECT_EQ(status.at("programs").as_array()[0].at("attach_type").as_string(), "sk_skb_verdict");
    std::map<std::string, json::object> maps;
    for (const auto& m : status.at("maps").as_array()) maps[std::string(m.at("name").as_string())] = m.as_object();
    EXPECT_EQ(maps.at("wsteer_flows").at("used").to_number<std::uint64_t>(), 4u);  // two flows, two sockets each
    EXPECT_EQ(maps.at("wsteer_flows").at("max").to_number<std::uint64_t>(), 262144u);
    EXPECT_EQ(maps.at("wsteer_backends").at("used").to_number<std::uint64_t>(), 3u);
    const auto& totals = status.at("totals").as_object();
    EXPECT_EQ(totals.at("spliced_flows").to_number<std::uint64_t>(), 2u);
    EXPECT_EQ(totals.at("bytes_client_to_backend").to_number<std::uint64_t>(), 32u);

    const auto stats = ctl_json({"stats"});
    EXPECT_EQ(keys_of(stats), (std::set<std::string>{"agent", "bpf", "backends", "userspace"}));
    EXPECT_EQ(stats.at("bpf").at("bytes_backend_to_client").to_number<std::uint64_t>(), 24u);
    ASSERT_TRUE(stats.at("userspace").is_object()) << "the running agent's counters";
    EXPECT_EQ(stats.at("userspace").as_object().at("wsteer_connections_total{reason=\"none\",result=\"spliced\"}").as_double(), 2.0)
        << stats.at("userspace");

    // Same state, same document: field for field.
    const auto backends = ctl_json({"backends"});
    EXPECT_EQ(backends, ctl_json({"backends"}));
    EXPECT_EQ(keys_of(backends), (std::set<std::string>{"agent", "backends"}));
    EXPECT_EQ(keys_of(backends.at("backends").as_array()[0].as_object()),
              (std::set<std::string>{"id", "service", "name", "address", "port", "state", "weight", "max_connections",
                                     "maglev_slots", "maglev_share", "active_connections", "total_connections",
                                     "connect_failures", "bytes_client_to_backend", "bytes_backend_to_client"}));
    EXPECT_EQ(backends.at("backends").as_array()[0].at("service").as_string(), "default");
    const auto maglev = ctl_json({"maglev"});
    EXPECT_EQ(maglev.at("table_size").to_number<std::uint64_t>(), 65537u);
    EXPECT_EQ(maglev.at("unassigned_slots").to_number<std::uint64_t>(), 0u);
    EXPECT_LT(maglev.at("max_share_over_ideal").as_double(), 1.02);
    for (const char* command : {"status", "stats", "maglev"}) {
      const auto r = ctl({command});
      EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 80u) << command << ": " << line;
    }
  });
}

TEST_F(WsteerctlE2E, PinnedMapsAnswerWithTheAgentStoppedThenKilled) {
  with_open_rooms(3, [&](auto&, auto&) {
    backends_when([&](const json::object& m) { return total_active(m) == 3; });

    agent_->process().signal(SIGSTOP);
    auto stopped = ctl({"status", "-o", "json", "--timeout", "0.5"});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    const auto status = json::parse(stopped.out).as_object();
    EXPECT_FALSE(status.at("agent").at("up").as_bool());
    EXPECT_NE(std::string(status.at("agent").at("reason").as_string()).find("does not answer"), std::string::npos);
    EXPECT_EQ(status.at("totals").at("active_connections").to_number<std::uint64_t>(), 3u);
    EXPECT_EQ(ctl_json({"flows", "--timeout", "0.5"}).at("flows").as_array().size(), 3u) << "its sockets are still open";
    const auto table = ctl({"backends", "--timeout", "0.5"});
    EXPECT_NE(table.out.find("showing the pinned maps as the agent last wrote them"), std::string::npos) << table.out;
    const auto lookup = ctl({"lookup", "--query", "room=1", "--timeout", "0.5"});
    EXPECT_EQ(lookup.exit_code, 1);
    EXPECT_NE(lookup.err.find("lookup needs the running agent"), std::string::npos) << lookup.err;
    agent_->process().signal(SIGCONT);

    // kill -9 with the flows open: the kernel closes the agent's sockets (the flows end), but the
    // pins, the flow entries and a stale control socket stay.
    agent_->process().signal(SIGKILL);
    agent_->process().wait_exit(5s);
    const auto killed = ctl_json({"status"});
    EXPECT_FALSE(killed.at("agent").at("up").as_bool());
    EXPECT_NE(std::string(killed.at("agent").at("reason").as_string()).find("stale control socket"), std::string::npos)
        << killed.at("agent");
    EXPECT_EQ(killed.at("programs").as_array().size(), 1u) << "the verdict stays attached to the pinned map";
    const auto flows = ctl_json({"flows"});
    EXPECT_EQ(flows.at("flows").as_array().size(), 0u) << "closed sockets are not live flows";
    EXPECT_EQ(flows.at("closed_entries").to_number<std::uint64_t>(), 3u);
    const auto backends = ctl_json({"backends"});
    EXPECT_EQ(backends.at("backends").as_array().size(), 3u);
    EXPECT_EQ(total_active(backends), 3u) << "the last counts the agent published survive it";
  }, /*expect_alive=*/false);
  const auto drain = ctl({"drain", "b0"});
  EXPECT_EQ(drain.exit_code, 1);
  EXPECT_NE(drain.err.find("drain needs the running agent"), std::string::npos) << drain.err;
}

TEST_F(WsteerctlE2E, UserspaceDatapathHasNoMapsButStillDrainsAndLooksUp) {
  agent_.reset();
  agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, backends_->endpoints(), "userspace",
                                            std::vector<std::string>{"--hash-key", "query:room"});
  const auto status = ctl({"status"});
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_NE(status.err.find("--datapath userspace: no BPF maps"), std::string::npos) << status.err;
  const auto home = std::string(ctl_json({"lookup", "--query", "room=3"}).at("backend").as_string());
  EXPECT_EQ(ctl({"drain", home}).exit_code, 0);
  EXPECT_NE(ctl_json({"lookup", "--query", "room=3"}).at("backend").as_string(), home);
}

TEST_F(WsteerctlE2E, ClearErrorsForAMissingFolderAMissingSocketAndAFolderWithoutMaps) {
  const auto missing = run_command({wsteer_binary("wsteerctl").string(), "status", "--bpffs", "/sys/fs/bpf/wsteer-no-such-folder-" + std::to_string(::getpid())});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  EXPECT_TRUE(missing.out.empty());

  const auto no_socket = ctl({"drain", "b0", "--control-socket", (dir_.path() / "none.sock").string()});
  EXPECT_EQ(no_socket.exit_code, 1);
  EXPECT_NE(no_socket.err.find("agent not running: no control socket at " + (dir_.path() / "none.sock").string()), std::string::npos)
      << no_socket.err;

  const std::filesystem::path empty = "/sys/fs/bpf/wsteerctl-empty-" + std::to_string(::getpid());
  std::filesystem::create_directory(empty);
  const auto no_maps = run_command({wsteer_binary("wsteerctl").string(), "backends", "--bpffs", empty.string()});
  std::filesystem::remove(empty);
  EXPECT_EQ(no_maps.exit_code, 1);
  EXPECT_NE(no_maps.err.find("not a wsteer-agent pin folder"), std::string::npos) << no_maps.err;

  const auto usage = run_command({wsteer_binary("wsteerctl").string(), "flows", "--limit", "many"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
}

}  // namespace
}  // namespace wsteer::test
