// Read-only access to an agent's pinned maps (<bpffs>/wsteer_*): datapath::SpliceMaps (the reader
// the agent uses too) with wsteerctl's error messages. Works whether the agent runs or not: the
// pins outlive a stopped or killed agent (only a clean exit unpins).
#pragma once

#include "datapath/splice_maps.h"
#include "wsteer_abi.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace wsteer::cli {

using BackendEntry = datapath::BackendEntry;
using FlowSideEntry = datapath::FlowSideEntry;
using MapFill = datapath::MapUsage;

struct AttachedProgram {
  std::uint32_t id = 0;
  std::string name;
  std::string attached_to;  // the map: "wsteer_spliced"
  std::string attach_type;  // "sk_skb_verdict"
};

class PinnedMaps {
 public:
  // Opens every map wsteerctl reads. Throws CtlError naming the folder and what is missing.
  explicit PinnedMaps(const std::filesystem::path& bpffs);

  std::vector<BackendEntry> backends() const { return maps_.backends(); }
  std::map<std::uint32_t, wsteer_service_info> services() const { return maps_.services(); }
  std::vector<std::uint32_t> maglev() const { return maps_.maglev(); }
  wsteer_stats stats() const { return maps_.stats(); }
  std::vector<FlowSideEntry> flow_sides() const { return maps_.flow_sides(); }
  // True while the socket with this cookie is still open (still in wsteer_targets): a killed
  // agent's flow entries stay in wsteer_flows, but its sockets are gone from the sockhashes.
  bool socket_open(std::uint64_t cookie) const { return maps_.socket_open(cookie); }
  // Programs attached to the sockhash whose sockets run through the verdict.
  std::vector<AttachedProgram> verdict_programs() const;
  std::vector<MapFill> fill() const;
  const std::filesystem::path& folder() const { return folder_; }

 private:
  PinnedMaps(const std::filesystem::path& bpffs, datapath::SpliceMaps maps) : folder_(bpffs), maps_(std::move(maps)) {}
  static datapath::SpliceMaps open(const std::filesystem::path& bpffs);

  std::filesystem::path folder_;
  datapath::SpliceMaps maps_;
};

}  // namespace wsteer::cli
