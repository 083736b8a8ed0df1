#include "datapath/xdp_counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <vector>

namespace wsteer::datapath {

XdpReasonLabel xdp_reason_label(std::uint32_t reason) {
  switch (reason) {
    case WSTEER_XDP_PASS_NOT_GUARDED: return {"pass", "not_guarded"};
    case WSTEER_XDP_PASS_VLAN: return {"pass", "vlan"};
    case WSTEER_XDP_PASS_ALLOWED: return {"pass", "allow_list"};
    case WSTEER_XDP_PASS_ESTABLISHED: return {"pass", "established"};
    case WSTEER_XDP_PASS_SYN: return {"pass", "syn_accepted"};
    case WSTEER_XDP_DROP_DENIED: return {"drop", "deny_list"};
    case WSTEER_XDP_DROP_SYN_RATE: return {"drop", "syn_rate"};
    case WSTEER_XDP_DROP_CONN_LIMIT: return {"drop", "conn_limit"};
    case WSTEER_XDP_DROP_MALFORMED: return {"drop", "malformed"};
    default: return {"unknown", "unknown"};
  }
}

XdpCounters read_xdp_counters(int fd) {
  XdpCounters total{};
  const int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return total;
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(ncpus));
  for (std::uint32_t r = 0; r < WSTEER_XDP_REASON_COUNT; ++r) {
    if (bpf_map_lookup_elem(fd, &r, per_cpu.data()) != 0) continue;
    for (auto v : per_cpu) total[r] += v;
  }
  return total;
}

}  // namespace wsteer::datapath
