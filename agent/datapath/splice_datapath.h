// The splice datapath: owns the loaded BPF object (skeleton), pins its maps under a bpffs folder,
// attaches the verdict, and inserts/removes the two sockets of each flow. See docs/kernel-notes.md
// ("Splicing a flow") for the insertion order this class makes possible.
// Every kernel object it holds is a member that undoes itself (kernel_objects.h), declared in the
// order they are made: a constructor that throws half-way, like the destructor, releases exactly
// what was made, in reverse (ring buffer, verdict attachment, pins, skeleton, folder, flock).
#pragma once

#include "core/unique_fd.h"
#include "datapath/kernel_objects.h"
#include "datapath/splice_maps.h"
#include "wsteer_abi.h"

#include <boost/system/error_code.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

struct wsteer_splice;  // the bpftool skeleton
struct ring_buffer;    // libbpf

namespace wsteer::datapath {

struct FlowSockets {
  int client_fd = -1;
  int backend_fd = -1;
  std::uint64_t client_cookie = 0;
  std::uint64_t backend_cookie = 0;
};

struct FlowMeta {
  std::uint32_t backend_id = 0;
  std::array<std::uint8_t, 16> client_addr{};  // IPv4 as ::ffff:a.b.c.d
  std::uint16_t client_port = 0;
};

// Per-CPU counters summed over CPUs.
struct SpliceTotals {
  wsteer_stats stats{};
};

class SpliceDatapath {
 public:
  // Loads the programs and maps, pins the maps in `pin_dir` (created; stale pins from a dead
  // agent are replaced), attaches the verdict. Throws std::system_error with context on failure.
  // `flow_limit`: bytes in the middle per flow and direction before the verdict holds
  // (backpressure, see splice.bpf.c); 0 disables it. `services`: how many Services the agent
  // balances, each with a Maglev table of `maglev_size` slots in wsteer_maglev.
  // `rebalance`: the verdict walks the WebSocket frames backends send and honours close requests
  // (--rebalance-above set); off, it costs the flows nothing.
  // `adopt` (hand-off, docs/handoff.md): the maps pinned in `pin_dir` by a predecessor that is
  // handing over are reused instead of replaced (refused with a clear error when their
  // WSTEER_ABI_VERSION or shape differs), and this agent's verdict is attached to the same
  // sockhash. The predecessor's flock is waited for (briefly): it drops it during the hand-off.
  SpliceDatapath(const std::filesystem::path& pin_dir, std::uint32_t maglev_size, std::uint64_t flow_limit = 0,
                 std::uint32_t services = 1, bool rebalance = false, bool adopt = false);
  ~SpliceDatapath();  // detaches, unpins, removes pin_dir, unlocks (nothing of it after hand_over())

  // The map layout this agent is built for: WSTEER_ABI_VERSION, or WSTEER_TEST_ABI_VERSION from
  // the environment (a test hook that fakes an incompatible successor).
  static std::uint32_t abi_version();
  // Hand-off, old agent. release_lock(): lets the successor take the pin folder's flock (relock()
  // takes it back if the hand-off fails). hand_over(): the successor owns the pins and its verdict
  // is attached; the destructor then leaves pins, attachment and folder in place.
  void release_lock() { lock_.reset(); }
  void relock();
  void hand_over();
  // Hand-off failed, old agent: the successor attached its verdict; put ours back.
  void reattach_verdict();
  // Hand-off, new agent: an adopting datapath stays tentative (its destructor leaves pins,
  // attachment and folder, which the predecessor still owns) until the hand-off is done.
  // Not called (the successor failed): it leaves nothing undone, and its verdict stays attached
  // until the predecessor's reattach_verdict().
  void confirm_adoption();
  SpliceDatapath(const SpliceDatapath&) = delete;
  SpliceDatapath& operator=(const SpliceDatapath&) = delete;

  // Step 1 of the splice: records the pair in wsteer_flows and makes both sockets redirect
  // targets. No byte moves through the verdict yet. Fills in the cookies.
  boost::system::error_code add_targets(FlowSockets& flow, const FlowMeta& meta);
  // Steps 3-5: runs `fd`'s received bytes through the verdict and kicks anything already queued.
  boost::system::error_code splice(int fd, std::uint64_t cookie);
  // Forgets the flow (its sockets leave the sockhashes when their descriptors close).
  void remove(const FlowSockets& flow);
  // After a hand-off failed or lost its other side (docs/handoff.md): the flows that died with the
  // other agent left their wsteer_flows and wsteer_flow_ctl entries (the kernel takes a closed
  // socket out of the sockhashes, nothing else). Removes the entries of every socket that is in
  // neither sockhash (closed), was made before `made_before_ns` (CLOCK_MONOTONIC,
  // wsteer_flow_side.created_ns) and that `owned` does not know; a live flow of another agent is
  // never touched. Returns how many sockets' entries went.
  std::size_t sweep_orphans(const std::function<bool(std::uint64_t cookie)>& owned, std::uint64_t made_before_ns);
  // Called (on the caller's thread) by every remove(): how the XDP guard's per-source connection
  // counts learn that a spliced flow ended. Set once, before flows start.
  void set_on_remove(std::function<void(const FlowSockets&)> observer) { on_remove_ = std::move(observer); }

