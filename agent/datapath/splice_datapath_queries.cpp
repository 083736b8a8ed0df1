// Read-only questions about the loaded datapath, asked of the kernel rather than of our own
// bookkeeping: is the verdict really attached, how full are the maps.
#include "datapath/map_keys.h"
#include "datapath/splice_datapath.h"
#include "wsteer_splice.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

namespace wsteer::datapath {

bool SpliceDatapath::verdict_attached() const {
  if (!skel_ || !attached_) return false;
  bpf_prog_info info{};
  std::uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_program__fd(skel_->progs.wsteer_splice_verdict), &info, &info_len) != 0)
    return false;
  // The sockmap answers BPF_PROG_QUERY for its verdict slot (kernel >= 5.19): one id at most.
  std::uint32_t ids[4] = {};
  std::uint32_t count = 4;
  std::uint32_t flags = 0;
  if (bpf_prog_query(bpf_map__fd(skel_->maps.wsteer_spliced), BPF_SK_SKB_VERDICT, 0, &flags, ids, &count) != 0)
    return false;
  for (std::uint32_t i = 0; i < count && i < 4; ++i)
    if (ids[i] == info.id) return true;
  return false;
}

std::vector<SpliceDatapath::MapFill> SpliceDatapath::map_fill() const {
  std::vector<MapFill> out;
  if (!skel_) return out;
  for (const bpf_map* map : {skel_->maps.wsteer_flows, skel_->maps.wsteer_targets, skel_->maps.wsteer_spliced})
    out.push_back({bpf_map__name(map), count_map_keys(bpf_map__fd(map)), bpf_map__max_entries(map)});
  return out;
}

}  // namespace wsteer::datapath
