// Read-only access to an agent's pinned maps (<bpffs>/wsteer_*), with libbpf. Works whether the
// agent runs or not: the pins outlive a stopped or killed agent (only a clean exit unpins).
#pragma once

#include "core/unique_fd.h"
#include "wsteer_abi.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace wsteer::cli {

struct BackendEntry {
  std::uint32_t id = 0;
  wsteer_backend_info info{};
  wsteer_backend_counters counters{};  // per-CPU values summed
};

struct FlowSideEntry {
  std::uint64_t cookie = 0;
  wsteer_flow_side side{};
};

struct MapFill {
  std::string name;
  std::string type;
  std::uint64_t used = 0;
  std::uint64_t max = 0;
};

struct AttachedProgram {
  std::uint32_t id = 0;
  std::string name;
  std::string attached_to;  // "wsteer_spliced (sk_skb verdict)"
};

class PinnedMaps {
 public:
  // Opens every map wsteerctl reads. Throws CtlError naming the folder and what is missing.
  explicit PinnedMaps(const std::filesystem::path& bpffs);

  // Backends whose state is not WSTEER_BACKEND_UNUSED, by id.
  std::vector<BackendEntry> backends() const;
  // The Services the agent balances, by index (only those in use).
  std::map<std::uint32_t, wsteer_service_info> services() const;
  // Backend id per Maglev slot (every Service's table, one after another, see wsteer_services).
  std::vector<std::uint32_t> maglev() const;
  wsteer_stats stats() const;  // per-CPU values summed
  std::vector<FlowSideEntry> flow_sides() const;
  // True while the socket with this cookie is still open (still in wsteer_targets): a killed
  // agent's flow entries stay in wsteer_flows, but its sockets are gone from the sockhashes.
  bool socket_open(std::uint64_t cookie) const;
  // Programs attached to the sockhash whose sockets run through the verdict.
  std::vector<AttachedProgram> verdict_programs() const;
  std::vector<MapFill> fill() const;
  const std::filesystem::path& folder() const { return folder_; }

 private:
  int fd(const std::string& name) const;

  std::filesystem::path folder_;
  std::map<std::string, UniqueFd> maps_;
};

}  // namespace wsteer::cli
