// The wsteer-bench command line is a contract with the benchmark harness (scripts/bench/):
// option names, defaults, and clear errors for bad input.
#include "bench/bench_options.h"

#include <gtest/gtest.h>

#include <vector>

namespace wsteer::bench {
namespace {

std::optional<Invocation> parse(std::vector<const char*> args, int* exit_code = nullptr) {
  args.insert(args.begin(), "wsteer-bench");
  int code = -1;
  auto out = parse_command_line(static_cast<int>(args.size()), args.data(), code);
  if (exit_code) *exit_code = code;
  return out;
}

ClientOptions client(std::vector<const char*> args) { return std::get<ClientOptions>(*parse(std::move(args))); }

TEST(BenchOptions, UrlParts) {
  const auto u = parse_ws_url("ws://10.0.0.1:8080/chat?room=7");
  EXPECT_EQ(u.host, "10.0.0.1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_EQ(u.target, "/chat?room=7");
  const auto d = parse_ws_url("ws://example.test");
  EXPECT_EQ(d.port, "80");
  EXPECT_EQ(d.target, "/");
  EXPECT_EQ(parse_ws_url("ws://[::1]:9/").host, "::1");
}

TEST(BenchOptions, BadUrlsSayWhatIsWrong) {
  for (const char* bad : {"http://h:1/", "wss://h:1/", "ws://:80/", "ws://h:0/", "not a url", "ws://h:99999/"}) {
    try {
      parse_ws_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(BenchOptions, ClientDefaults) {
  const auto c = client({"--url", "ws://127.0.0.1:9100/"});
  EXPECT_EQ(c.mode, Mode::pingpong);
  EXPECT_EQ(c.connections, 1);
  EXPECT_EQ(c.connect_rate, 0);
  EXPECT_EQ(c.size, 64u);
  EXPECT_EQ(c.duration, 10);
  EXPECT_EQ(c.messages, 0u);
  EXPECT_EQ(c.warmup, 1);
  EXPECT_EQ(c.threads, 1);
  EXPECT_FALSE(c.json);
  EXPECT_FALSE(c.quiet);
  EXPECT_TRUE(c.ready_file.empty());
  EXPECT_EQ(client({"--url", "ws://h:1/", "--mode", "stream"}).size, 16384u);
  EXPECT_EQ(client({"--url", "ws://h:1/", "--mode", "stream", "--size", "100"}).size, 100u);
}

TEST(BenchOptions, EveryContractOption) {
  const auto c = client({"--url", "ws://h:1/x", "--mode", "idle", "--connections", "10000", "--connect-rate", "500",
                         "--size", "32", "--rate", "0.5", "--duration", "30", "--warmup", "2", "--threads", "2",
                         "--json", "--ready-file", "/tmp/r", "--quiet"});
  EXPECT_EQ(c.mode, Mode::idle);
  EXPECT_EQ(c.connections, 10000);
  EXPECT_EQ(c.connect_rate, 500);
  EXPECT_EQ(c.size, 32u);
  EXPECT_EQ(c.rate, 0.5);
  EXPECT_EQ(c.duration, 30);
  EXPECT_EQ(c.warmup, 2);
  EXPECT_EQ(c.threads, 2);
  EXPECT_TRUE(c.json);
  EXPECT_TRUE(c.quiet);
  EXPECT_EQ(c.ready_file, "/tmp/r");
  EXPECT_EQ(client({"--url", "ws://h:1/", "--messages", "5000"}).messages, 5000u);
  EXPECT_EQ(client({"--url", "ws://h:1/", "--mode", "stream", "--direction", "up"}).direction, Direction::up);
  for (const char* m : {"pingpong", "open", "stream", "churn", "idle"})
    EXPECT_STREQ(mode_name(client({"--url", "ws://h:1/", "--mode", m}).mode), m);
}

TEST(BenchOptions, Server) {
  const auto s = std::get<ServerOptions>(*parse({"--serve", "127.0.0.1:9100", "--threads", "3"}));
  EXPECT_EQ(s.address, "127.0.0.1");
  EXPECT_EQ(s.port, 9100);
  EXPECT_EQ(s.threads, 3);
  EXPECT_GE(std::get<ServerOptions>(*parse({"--serve", "0.0.0.0:1"})).threads, 1);
  EXPECT_EQ(std::get<ServerOptions>(*parse({"--serve", "[::1]:9100"})).address, "::1");
}

TEST(BenchOptions, BadInputIsRefused) {
  EXPECT_THROW(parse({}), UsageError);                                          // neither --url nor --serve
  EXPECT_THROW(parse({"--serve", "127.0.0.1"}), UsageError);                    // no port
  EXPECT_THROW(parse({"--serve", "127.0.0.1:http"}), UsageError);
  EXPECT_THROW(parse({"--serve", "127.0.0.1:1", "--mode", "open"}), UsageError);  // client option
  EXPECT_THROW(parse({"--url", "ws://h:1/", "--rate", "5"}), UsageError);       // pingpong has no rate
  EXPECT_THROW(parse({"--url", "ws://h:1/", "--direction", "up"}), UsageError); // stream only
  EXPECT_THROW(parse({"--url", "ws://h:1/", "--mode", "churn", "--messages", "9"}), UsageError);
  int code = 0;
  EXPECT_FALSE(parse({"--url", "ws://h:1/", "--mode", "flood"}, &code));
  EXPECT_NE(code, 0);
  EXPECT_FALSE(parse({"--url", "ws://h:1/", "--connections", "0"}, &code));
  EXPECT_NE(code, 0);
  EXPECT_FALSE(parse({"--url", "ws://h:1/", "--serve", "1.2.3.4:5"}, &code));
  EXPECT_NE(code, 0);
}

}  // namespace
}  // namespace wsteer::bench
