// The names of the splice datapath's maps (bpf/splice.bpf.c, bpf/lib/*.h), which are also the file
// names of their pins in <bpffs>/. The one place C++ spells them: the datapath, the map reader
// (splice_maps.h, so wsteerctl), and the tests' harness. SpliceMaps::from_object() looks every name
// up in the loaded object, so a name that drifts from the BPF source fails at the agent's start.
#pragma once

namespace wsteer::datapath::map_names {

inline constexpr const char* targets = "wsteer_targets";          // sockhash: redirect targets
inline constexpr const char* spliced = "wsteer_spliced";          // sockhash: the verdict is attached here
inline constexpr const char* flows = "wsteer_flows";              // per socket: peer, counters, frames
inline constexpr const char* flow_ctl = "wsteer_flow_ctl";        // per socket: backpressure, close request
inline constexpr const char* events = "wsteer_events";            // ring buffer: verdict -> agent
inline constexpr const char* stats = "wsteer_stats";              // per-CPU node-wide verdict counters
inline constexpr const char* backend_counters = "wsteer_backend_counters";  // per-CPU, per backend
inline constexpr const char* backends = "wsteer_backends";        // backend id -> name, address, state
inline constexpr const char* services = "wsteer_services";        // service index -> name, Maglev slice
inline constexpr const char* maglev = "wsteer_maglev";            // Maglev slot -> backend id
inline constexpr const char* abi = "wsteer_abi";                  // one slot: WSTEER_ABI_VERSION of the maps

// The XDP guard's maps (bpf/lib/xdp_*.h), pinned in <bpffs>/xdp/.
inline constexpr const char* xdp_folder = "xdp";
inline constexpr const char* xdp_config = "wsteer_xdp_config";
inline constexpr const char* xdp_counters = "wsteer_xdp_counters";
inline constexpr const char* xdp_sources = "wsteer_xdp_sources";
inline constexpr const char* xdp_conns = "wsteer_xdp_conns";
inline constexpr const char* xdp_deny4 = "wsteer_xdp_deny4";
inline constexpr const char* xdp_deny6 = "wsteer_xdp_deny6";
inline constexpr const char* xdp_allow4 = "wsteer_xdp_allow4";
inline constexpr const char* xdp_allow6 = "wsteer_xdp_allow6";

}  // namespace wsteer::datapath::map_names
