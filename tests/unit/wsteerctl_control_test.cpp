// The agent's side of wsteerctl: the control commands against a real MaglevSteering, and the
// control socket itself (a Unix socket in a scratch folder: no privileges needed).
#include "admin/control_commands.h"
#include "app/agent_config.h"
#include "admin/control_protocol.h"
#include "admin/control_server.h"
#include "cli/control_client.h"
#include "cli/ctl_error.h"
#include "steering/maglev_steering.h"

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <thread>

namespace wsteer {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

steering::EndpointList three_pods() {
  steering::EndpointList list;
  for (int i = 0; i < 3; ++i)
    list.push_back({"b" + std::to_string(i), boost::asio::ip::make_address("10.0.0." + std::to_string(i + 1)), 9000});
  return list;
}

class ControlCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.hash_key = {"query:room", "sec-websocket-key"};
    steering_ = std::make_unique<steering::MaglevSteering>(config_);
    steering_->update_endpoints(three_pods());
  }
  admin::ControlContext context() {
    return {{{"default", steering_.get(), config_}}, 3, [this] { ++published_; }, [] { return json::object{{"pid", 42}}; },
            [] { return json::object{{"wsteer_x_total", 7}}; }};
  }
  json::object call(const json::object& request) { return admin::handle_control_request(context(), request); }

  steering::SteeringConfig config_;
  std::unique_ptr<steering::MaglevSteering> steering_;
  int published_ = 0;
};

TEST_F(ControlCommands, LookupAgreesWithChooseAndExplainsTheKey) {
  for (int room = 0; room < 30; ++room) {
    const auto reply = call({{"command", "lookup"}, {"path", "/game"}, {"query", json::array{json::value("room=" + std::to_string(room))}}});
    ASSERT_TRUE(reply.at("ok").as_bool()) << json::serialize(reply);
    steering::Request req{http::verb::get, "/game?room=" + std::to_string(room), 11};
    const auto choice = steering_->choose(req, boost::asio::ip::address_v4::any(), 3);
    EXPECT_EQ(reply.at("backend").as_string(), choice.candidates.front().name);
    EXPECT_EQ(reply.at("key_source").as_string(), "query:room");
    EXPECT_EQ(reply.at("hash_key").as_string(), std::to_string(room));
    EXPECT_EQ(reply.at("table_size").as_uint64(), 65537u);
    EXPECT_LT(reply.at("home_slot").as_uint64(), 65537u);
    // Nothing is drained: the home slot's owner is the choice.
    EXPECT_EQ(reply.at("home_slot_backend").as_string(), reply.at("backend").as_string());
    EXPECT_EQ(reply.at("candidates").as_array().size(), 3u);
  }
}

TEST_F(ControlCommands, LookupWithoutTheRoomFallsBackToTheWebSocketKey) {
  const auto reply = call({{"command", "lookup"}, {"sec_websocket_key", "dGhlIHNhbXBsZSBub25jZQ=="}});
  ASSERT_TRUE(reply.at("ok").as_bool());
  EXPECT_EQ(reply.at("key_source").as_string(), "sec-websocket-key");
  EXPECT_EQ(reply.at("hash_key").as_string(), "dGhlIHNhbXBsZSBub25jZQ==");
}

TEST_F(ControlCommands, DrainSkipsTheBackendAndSaysSoUndrainBringsItBack) {
  const json::object lookup{{"command", "lookup"}, {"query", json::array{json::value("room=7")}}};
  const std::string home(call(lookup).at("backend").as_string());
  const auto drained = call({{"command", "drain"}, {"backend", home}});
  ASSERT_TRUE(drained.at("ok").as_bool()) << json::serialize(drained);
  EXPECT_EQ(drained.at("state").as_string(), "draining");
  EXPECT_EQ(published_, 1) << "a drain must reach the pinned maps at once";
  const auto after = call(lookup);
  EXPECT_NE(after.at("backend").as_string(), home);
  EXPECT_EQ(after.at("home_slot_backend").as_string(), home);
  EXPECT_NE(std::string(after.at("reason").as_string()).find(home + " (draining)"), std::string::npos) << after.at("reason");
  EXPECT_EQ(call({{"command", "undrain"}, {"backend", home}}).at("state").as_string(), "active");
  EXPECT_EQ(call(lookup).at("backend").as_string(), home);
}

TEST_F(ControlCommands, BadRequestsGetClearErrors) {
  const auto unknown = call({{"command", "drain"}, {"backend", "nope"}});
  EXPECT_FALSE(unknown.at("ok").as_bool());
  EXPECT_EQ(unknown.at("error").as_string(), "no backend named 'nope'");
  EXPECT_FALSE(call({{"command", "fly"}}).at("ok").as_bool());
  EXPECT_FALSE(call({}).at("ok").as_bool());
  EXPECT_FALSE(call({{"command", "lookup"}, {"client_ip", "not-an-ip"}}).at("ok").as_bool());
  EXPECT_FALSE(call({{"command", "lookup"}, {"path", "relative"}}).at("ok").as_bool());
  EXPECT_FALSE(call({{"command", "lookup"}, {"headers", json::array{json::value("x")}}}).at("ok").as_bool());
  EXPECT_FALSE(call({{"command", "drain"}, {"backend", 5}}).at("ok").as_bool());
}

TEST_F(ControlCommands, StatusAndStatsCarryTheAgentsFacts) {
  const auto status = call({{"command", "status"}});
  EXPECT_EQ(status.at("pid").as_int64(), 42);
  EXPECT_EQ(status.at("endpoints_version").as_uint64(), 1u);
  EXPECT_EQ(call({{"command", "stats"}}).at("counters").as_object().at("wsteer_x_total").as_int64(), 7);
}

