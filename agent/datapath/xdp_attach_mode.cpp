#include "datapath/xdp_attach_mode.h"

#include <bpf/libbpf.h>
#include <linux/if_link.h>

namespace wsteer::datapath {

std::string xdp_attach_mode(int ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (bpf_xdp_query(ifindex, 0, &q) != 0) return "unknown";
  switch (q.attach_mode) {
    case XDP_ATTACHED_DRV: return "native";
    case XDP_ATTACHED_SKB: return "generic";
    case XDP_ATTACHED_HW: return "offloaded";
    case XDP_ATTACHED_MULTI: return "multi";
    default: return "none";
  }
}

}  // namespace wsteer::datapath
