// Dispatch: open what the command needs (pinned maps, control socket), build its model, print it.
#include "cli/commands.h"

#include "cli/ctl_error.h"
#include "cli/json_fields.h"

#include <time.h>

namespace wsteer::cli {
namespace json = boost::json;

json::object agent_json(const AgentProbe& probe, const ControlClient& client) {
  json::object agent{{"up", probe.up}, {"control_socket", client.path().string()}};
  if (!probe.up) agent["reason"] = probe.why_down;
  return agent;
}

void print_agent_down_note(const json::object& model, std::ostream& out) {
  const auto& agent = obj(model, "agent");
  if (!agent.empty() && !flag(agent, "up"))
    out << str(agent, "reason") << "\n(showing the pinned maps as the agent last wrote them)\n";
}

namespace {

std::uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(now.tv_nsec);
}

void emit(const Options& options, const json::object& model, void (*table)(const json::object&, std::ostream&),
          std::ostream& out) {
  if (options.output == OutputFormat::json) print_json(out, model);
  else table(model, out);
}

// The agent's answer to a command that only it can carry out (drain, undrain, lookup).
json::object through_agent(const ControlClient& client, const json::object& request, const char* what) {
  try {
    auto reply = client.call(request);
    reply.erase("ok");
    return reply;
  } catch (const CtlError& e) {
    throw CtlError(std::string(what) + " needs the running agent: " + e.what());
  }
}

}  // namespace

void run_command(const Options& options, std::ostream& out) {
  const ControlClient client(options.control_socket_path(),
                             std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000)));
  const auto& command = options.command;

  if (command == "drain" || command == "undrain") {
    auto reply = through_agent(client, {{"command", command}, {"backend", options.backend}}, command.c_str());
    emit(options, reply, drain_table, out);
    return;
  }
  if (command == "xdp") {  // its own pins (<bpffs>/xdp), with or without the splice maps
    run_xdp(options, out);
    return;
  }
  if (command == "rebalance") {
    auto reply = through_agent(client, {{"command", "rebalance"}, {"dry_run", true}}, "rebalance --dry-run");
    emit(options, reply, rebalance_table, out);
    return;
  }
  if (command == "lookup") {
    auto reply = through_agent(client, lookup_request(options.lookup), "lookup");
    emit(options, reply, lookup_table, out);
    return;
  }

  // Read-only commands: the pinned maps, whether the agent runs or not.
  const auto probe = probe_agent(client);
  const PinnedMaps maps = [&] {
    try {
      return PinnedMaps(options.bpffs);
    } catch (const CtlError& e) {
      // An agent with the userspace datapath pins nothing: say that rather than "not running".
      const auto* datapath = probe.status ? probe.status->if_contains("datapath") : nullptr;
      if (datapath && datapath->is_string() && datapath->as_string() == "userspace")
        throw CtlError("the agent runs with --datapath userspace: no BPF maps to read (" + std::string(e.what()) + ")");
      throw;
    }
  }();
  json::object model;
  void (*table)(const json::object&, std::ostream&) = nullptr;
  if (command == "status") {
    model = status_model(maps, probe, client);
    table = status_table;
  } else if (command == "backends") {
    model = backends_model(maps.backends(), maps.maglev(), maps.services());
    table = backends_table;
  } else if (command == "maglev") {
    model = maglev_model(maps.backends(), maps.maglev(), maps.services());
    table = maglev_table;
  } else if (command == "flows") {
    model = flows_model(maps.flow_sides(), maps.backends(), [&](std::uint64_t c) { return maps.socket_open(c); },
                        {options.backend_filter, options.limit, monotonic_ns()});
    table = flows_table;
  } else if (command == "stats") {
    std::optional<json::object> counters;
    if (probe.up) {
      try {
        auto reply = client.call({{"command", "stats"}});
        if (auto* c = reply.if_contains("counters"); c && c->is_object()) counters = c->as_object();
      } catch (const CtlError&) {
        // Went away between the probe and now: the BPF counters still answer.
      }
    }
    model = stats_model(maps.stats(), maps.backends(), counters ? &*counters : nullptr);
    table = stats_table;
  } else {
    throw CtlError("unknown command '" + command + "'", kExitUsage);
  }
  if (command != "status") {
    // Status carries the full agent object already; the others say at least whether it is up.
    json::object ordered{{"agent", agent_json(probe, client)}};
    for (auto& kv : model) ordered[kv.key()] = std::move(kv.value());
    model = std::move(ordered);
  }
  emit(options, model, table, out);
}

}  // namespace wsteer::cli
