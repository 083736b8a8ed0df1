// wsteerctl's commands. Each one builds a model, the JSON document `-o json` prints (its shape is
// documented in the README and kept stable), and renders a table from that same model. Models are
// built from plain data so unit tests can build them without an agent.
#pragma once

#include "cli/control_client.h"
#include "cli/options.h"
#include "cli/pinned_maps.h"
#include "cli/pinned_xdp.h"

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <ostream>
#include <map>
#include <vector>

namespace wsteer::cli {

// Runs the command `options` names, printing to `out`. Throws CtlError.
void run_command(const Options& options, std::ostream& out);

// {"up": bool, "control_socket": path, "reason": why not (when down)}
boost::json::object agent_json(const AgentProbe& probe, const ControlClient& client);
// One line under a table when the agent is not answering.
void print_agent_down_note(const boost::json::object& model, std::ostream& out);

// status
boost::json::object status_model(const PinnedMaps& maps, const AgentProbe& probe, const ControlClient& client);
void status_table(const boost::json::object& model, std::ostream& out);

// backends and maglev
std::vector<std::uint64_t> slots_per_backend(const std::vector<std::uint32_t>& table);  // indexed by id
// `services` (wsteer_services): each backend's Service, whose own slice of the table its share is
// counted against; empty: one table of maglev.size() slots.
using ServiceInfos = std::map<std::uint32_t, wsteer_service_info>;
boost::json::object backends_model(const std::vector<BackendEntry>& backends, const std::vector<std::uint32_t>& maglev,
                                   const ServiceInfos& services = {});
void backends_table(const boost::json::object& model, std::ostream& out);
boost::json::object maglev_model(const std::vector<BackendEntry>& backends, const std::vector<std::uint32_t>& maglev,
                                 const ServiceInfos& services = {});
void maglev_table(const boost::json::object& model, std::ostream& out);

// flows
struct FlowQuery {
  std::string backend;    // only this backend ("" = all)
  std::size_t limit = 0;  // 0: all
  std::uint64_t now_ns = 0;  // CLOCK_MONOTONIC, as the flows' created_ns
};
boost::json::object flows_model(const std::vector<FlowSideEntry>& sides, const std::vector<BackendEntry>& backends,
                                const std::function<bool(std::uint64_t cookie)>& socket_open, const FlowQuery& query);
void flows_table(const boost::json::object& model, std::ostream& out);

// lookup (through the agent)
boost::json::object lookup_request(const LookupInputs& inputs);
void lookup_table(const boost::json::object& model, std::ostream& out);

// drain / undrain (through the agent)
void drain_table(const boost::json::object& model, std::ostream& out);

// rebalance --dry-run (through the agent)
void rebalance_table(const boost::json::object& model, std::ostream& out);

// stats
boost::json::object stats_model(const wsteer_stats& bpf, const std::vector<BackendEntry>& backends,
                                const boost::json::object* userspace_counters);
void stats_table(const boost::json::object& model, std::ostream& out);

// xdp (cmd_xdp.cpp): the XDP guard's pinned maps, read and written directly.
void run_xdp(const Options& options, std::ostream& out);
boost::json::object xdp_status_model(const XdpSnapshot& snapshot);
void xdp_status_table(const boost::json::object& model, std::ostream& out);
// Sources whose last drop is at most `window_seconds` before `now_ns` (CLOCK_MONOTONIC), most drops first.
boost::json::object xdp_top_model(const std::vector<XdpSourceEntry>& sources, std::uint64_t now_ns,
                                  std::uint64_t window_seconds, std::size_t limit);
void xdp_top_table(const boost::json::object& model, std::ostream& out);

}  // namespace wsteer::cli