  // Backpressure control of the socket `cookie` (wsteer_flow_ctl): its peer's bytes written at
  // splice time, and how many of its held bytes the agent has relayed to the peer so far.
  // `close` (rebalance): the verdict holds every later byte of this socket for the agent's close.
  boost::system::error_code set_flow_control(std::uint64_t cookie, std::uint64_t peer_written_base,
                                             std::uint64_t relayed = 0, bool close = false);
  // Rebalance: where the frames stand after the bytes the agent relayed itself before the splice
  // (the 101's tail). Only before `splice(cookie)`: afterwards the verdict owns the entry.
  boost::system::error_code seed_frames(std::uint64_t cookie, const wsteer_frame_state& frames);
  bool rebalance() const { return rebalance_; }
  // The verdict's view of one spliced socket (counters, holding state), if it is in the map.
  std::optional<wsteer_flow_side> flow_side(std::uint64_t cookie) const;
  std::uint64_t flow_limit() const { return flow_limit_; }
  // wsteer_events: a descriptor to poll for readability, and a drain that calls `handler` per record.
  int events_fd() const;
  void consume_events(const std::function<void(const wsteer_event&)>& handler);

  // Bytes the verdict has redirected from the socket with this cookie (0 if unknown).
  std::uint64_t redirected_bytes(std::uint64_t cookie) const;
  SpliceTotals totals() const;
  // One backend's counters summed over CPUs.
  wsteer_backend_counters backend_counters(std::uint32_t backend_id) const;

  void publish_backend(std::uint32_t id, const wsteer_backend_info& info);
  // The Maglev table of Service `service` (its slice of wsteer_maglev), and the Service itself.
  void publish_maglev(const std::vector<std::uint32_t>& table, std::uint32_t service = 0);
  void publish_service(std::uint32_t service, const wsteer_service_info& info);

  const std::filesystem::path& pin_dir() const { return pin_dir_; }

  // Health and fill queries for /healthz and /metrics (splice_datapath_queries.cpp).
  // Whether the kernel reports our verdict program attached to wsteer_spliced right now.
  bool verdict_attached() const;
  struct MapFill {
    const char* name;
    std::size_t entries;      // keys counted by walking the map
    std::uint32_t max_entries;
  };
  // wsteer_flows and the two sockhashes: how full they are.
  std::vector<MapFill> map_fill() const;
  // The reader of the maps (the same one wsteerctl uses on the pins).
  const SpliceMaps& maps() const { return *maps_; }

  // Test-only: called at the very end of the constructor, when everything is loaded, pinned,
  // attached and the ring buffer is open; an exception it throws fails the constructor there.
  // The privileged datapath test uses it to prove a late failure leaves nothing behind.
  static void set_constructed_hook_for_test(std::function<void(SpliceDatapath&)> hook);

 private:
  struct SkeletonDeleter {
    void operator()(wsteer_splice* skel) const;
  };
  struct RingBufferDeleter {
    void operator()(ring_buffer* rb) const;
  };

  std::filesystem::path pin_dir_;
  std::uint32_t maglev_size_ = 0;
  std::uint32_t services_ = 1;
  std::uint64_t flow_limit_ = 0;
  bool rebalance_ = false;
  bool tentative_ = false;  // adopt mode until confirm_adoption()
  // Kernel objects, in the order the constructor makes them (destroyed in reverse).
  UniqueFd lock_;                 // flock on pin_dir_: one agent per folder
  EmptyFolderRemover folder_;     // removes pin_dir_ once the pins are gone
  std::unique_ptr<wsteer_splice, SkeletonDeleter> skel_;
  PinnedObjectMaps pins_;         // unpins the maps
  VerdictAttachment verdict_;     // detaches the verdict from wsteer_spliced
  std::optional<SpliceMaps> maps_;
  std::unique_ptr<ring_buffer, RingBufferDeleter> events_;
  std::function<void(const wsteer_event&)> event_handler_;  // set during consume_events()
  std::function<void(const FlowSockets&)> on_remove_;
};

}  // namespace wsteer::datapath
