// The one reader of the splice datapath's maps, for the agent (SpliceDatapath's queries, through
// the skeleton's descriptors) and for wsteerctl (through the pins in <bpffs>/). Per-CPU values are
// summed here and only here, so a counter added to struct wsteer_stats shows up in both.
// No skeleton and no logging: wsteerctl links this without the BPF object.
#pragma once

#include "core/unique_fd.h"
#include "wsteer_abi.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct bpf_object;  // libbpf

namespace wsteer::datapath {

struct BackendEntry {
  std::uint32_t id = 0;
  wsteer_backend_info info{};
  wsteer_backend_counters counters{};  // per-CPU values summed
};

struct FlowSideEntry {
  std::uint64_t cookie = 0;
  wsteer_flow_side side{};
};

struct MapUsage {
  std::string name;
  std::string type;  // libbpf's name of the map type ("hash", "sockhash", ...)
  std::uint64_t used = 0;
  std::uint64_t max = 0;
};

// A pin that cannot be opened: which one, and errno.
class MapOpenError : public std::runtime_error {
 public:
  MapOpenError(std::filesystem::path path, int error);
  const std::filesystem::path& path() const { return path_; }
  int error() const { return error_; }

 private:
  std::filesystem::path path_;
  int error_;
};

// Sums per-CPU copies field by field; every field of the struct, see splice_maps.cpp.
void add_counters(wsteer_stats& total, const wsteer_stats& cpu);
void add_counters(wsteer_backend_counters& total, const wsteer_backend_counters& cpu);

class SpliceMaps {
 public:
  // The maps pinned in `folder` (bpf_obj_get per map). Throws MapOpenError on the first missing one.
  static SpliceMaps open_pinned(const std::filesystem::path& folder);
  // The maps of a loaded splice object; borrows its descriptors (the object must outlive this).
  // Throws std::runtime_error if a name of map_names.h is not in the object.
  static SpliceMaps from_object(const bpf_object* object);

  wsteer_stats stats() const;  // per-CPU values summed
  wsteer_backend_counters backend_counters(std::uint32_t backend_id) const;
  // Backends whose state is not WSTEER_BACKEND_UNUSED, by id, with their summed counters.
  std::vector<BackendEntry> backends() const;
  // The Services the agent balances, by index (only those in use).
  std::map<std::uint32_t, wsteer_service_info> services() const;
  // Backend id per Maglev slot (every Service's table, one after another, see wsteer_services).
  std::vector<std::uint32_t> maglev() const;
  std::vector<FlowSideEntry> flow_sides() const;
  std::optional<wsteer_flow_side> flow_side(std::uint64_t cookie) const;
  // True while the socket with this cookie is in wsteer_targets (its descriptor is open).
  bool socket_open(std::uint64_t cookie) const;
  // Ids of the programs the kernel reports attached to wsteer_spliced's verdict slot; empty if
  // the query fails (kernels before 5.19 do not answer it for sockmaps).
  std::vector<std::uint32_t> verdict_program_ids() const;
  // How full the map `name` (one of map_names.h's splice maps) is: hashes are walked, arrays
  // count as full, wsteer_backends and its counters count the backends in use.
  MapUsage usage(const char* name) const;
  // usage() of every map this reader holds, in a fixed order.
  std::vector<MapUsage> usage() const;

  int fd(const char* name) const;  // throws std::out_of_range for a map this reader does not hold

 private:
  SpliceMaps() = default;

  std::map<std::string, int> fds_;  // map name -> descriptor (owned_ or the object's)
  std::vector<UniqueFd> owned_;
};

}  // namespace wsteer::datapath
