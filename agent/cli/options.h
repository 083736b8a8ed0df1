// wsteerctl's command line (CLI11): one subcommand, and the options every command shares
// (-o table|json, --bpffs, --control-socket, --timeout) accepted before or after it.
#pragma once

#include "cli/output.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace wsteer::cli {

// What a request would carry, for `wsteerctl lookup`.
struct LookupInputs {
  std::string sec_websocket_key;
  std::string cookie;                // the whole Cookie header value
  std::string client_ip;
  std::string path = "/";
  std::vector<std::string> query;    // NAME=VALUE, as in the URL
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Options {
  std::string command;  // status, backends, flows, lookup, maglev, drain, undrain, stats
  OutputFormat output = OutputFormat::table;
  std::filesystem::path bpffs = "/sys/fs/bpf/wsteer";
  std::filesystem::path control_socket;  // empty: the default for bpffs (admin/control_protocol.h)
  double timeout_seconds = 2;
  std::string backend_filter;  // flows --backend
  std::size_t limit = 100;     // flows --limit (0: all)
  LookupInputs lookup;
  std::string backend;  // drain/undrain NAME
  std::string xdp_action;                    // xdp status|top|deny|allow|undeny
  std::string xdp_cidr;                      // xdp deny|allow|undeny CIDR
  std::uint64_t xdp_window_seconds = 10;     // xdp top --window
  bool dry_run = false;  // rebalance --dry-run

  std::filesystem::path control_socket_path() const;
};

struct ParsedCommandLine {
  std::optional<Options> options;  // nothing: exit with exit_code (help printed, or a usage error)
  int exit_code = 0;
};

// Parses argv; help and usage errors are written to `out` / `err`.
ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace wsteer::cli
