#include "bench/bench_options.h"

#include <CLI/CLI.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
#include <map>
#include <thread>

namespace wsteer::bench {

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::pingpong: return "pingpong";
    case Mode::open: return "open";
    case Mode::stream: return "stream";
    case Mode::churn: return "churn";
    case Mode::idle: return "idle";
  }
  return "?";
}

WsUrl parse_ws_url(const std::string& text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) throw UsageError("bad --url '" + text + "': " + parsed.error().message());
  const auto& u = *parsed;
  if (u.scheme() == "wss") throw UsageError("bad --url '" + text + "': wss:// (TLS) is not supported, use ws://");
  if (u.scheme() != "ws") throw UsageError("bad --url '" + text + "': the scheme must be ws://");
  WsUrl out;
  out.text = text;
  out.host = u.host_address();  // without the brackets of an IPv6 literal
  if (out.host.empty()) throw UsageError("bad --url '" + text + "': no host");
  out.port = u.has_port() ? std::string(u.port()) : "80";
  unsigned port = 0;
  const auto [end, err] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (err != std::errc{} || end != out.port.data() + out.port.size() || port == 0 || port > 65535)
    throw UsageError("bad --url '" + text + "': bad port '" + out.port + "'");
  out.target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
  return out;
}

namespace {

ServerOptions parse_listen(const std::string& text, int threads) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw UsageError("bad --serve '" + text + "': expected ADDR:PORT");
  ServerOptions out;
  out.address = text.substr(0, colon);
  if (out.address.size() > 2 && out.address.front() == '[' && out.address.back() == ']')
    out.address = out.address.substr(1, out.address.size() - 2);
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) port = 0;
  } catch (const std::exception&) {
  }
  if (port == 0 || port > 65535) throw UsageError("bad --serve '" + text + "': bad port");
  out.port = static_cast<unsigned short>(port);
  out.threads = threads;
  return out;
}

}  // namespace

std::optional<Invocation> parse_command_line(int argc, const char* const* argv, int& exit_code) {
  CLI::App app{
      "wsteer-bench: WebSocket load generator (client) and fast echo backend (--serve).\n"
      "  wsteer-bench --url ws://HOST:PORT/PATH [options]\n"
      "  wsteer-bench --serve ADDR:PORT [--threads T]"};
  ClientOptions c;
  std::string url, serve, direction = "down";
  int threads = 0;
  const std::map<std::string, Mode> modes{{"pingpong", Mode::pingpong}, {"open", Mode::open},
                                          {"stream", Mode::stream},     {"churn", Mode::churn},
                                          {"idle", Mode::idle}};
  auto* url_opt = app.add_option("--url", url, "ws://HOST:PORT/PATH to load (client)");
  auto* serve_opt = app.add_option("--serve", serve, "ADDR:PORT to serve the echo/source/sink backend on");
  url_opt->excludes(serve_opt);
  std::string mode = "pingpong";
  app.add_option("--mode", mode, "pingpong|open|stream|churn|idle (default pingpong)")
      ->check(CLI::IsMember({"pingpong", "open", "stream", "churn", "idle"}));
  app.add_option("--direction", direction, "stream: down (server sends, default) or up (client sends)")
      ->check(CLI::IsMember({"down", "up"}));
  app.add_option("--connections", c.connections, "concurrent connections (default 1)")->check(CLI::Range(1, 1'000'000));
  app.add_option("--connect-rate", c.connect_rate, "new connections per second while opening (0 = as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-pending-connects", c.max_pending_connects,
                 "with --connect-rate 0: handshakes in flight per thread (default 256)")
      ->check(CLI::Range(1, 1'000'000));
  auto* size_opt = app.add_option("--size", c.size, "message payload bytes (default 64; stream 16384)")
                       ->check(CLI::Range(std::size_t{1}, std::size_t{256} << 20));
  auto* rate_opt = app.add_option("--rate", c.rate, "open/idle: messages per second per connection (default 1)")
                       ->check(CLI::PositiveNumber);
  app.add_option("--duration", c.duration, "measuring seconds after all connections are up (default 10)")
      ->check(CLI::PositiveNumber);
  app.add_option("--messages", c.messages, "stop after N measured messages in total instead (pingpong/open/stream)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", c.warmup, "seconds discarded before measuring (default 1)")->check(CLI::NonNegativeNumber);
  app.add_option("--connect-timeout", c.connect_timeout, "seconds for TCP connect plus handshake (default 10)")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "io threads (client default 1; server default one per CPU)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--json", c.json, "print one JSON object on stdout instead of the table");
  app.add_option("--ready-file", c.ready_file, "write PATH once every connection is established");
  app.add_flag("--quiet", c.quiet, "no progress line on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return std::nullopt;
  }
  if (!serve.empty()) {
    for (const char* client_only : {"--mode", "--connections", "--json", "--duration", "--size", "--rate"})
      if (app.count(client_only)) throw UsageError(std::string(client_only) + " is a client option; not with --serve");
    return parse_listen(serve, threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
  if (url.empty()) throw UsageError("--url ws://HOST:PORT/PATH (client) or --serve ADDR:PORT (server) is required");
  c.url = parse_ws_url(url);
  c.mode = modes.at(mode);
  c.threads = threads > 0 ? threads : 1;
  c.direction = direction == "up" ? Direction::up : Direction::down;
  if (c.mode == Mode::stream && size_opt->count() == 0) c.size = 16384;
  if (app.count("--direction") && c.mode != Mode::stream) throw UsageError("--direction applies to --mode stream only");
  if (rate_opt->count() && c.mode != Mode::open && c.mode != Mode::idle)
    throw UsageError("--rate applies to --mode open and idle only");
  if (c.messages && (c.mode == Mode::churn || c.mode == Mode::idle))
    throw UsageError("--messages applies to pingpong, open and stream; churn and idle run for --duration");
  return c;
}

}  // namespace wsteer::bench
