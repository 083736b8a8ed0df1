// The backend ids in use on this node, shared by the backend sets of every Service one agent
// balances. Ids index node-wide BPF maps (wsteer_backends, wsteer_backend_counters, the
// backend_id of each wsteer_flows entry), so two Services must never hold the same id at once.
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <mutex>

namespace wsteer::steering {

inline constexpr std::uint32_t kMaxBackends = 1024;  // WSTEER_MAX_BACKENDS; checked in backend_set.cpp

class BackendIdPool {
 public:
  // True when `id` was free and is now this caller's.
  bool try_claim(std::uint32_t id) {
    std::lock_guard lock(mutex_);
    if (id >= kMaxBackends || claimed_.test(id)) return false;
    claimed_.set(id);
    return true;
  }
  void release(std::uint32_t id) {
    std::lock_guard lock(mutex_);
    if (id < kMaxBackends) claimed_.reset(id);
  }

 private:
  std::mutex mutex_;
  std::bitset<kMaxBackends> claimed_;
};

}  // namespace wsteer::steering
