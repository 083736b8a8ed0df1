// libbpf's own messages (verifier logs, CO-RE relocations, map pinning) go to spdlog, so they carry
// the agent's format (--log-format json) instead of raw lines on stderr.
#pragma once

namespace wsteer::datapath {

// Installs the print callback (once per process; later calls do nothing). Levels: LIBBPF_WARN ->
// warn, LIBBPF_INFO -> info, LIBBPF_DEBUG -> debug, all through spdlog's default logger.
void route_libbpf_log_to_spdlog();

}  // namespace wsteer::datapath
