// wsteerctl without an agent: its command line, its models built from plain map contents, and
// the tables rendered from them (aligned, within 80 columns).
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/options.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

namespace wsteer::cli {
namespace {

namespace json = boost::json;

ParsedCommandLine parse(std::vector<const char*> args, std::string* err_text = nullptr) {
  args.insert(args.begin(), "wsteerctl");
  std::ostringstream out, err;
  auto parsed = parse_command_line(static_cast<int>(args.size()), args.data(), out, err);
  if (err_text) *err_text = err.str() + out.str();
  return parsed;
}

TEST(WsteerctlOptions, SharedOptionsWorkBeforeAndAfterTheCommand) {
  auto a = parse({"-o", "json", "--bpffs", "/sys/fs/bpf/edge", "backends"});
  ASSERT_TRUE(a.options);
  EXPECT_EQ(a.options->command, "backends");
  EXPECT_EQ(a.options->output, OutputFormat::json);
  EXPECT_EQ(a.options->control_socket_path(), "/run/wsteer/edge.sock");
  auto b = parse({"flows", "--backend", "b1", "--limit", "5", "-o", "json", "--control-socket", "/tmp/x.sock"});
  ASSERT_TRUE(b.options);
  EXPECT_EQ(b.options->backend_filter, "b1");
  EXPECT_EQ(b.options->limit, 5u);
  EXPECT_EQ(b.options->output, OutputFormat::json);
  EXPECT_EQ(b.options->control_socket_path(), "/tmp/x.sock");
  auto c = parse({"status"});
  ASSERT_TRUE(c.options);
  EXPECT_EQ(c.options->output, OutputFormat::table);
  EXPECT_EQ(c.options->control_socket_path(), "/run/wsteer/wsteer.sock");
}

TEST(WsteerctlOptions, LookupInputsBecomeTheAgentRequest) {
  auto p = parse({"lookup", "--query", "room=42", "--header", "X-Tenant=acme", "--header", "X-Zone: eu",
                  "--cookie", "s=1", "--client-ip", "10.1.2.3", "--path", "/game", "--sec-websocket-key", "k=="});
  ASSERT_TRUE(p.options);
  const auto request = lookup_request(p.options->lookup);
  EXPECT_EQ(json::serialize(request),
            R"({"command":"lookup","path":"/game","query":["room=42"],"headers":[["X-Tenant","acme"],["X-Zone","eu"]],)"
            R"("sec_websocket_key":"k==","cookie":"s=1","client_ip":"10.1.2.3"})");
}

TEST(WsteerctlOptions, UsageErrorsExitWithTwoAndSayWhy) {
  std::string err;
  EXPECT_EQ(parse({}, &err).exit_code, 2);
  EXPECT_NE(err.find("subcommand"), std::string::npos) << err;
  EXPECT_EQ(parse({"fly"}, &err).exit_code, 2);
  EXPECT_EQ(parse({"drain"}, &err).exit_code, 2) << "drain needs a backend name";
  EXPECT_EQ(parse({"-o", "yaml", "status"}, &err).exit_code, 2);
  EXPECT_EQ(parse({"lookup", "--header", "novalue"}, &err).exit_code, 2);
  EXPECT_NE(err.find("NAME=VALUE"), std::string::npos) << err;
  const auto help = parse({"--help"}, &err);
  EXPECT_FALSE(help.options);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(err.find("lookup"), std::string::npos);
}

TEST(WsteerctlFormat, HumanUnits) {
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(300ULL << 20), "300 MiB");
  EXPECT_EQ(human_duration(42), "42s");
  EXPECT_EQ(human_duration(725), "12m05s");
  EXPECT_EQ(human_duration(3 * 3600 + 240), "3h04m");
  EXPECT_EQ(percent(1.0 / 3), "33.3%");
  std::array<std::uint8_t, 16> v4{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 7};
  EXPECT_EQ(endpoint_text(v4, 9000), "10.0.0.7:9000");
  std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  EXPECT_EQ(endpoint_text(v6, 443), "[2001:db8::]:443");
}

BackendEntry backend(std::uint32_t id, const char* name, std::uint8_t state, std::uint32_t weight = 1) {
  BackendEntry b;
  b.id = id;
  std::strncpy(b.info.name, name, sizeof(b.info.name) - 1);
  const std::uint8_t addr[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, static_cast<std::uint8_t>(10 + id), 2};
  std::memcpy(b.info.addr, addr, 16);
  b.info.port = 9000;
  b.info.state = state;
  b.info.weight = weight;
  b.info.active_connections = 3 * id;
  b.info.total_connections = 100 + id;
  b.counters.bytes[WSTEER_DIR_CLIENT_TO_BACKEND] = 2048 * (id + 1);
  b.counters.bytes[WSTEER_DIR_BACKEND_TO_CLIENT] = 4096 * (id + 1);
  return b;
}

void expect_fits_80_columns(const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) EXPECT_LE(line.size(), 80u) << line;
}

