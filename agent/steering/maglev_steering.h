// The production Steering: operator-chosen key -> Maglev table -> candidates in the key's own
// preference order, passing over draining, unhealthy, full and (with bounded load) overloaded
// backends; sticky cookies send returning clients back to their backend.
#pragma once

#include "steering/backend_set.h"
#include "steering/key_policy.h"
#include "steering/steering.h"
#include "steering/steering_config.h"
#include "steering/sticky_cookie.h"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

namespace wsteer::steering {

struct MaglevSteeringOptions {
  CircuitBreakerPolicy breaker;
  BackendSet::Clock monotonic_clock = std::chrono::steady_clock::now;  // tests substitute their own
  std::shared_ptr<BackendIdPool> ids;  // shared by the Services of one agent; null: a pool of its own
};

class MaglevSteering final : public Steering {
 public:
  // Throws std::invalid_argument on a bad config (see validate_steering_config).
  explicit MaglevSteering(const SteeringConfig& config, MaglevSteeringOptions options = {});

  Choice choose(const Request& request, const boost::asio::ip::address& client, std::size_t max_tries) const override;
  std::optional<std::string> sticky_cookie(const Backend& backend) const override;
  void update_endpoints(const EndpointList& endpoints) override;
  void on_connect_failed(std::uint32_t backend_id) override;
  void on_connected(std::uint32_t backend_id) override;
  void on_closed(std::uint32_t backend_id) override;
  bool set_draining(const std::string& name, bool draining) override;
  void set_healthy(std::uint32_t backend_id, bool healthy) override;
  std::vector<BackendStatus> snapshot() const override;
  std::shared_ptr<const std::vector<std::uint32_t>> maglev_table() const override;
  std::uint64_t endpoints_version() const override;

 private:
  // A listed backend as of one endpoints version.
  struct Member {
    Backend backend;
    std::uint32_t weight = 1;
    std::uint32_t max_connections = 0;
    bool listed_draining = false;  // the endpoint list says draining (or weight 0): not in the table
    std::uint32_t slots = 0;       // Maglev slots it owns
  };

  // Everything choose() reads that changes only with the endpoint list; swapped whole.
  struct Generation {
    std::vector<Member> members;                               // sorted by name
    std::array<std::int32_t, kMaxBackends> member_index{};     // by id; -1: not listed
    std::shared_ptr<const std::vector<std::uint32_t>> table;   // ids per slot; empty: nothing to choose
    std::uint32_t table_members = 0;                           // distinct ids in the table
    const Member* member(std::uint32_t id) const {
      return id < kMaxBackends && member_index[id] >= 0 ? &members[static_cast<std::size_t>(member_index[id])] : nullptr;
    }
  };

  enum class Verdict { usable, draining, unhealthy, full };
  Verdict verdict(const Member& member, std::chrono::steady_clock::time_point now) const;
  // Bounded load: a backend of weight w may hold at most ceil(w * this) connections, where this
  // is factor * (active + 1) / weight summed over the usable backends. Nothing when it is off.
  std::optional<double> load_cap_per_weight(const Generation& generation, std::chrono::steady_clock::time_point now) const;
  // The backend a valid sticky cookie in the request names, when it may take the connection.
  const Member* sticky_target(const Generation& generation, const Request& request,
                              std::chrono::steady_clock::time_point now) const;

  SteeringConfig config_;
  KeyPolicy key_policy_;
  std::optional<StickyCookieCodec> cookies_;
  BackendSet backends_;
  // The current generation. Readers copy the pointer under generation_mutex_, held only for that
  // copy and for the swap, never during a rebuild. (libstdc++ 12's std::atomic<shared_ptr> would
  // do the same job, but its internal lock is invisible to ThreadSanitizer.)
  std::shared_ptr<const Generation> current() const;
  mutable std::mutex generation_mutex_;
  std::shared_ptr<const Generation> generation_;
  std::atomic<std::uint64_t> version_{0};
  std::mutex update_mutex_;  // one update_endpoints() at a time; never taken by choose()
};

}  // namespace wsteer::steering
