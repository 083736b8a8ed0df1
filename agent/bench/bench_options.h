// The command line of wsteer-bench (CLI11). Two shapes: a client run against --url, or the fast
// backend with --serve. The harness in scripts/bench/ depends on these option names.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

namespace wsteer::bench {

enum class Mode { pingpong, open, stream, churn, idle };
enum class Direction { down, up };

const char* mode_name(Mode mode);

// Bad input the user can fix: main() prints it and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A parsed ws:// URL. `target` is the request target (path and query), never empty.
struct WsUrl {
  std::string host;
  std::string port;
  std::string target;
  std::string text;  // as given, for the report
};

// Throws UsageError naming what is wrong (scheme, host, port).
WsUrl parse_ws_url(const std::string& text);

struct ClientOptions {
  WsUrl url;
  Mode mode = Mode::pingpong;
  Direction direction = Direction::down;
  int connections = 1;
  double connect_rate = 0;          // new connections per second; 0 = as fast as possible
  int max_pending_connects = 256;   // in-flight handshakes per thread when connect_rate is 0
  std::size_t size = 64;
  double rate = 1;                  // open/idle: messages per second per connection
  double duration = 10;
  std::uint64_t messages = 0;       // 0 = run for duration
  double warmup = 1;
  double connect_timeout = 10;
  int threads = 1;
  bool json = false;
  std::string ready_file;
  bool quiet = false;
};

struct ServerOptions {
  std::string address;
  unsigned short port = 0;
  int threads = 1;
};

using Invocation = std::variant<ClientOptions, ServerOptions>;

// Parses argv. On --help, prints and returns the exit code in `exit_code` (no invocation).
// On bad input, throws UsageError (or prints CLI11's message and sets exit_code).
std::optional<Invocation> parse_command_line(int argc, const char* const* argv, int& exit_code);

}  // namespace wsteer::bench