TEST(WsteerctlModels, BackendsShareAndTableAligned) {
  const std::vector<BackendEntry> backends{backend(0, "b0", WSTEER_BACKEND_ACTIVE), backend(1, "b1", WSTEER_BACKEND_DRAINING),
                                           backend(2, "b2", WSTEER_BACKEND_ACTIVE, 2)};
  const std::vector<std::uint32_t> table{0, 1, 2, 2, 0, 1, 2, 2, 0, 2};  // 3, 2, 5 slots of 10
  const auto model = backends_model(backends, table);
  const auto& rows = model.at("backends").as_array();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].at("state").as_string(), "draining");
  EXPECT_DOUBLE_EQ(rows[2].at("maglev_share").as_double(), 0.5);
  EXPECT_EQ(rows[2].at("address").as_string(), "10.77.12.2");
  EXPECT_EQ(rows[2].at("bytes_backend_to_client").as_uint64(), 3u * 4096);
  std::ostringstream out;
  backends_table(model, out);
  const auto text = out.str();
  expect_fits_80_columns(text);
  EXPECT_NE(text.find("NAME  ADDRESS          STATE     WT  SHARE  ACTIVE  TOTAL      C>B      B>C"), std::string::npos) << text;
  EXPECT_NE(text.find("b1    10.77.11.2:9000  draining   1  20.0%       3    101  4.0 KiB  8.0 KiB"), std::string::npos) << text;
}

TEST(WsteerctlModels, MaglevHistogramAgainstIdealShares) {
  const std::vector<BackendEntry> backends{backend(0, "b0", WSTEER_BACKEND_ACTIVE), backend(1, "b1", WSTEER_BACKEND_ACTIVE, 3)};
  const std::vector<std::uint32_t> table{0, 1, 1, 1, 5};  // slot 4 names a backend no longer published
  const auto model = maglev_model(backends, table);
  EXPECT_EQ(model.at("table_size").as_uint64(), 5u);
  EXPECT_EQ(model.at("unassigned_slots").as_uint64(), 1u);
  EXPECT_DOUBLE_EQ(model.at("backends").as_array()[1].at("ideal_share").as_double(), 0.75);
  std::ostringstream out;
  maglev_table(model, out);
  expect_fits_80_columns(out.str());
  EXPECT_NE(out.str().find("########################"), std::string::npos) << out.str();
}

