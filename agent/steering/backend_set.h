// Every backend this agent knows, by small stable id: the listed ones and those that left the
// list but still carry connections (draining until their last one ends). Holds the counters the
// proxy reports and the health verdicts (passive circuit breaker, active probe, operator drain).
// Counters and verdicts are atomics read lock-free by choose(); ids change under a mutex.
#pragma once

#include "steering/backend_id_pool.h"
#include "steering/steering.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace wsteer::steering {

// Passive health: after `failure_threshold` consecutive connect failures a backend is skipped for
// `cool_down`; then it gets traffic again, and one more failure trips it at once.
struct CircuitBreakerPolicy {
  std::uint32_t failure_threshold = 3;
  std::chrono::steady_clock::duration cool_down = std::chrono::seconds(10);
};

struct BackendCounters {
  std::uint64_t active_connections = 0;
  std::uint64_t total_connections = 0;
  std::uint64_t connect_failures = 0;
};

class BackendSet {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `ids`: the node-wide pool this set claims its ids from (one per agent, shared by every
  // Service); a set of its own when none is given.
  explicit BackendSet(CircuitBreakerPolicy breaker = {}, Clock clock = std::chrono::steady_clock::now,
                      std::shared_ptr<BackendIdPool> ids = nullptr);

  // Makes `listed` the listed backends (unique names; ids ignored). Known names keep their ids;
  // new names get the next free id after the last one handed out (see allocate_locked); backends no longer listed are freed now when idle, else
  // they drain and are freed by their last on_closed(). Returns the id of each listed backend, in
  // the same order; one beyond kMaxBackends gets none (and a log line).
  std::vector<std::optional<std::uint32_t>> relist(std::span<const Backend> listed);

  // The proxy's accounting. Unknown ids are ignored.
  void on_connected(std::uint32_t id);
  void on_closed(std::uint32_t id);
  void on_connect_failed(std::uint32_t id);

  // Verdict of the active probe; healthy also closes the circuit breaker.
  void set_probe_healthy(std::uint32_t id, bool healthy);
  // Operator drain by name; false when no backend has that name.
  bool set_draining(const std::string& name, bool draining);

  // Hot-path reads, lock-free. `now` comes from now(), read once per decision.
  std::chrono::steady_clock::time_point now() const { return clock_(); }
  bool unhealthy(std::uint32_t id, std::chrono::steady_clock::time_point now) const;
  bool operator_draining(std::uint32_t id) const;
  std::uint64_t active(std::uint32_t id) const;
  BackendCounters counters(std::uint32_t id) const;

  // Backends that left the list and still drain their connections.
  std::vector<Backend> unlisted() const;

 private:
  struct Slot {
    std::atomic<std::uint64_t> active{0};
    std::atomic<std::uint64_t> total{0};
    std::atomic<std::uint64_t> connect_failures{0};
    std::atomic<std::uint32_t> consecutive_failures{0};
    std::atomic<std::int64_t> breaker_open_until{0};  // steady clock, ns since its epoch
    std::atomic<bool> probe_down{false};
    std::atomic<bool> operator_draining{false};
    std::atomic<bool> listed{false};
    // Guarded by mutex_.
    bool in_use = false;
    Backend backend;
  };

  // With mutex_ held: the next slot, round-robin from next_id_, neither in use nor still counting
  // a straggler's connection. Round-robin rather than lowest-free: in a rolling update the
  // newcomer would otherwise take the id of the pod it replaces while a connect chosen before
  // the update is still in flight, and that connection would be counted against the newcomer.
  std::optional<std::uint32_t> allocate_locked(const Backend& backend);
  void free_locked(std::uint32_t id);

  CircuitBreakerPolicy breaker_;
  Clock clock_;
  std::shared_ptr<BackendIdPool> pool_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::uint32_t> ids_;  // guarded by mutex_
  std::uint32_t next_id_ = 0;                           // guarded by mutex_
  std::array<Slot, kMaxBackends> slots_;
};

}  // namespace wsteer::steering
