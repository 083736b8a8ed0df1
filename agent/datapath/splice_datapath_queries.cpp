// Read-only questions about the loaded datapath, asked of the kernel rather than of our own
// bookkeeping: is the verdict really attached, how full are the maps. The answers come from
// SpliceMaps, the reader wsteerctl uses too.
#include "datapath/map_names.h"
#include "datapath/splice_datapath.h"
#include "wsteer_splice.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>

namespace wsteer::datapath {

bool SpliceDatapath::verdict_attached() const {
  if (!skel_) return false;  // the kernel decides, not our bookkeeping (an adopting datapath owns no attachment yet)
  bpf_prog_info info{};
  std::uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_program__fd(skel_->progs.wsteer_splice_verdict), &info, &info_len) != 0)
    return false;
  const auto ids = maps_->verdict_program_ids();
  return std::find(ids.begin(), ids.end(), info.id) != ids.end();
}

std::vector<SpliceDatapath::MapFill> SpliceDatapath::map_fill() const {
  std::vector<MapFill> out;
  if (!maps_) return out;
  for (const char* name : {map_names::flows, map_names::targets, map_names::spliced}) {
    const auto usage = maps_->usage(name);
    out.push_back({name, static_cast<std::size_t>(usage.used), static_cast<std::uint32_t>(usage.max)});
  }
  return out;
}

}  // namespace wsteer::datapath