TEST(WsteerctlModels, FlowsPairSidesSkipClosedSocketsFilterAndLimit) {
  const std::vector<BackendEntry> backends{backend(0, "b0", WSTEER_BACKEND_ACTIVE), backend(1, "b1", WSTEER_BACKEND_ACTIVE)};
  std::vector<FlowSideEntry> sides;
  const auto add_flow = [&](std::uint64_t client_cookie, std::uint32_t backend_id, std::uint64_t created_s,
                            std::uint64_t up, std::uint64_t down) {
    FlowSideEntry c, b;
    c.cookie = client_cookie;
    b.cookie = client_cookie + 1;
    for (auto* e : {&c, &b}) {
      e->side.backend_id = backend_id;
      e->side.created_ns = created_s * 1'000'000'000ULL;
      e->side.client_port = static_cast<std::uint16_t>(40000 + client_cookie);
      const std::uint8_t addr[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 1, 2};
      std::memcpy(e->side.client_addr, addr, 16);
    }
    c.side.direction = WSTEER_DIR_CLIENT_TO_BACKEND;
    c.side.peer_cookie = b.cookie;
    c.side.bytes = up;
    b.side.direction = WSTEER_DIR_BACKEND_TO_CLIENT;
    b.side.peer_cookie = c.cookie;
    b.side.bytes = down;
    sides.push_back(b);  // map order is arbitrary
    sides.push_back(c);
  };
  add_flow(10, 0, 50, 100, 200);
  add_flow(20, 1, 10, 300, 400);
  add_flow(30, 1, 90, 5, 6);
  add_flow(40, 0, 5, 1, 1);  // its sockets are closed
  const auto open = [](std::uint64_t cookie) { return cookie != 40; };

  auto all = flows_model(sides, backends, open, {"", 0, 100'000'000'000ULL});
  EXPECT_EQ(all.at("matching").as_uint64(), 3u);
  EXPECT_EQ(all.at("closed_entries").as_uint64(), 1u);
  const auto& flows = all.at("flows").as_array();
  ASSERT_EQ(flows.size(), 3u);
  EXPECT_EQ(flows[0].at("client").as_string(), "10.77.1.2:40020") << "oldest first";
  EXPECT_EQ(flows[0].at("backend").as_string(), "b1");
  EXPECT_EQ(flows[0].at("age_seconds").as_uint64(), 90u);
  EXPECT_EQ(flows[0].at("bytes_client_to_backend").as_uint64(), 300u);
  EXPECT_EQ(flows[0].at("bytes_backend_to_client").as_uint64(), 400u);

  auto b1 = flows_model(sides, backends, open, {"b1", 1, 100'000'000'000ULL});
  EXPECT_EQ(b1.at("matching").as_uint64(), 2u);
  EXPECT_EQ(b1.at("shown").as_uint64(), 1u);
  std::ostringstream out;
  flows_table(b1, out);
  expect_fits_80_columns(out.str());
  EXPECT_NE(out.str().find("showing 1 of 2 flows"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("1 stale flow entries (sockets closed"), std::string::npos) << out.str();
}

TEST(WsteerctlModels, StatsAndStatusTablesSayWhenTheAgentIsDown) {
  wsteer_stats s{};
  s.bytes[0] = 10;
  s.bytes[1] = 20;
  auto model = stats_model(s, {backend(0, "b0", WSTEER_BACKEND_ACTIVE)}, nullptr);
  EXPECT_TRUE(model.at("userspace").is_null());
  model["agent"] = json::object{{"up", false}, {"reason", "agent not running: no control socket at /run/wsteer/x.sock"}};
  std::ostringstream out;
  stats_table(model, out);
  expect_fits_80_columns(out.str());
  EXPECT_NE(out.str().find("not available: agent not running"), std::string::npos) << out.str();

  std::ostringstream backends_out;
  json::object down{{"agent", model["agent"]}, {"backends", json::array{}}};
  backends_table(down, backends_out);
  EXPECT_NE(backends_out.str().find("showing the pinned maps as the agent last wrote them"), std::string::npos);
}

TEST(WsteerctlModels, StatsShowBackpressureAndRebalanceCounters) {
  wsteer_stats s{};
  s.held_bytes = 4096;
  s.holds = 3;
  s.frame_walks_lost = 2;
  s.close_holds = 1;
  const auto model = stats_model(s, {}, nullptr);
  const auto& bpf = model.at("bpf").as_object();
  EXPECT_EQ(bpf.at("held_bytes").to_number<std::uint64_t>(), 4096u);
  EXPECT_EQ(bpf.at("holds").to_number<std::uint64_t>(), 3u);
  EXPECT_EQ(bpf.at("frame_walks_lost").to_number<std::uint64_t>(), 2u);
  EXPECT_EQ(bpf.at("close_holds").to_number<std::uint64_t>(), 1u);
  auto with_agent = model;
  with_agent["agent"] = json::object{{"up", false}, {"reason", "down"}};
  std::ostringstream out;
  stats_table(with_agent, out);
  expect_fits_80_columns(out.str());
  EXPECT_NE(out.str().find("bytes held (backpressure)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("4096"), std::string::npos) << out.str();
}

TEST(WsteerctlOutput, JsonIsPrettyAndParsesBack) {
  const json::object model{{"a", 1}, {"b", json::array{json::value("x"), json::object{{"c", nullptr}}}}, {"e", json::object{}}};
  std::ostringstream out;
  print_json(out, model);
  EXPECT_EQ(out.str(), "{\n  \"a\": 1,\n  \"b\": [\n    \"x\",\n    {\n      \"c\": null\n    }\n  ],\n  \"e\": {}\n}\n");
  EXPECT_EQ(json::parse(out.str()), json::value(model));
}

}  // namespace
}  // namespace wsteer::cli
