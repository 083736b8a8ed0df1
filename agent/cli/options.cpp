#include "cli/options.h"

#include "admin/control_protocol.h"
#include "cli/ctl_error.h"

#include <CLI/CLI.hpp>

namespace wsteer::cli {

std::filesystem::path Options::control_socket_path() const {
  return control_socket.empty() ? admin::default_control_socket(bpffs) : control_socket;
}

namespace {

// "NAME=VALUE" or "NAME: VALUE" -> the pair; CLI11 reports the thrown message as a usage error.
std::pair<std::string, std::string> split_header(const std::string& text) {
  const auto at = text.find_first_of("=:");
  if (at == std::string::npos || at == 0)
    throw CLI::ValidationError("--header", "expected NAME=VALUE, got '" + text + "'");
  auto value = text.substr(at + 1);
  value.erase(0, value.find_first_not_of(' '));
  return {text.substr(0, at), value};
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Options o;
  CLI::App app{"wsteerctl: inspect and steer a node's wsteer-agent (its pinned BPF maps and control socket)"};
  app.set_version_flag("--version", "wsteerctl 0.1.0");
  app.require_subcommand(1, 1);
  app.fallthrough();  // shared options work after the subcommand too

  std::string output = "table";
  app.add_option("-o,--output", output, "table (default) or json")->check(CLI::IsMember({"table", "json"}));
  app.add_option("--bpffs", o.bpffs, "the agent's pin folder (default /sys/fs/bpf/wsteer)");
  app.add_option("--control-socket", o.control_socket,
                 "the agent's control socket (default /run/wsteer/<basename of --bpffs>.sock)");
  app.add_option("--timeout", o.timeout_seconds, "seconds to wait for the agent's answer (default 2)")
      ->check(CLI::PositiveNumber);

  app.add_subcommand("status", "agent up or not, programs attached, map fill levels, totals");
  app.add_subcommand("backends", "backends: state, weight, Maglev share, connections, bytes");
  auto* flows = app.add_subcommand("flows", "live spliced flows: client, backend, age, bytes each way");
  flows->add_option("--backend", o.backend_filter, "only flows to this backend");
  flows->add_option("--limit", o.limit, "show at most N flows, oldest first (default 100, 0: all)");
  auto* lookup = app.add_subcommand("lookup", "which backend the agent would choose for a request, and why");
  std::vector<std::string> headers;
  lookup->add_option("--sec-websocket-key", o.lookup.sec_websocket_key, "the request's Sec-WebSocket-Key");
  lookup->add_option("--query", o.lookup.query, "query parameter NAME=VALUE (repeatable)");
  lookup->add_option("--cookie", o.lookup.cookie, "the Cookie header, e.g. 'session=abc; wsteer=...'");
  lookup->add_option("--client-ip", o.lookup.client_ip, "the client's address (default 0.0.0.0)");
  lookup->add_option("--header", headers, "request header NAME=VALUE (repeatable)");
  lookup->add_option("--path", o.lookup.path, "request path (default /)");
  app.add_subcommand("maglev", "the Maglev table: size, slot share per backend, histogram");
  auto* drain = app.add_subcommand("drain", "no new connections to a backend; its flows stay");
  drain->add_option("backend", o.backend, "backend name")->required();
  auto* undrain = app.add_subcommand("undrain", "let a drained backend take new connections again");
  undrain->add_option("backend", o.backend, "backend name")->required();
  app.add_subcommand("stats", "BPF counters (per-CPU summed) and the agent's userspace counters");
  auto* xdp = app.add_subcommand("xdp", "the XDP front door: status, top, deny|allow|undeny CIDR");
  xdp->require_subcommand(1, 1);
  xdp->fallthrough();
  xdp->add_subcommand("status", "interfaces and modes, limits, counters by action and reason, allow/deny lists");
  auto* top = xdp->add_subcommand("top", "sources the guard is limiting now (dropped a SYN within --window)");
  top->add_option("--window", o.xdp_window_seconds, "seconds since a source's last drop (default 10)");
  top->add_option("--limit", o.limit, "show at most N sources (default 100, 0: all)");
  for (const auto& [name, help] : {std::pair{"deny", "drop everything to the listen ports from CIDR"},
                                   std::pair{"allow", "exempt CIDR from every XDP check"},
                                   std::pair{"undeny", "take CIDR off the deny (and allow) list"}})
    xdp->add_subcommand(name, help)->add_option("cidr", o.xdp_cidr, "e.g. 203.0.113.0/24 or 2001:db8::/48")->required();
  auto* rebalance = app.add_subcommand("rebalance", "which flows rebalance would close now, of which backend, and why");
  rebalance->add_flag("--dry-run", o.dry_run, "show what it would do (the only mode: the agent rebalances on its own)")
      ->required();

  try {
    app.parse(argc, argv);
    for (const auto& h : headers) o.lookup.headers.push_back(split_header(h));
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);  // prints help, or the error and a hint
    return {std::nullopt, code == 0 ? 0 : kExitUsage};
  }
  o.output = output == "json" ? OutputFormat::json : OutputFormat::table;
  o.command = app.get_subcommands().front()->get_name();
  if (o.command == "xdp") o.xdp_action = app.get_subcommands().front()->get_subcommands().front()->get_name();
  return {o, 0};
}

}  // namespace wsteer::cli