TEST_F(ControlCommands, RebalanceAnswersOnlyADryRun) {
  // Without the splice datapath there is nothing to rebalance.
  const auto none = call({{"command", "rebalance"}, {"dry_run", true}});
  EXPECT_FALSE(none.at("ok").as_bool());
  EXPECT_NE(std::string(none.at("error").as_string()).find("splice datapath"), std::string::npos);
  auto ctx = context();
  ctx.rebalance_dry_run = [] { return json::object{{"enabled", true}, {"would_close", json::array{}}}; };
  const auto plan = admin::handle_control_request(ctx, {{"command", "rebalance"}, {"dry_run", true}});
  EXPECT_TRUE(plan.at("ok").as_bool());
  EXPECT_TRUE(plan.at("enabled").as_bool());
  const auto live = admin::handle_control_request(ctx, {{"command", "rebalance"}});
  EXPECT_FALSE(live.at("ok").as_bool());
  EXPECT_NE(std::string(live.at("error").as_string()).find("only a dry run"), std::string::npos);
}

// The socket: a scratch folder per test, an io_context on its own thread.
class ControlSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("wsteerctl-unit-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    path_ = dir_ / "sub" / "agent.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<admin::ControlServer> serve(boost::asio::io_context& io) {
    auto server = std::make_unique<admin::ControlServer>(io, path_, [](const json::object& request) {
      return json::object{{"ok", true}, {"echo", request.contains("command") ? request.at("command") : nullptr}};
    });
    server->start();
    return server;
  }
  cli::ControlClient client(std::chrono::milliseconds timeout = 2s) { return cli::ControlClient(path_, timeout); }

  std::filesystem::path dir_, path_;
};

TEST_F(ControlSocket, AnswersOneRequestPerConnectionRootOnlyAndRemovedOnExit) {
  boost::asio::io_context io;
  auto server = serve(io);
  std::thread runner([&] { io.run(); });
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "socket must be owner-only";
  ASSERT_EQ(::stat(path_.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "a folder it created must be owner-only";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client().call({{"command", "status"}}).at("echo").as_string(), "status");
  server->stop();
  io.run_for(100ms);
  io.stop();
  runner.join();
  server.reset();
  EXPECT_FALSE(std::filesystem::exists(path_)) << "the socket file must go with the agent";
}

TEST_F(ControlSocket, ReplacesAStaleSocketAndRefusesToStealALiveOne) {
  std::filesystem::create_directories(path_.parent_path());
  {  // a socket file nobody listens on, as a kill -9'd agent leaves it
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  EXPECT_THROW(
      try { client().call({{"command", "status"}}); } catch (const cli::CtlError& e) {
        EXPECT_NE(std::string(e.what()).find("stale control socket"), std::string::npos) << e.what();
        throw;
      },
      cli::CtlError);
  boost::asio::io_context io;
  auto server = serve(io);
  std::thread runner([&] { io.run(); });
  EXPECT_TRUE(client().call({{"command", "x"}}).at("ok").as_bool());
  boost::asio::io_context other;
  EXPECT_THROW(serve(other), std::runtime_error) << "a second agent must not take a live socket";
  EXPECT_TRUE(client().call({{"command", "x"}}).at("ok").as_bool()) << "the first agent keeps answering";
  io.stop();
  runner.join();
}

TEST_F(ControlSocket, ClientErrorsSayWhatIsWrong) {
  try {
    client().call({{"command", "status"}});
    FAIL() << "no socket must be an error";
  } catch (const cli::CtlError& e) {
    EXPECT_NE(std::string(e.what()).find("agent not running: no control socket at " + path_.string()), std::string::npos) << e.what();
  }
  // A listener that never answers, as a SIGSTOPped agent: the client gives up at its deadline.
  std::filesystem::create_directories(path_.parent_path());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  const auto start = std::chrono::steady_clock::now();
  try {
    client(300ms).call({{"command", "status"}});
    FAIL() << "a silent agent must be an error";
  } catch (const cli::CtlError& e) {
    EXPECT_NE(std::string(e.what()).find("does not answer"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ::close(fd);
}

TEST(ControlProtocol, AgentFlagAndYamlKeyPickTheSocket) {
  const auto parse = [](std::vector<std::string> args) {
    args.insert(args.begin(), "wsteer-agent");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return app::parse_agent_config(static_cast<int>(argv.size()), argv.data());
  };
  EXPECT_TRUE(parse({"--listen", "127.0.0.1:1", "--endpoints-file", "/e"}).control_socket.empty()) << "empty: the default";
  EXPECT_EQ(parse({"--listen", "127.0.0.1:1", "--endpoints-file", "/e", "--control-socket", "/run/x.sock"}).control_socket,
            "/run/x.sock");
  const auto yaml = std::filesystem::temp_directory_path() / ("wsteerctl-unit-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(yaml) << "control-socket: /run/y.sock\n";
  EXPECT_EQ(parse({"--listen", "127.0.0.1:1", "--endpoints-file", "/e", "--config", yaml.string()}).control_socket, "/run/y.sock");
  std::filesystem::remove(yaml);
}

TEST(ControlProtocol, DefaultSocketFollowsTheBpffsFolder) {
  EXPECT_EQ(admin::default_control_socket("/sys/fs/bpf/wsteer"), "/run/wsteer/wsteer.sock");
  EXPECT_EQ(admin::default_control_socket("/sys/fs/bpf/wsteer/"), "/run/wsteer/wsteer.sock");
  EXPECT_EQ(admin::default_control_socket("/sys/fs/bpf/edge-a"), "/run/wsteer/edge-a.sock");
}

}  // namespace
}  // namespace wsteer
