#include "steering/backend_set.h"

#include "wsteer_abi.h"

#include <spdlog/spdlog.h>

#include <unordered_set>

namespace wsteer::steering {

static_assert(kMaxBackends == WSTEER_MAX_BACKENDS, "backend ids index the BPF per-backend maps");

namespace {

std::int64_t to_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

BackendSet::BackendSet(CircuitBreakerPolicy breaker, Clock clock, std::shared_ptr<BackendIdPool> ids)
    : breaker_(breaker), clock_(std::move(clock)), pool_(ids ? std::move(ids) : std::make_shared<BackendIdPool>()) {}

std::vector<std::optional<std::uint32_t>> BackendSet::relist(std::span<const Backend> listed) {
  std::lock_guard lock(mutex_);
  std::vector<std::optional<std::uint32_t>> result;
  result.reserve(listed.size());
  std::unordered_set<std::uint32_t> still_listed;
  for (const auto& wanted : listed) {
    std::optional<std::uint32_t> id;
    if (auto it = ids_.find(wanted.name); it != ids_.end()) {
      id = it->second;
      slots_[*id].backend = wanted;  // the address may have changed under the same name
      slots_[*id].backend.id = *id;
    } else if (!(id = allocate_locked(wanted))) {
      spdlog::error("steering: more than {} backends; {} left out", kMaxBackends, wanted.name);
      result.push_back(std::nullopt);
      continue;
    }
    slots_[*id].listed.store(true, std::memory_order_relaxed);
    still_listed.insert(*id);
    result.push_back(id);
  }
  for (auto it = ids_.begin(); it != ids_.end();) {
    const auto id = it->second;
    ++it;  // free_locked() erases the current entry
    if (still_listed.contains(id)) continue;
    auto& slot = slots_[id];
    // Sequentially consistent with on_closed(): one of the two sees the other's write and frees.
    slot.listed.store(false);
    if (slot.active.load() == 0) free_locked(id);
  }
  return result;
}

std::optional<std::uint32_t> BackendSet::allocate_locked(const Backend& backend) {
  for (std::uint32_t n = 0; n < kMaxBackends; ++n) {
    const auto id = (next_id_ + n) % kMaxBackends;
    auto& slot = slots_[id];
    // A free slot still counting connections belongs to a backend whose connect raced its
    // removal; reusing it would hand that straggler's on_closed() to a newcomer.
    if (slot.in_use || slot.active.load(std::memory_order_relaxed) != 0) continue;
    if (!pool_->try_claim(id)) continue;  // another Service of this agent holds it
    slot.in_use = true;
    slot.backend = backend;
    slot.backend.id = id;
    slot.total.store(0, std::memory_order_relaxed);
    slot.connect_failures.store(0, std::memory_order_relaxed);
    slot.consecutive_failures.store(0, std::memory_order_relaxed);
    slot.breaker_open_until.store(0, std::memory_order_relaxed);
    slot.probe_down.store(false, std::memory_order_relaxed);
    slot.operator_draining.store(false, std::memory_order_relaxed);
    ids_.emplace(backend.name, id);
    next_id_ = (id + 1) % kMaxBackends;
    return id;
  }
  return std::nullopt;
}

void BackendSet::free_locked(std::uint32_t id) {
  auto& slot = slots_[id];
  if (!slot.in_use) return;
  ids_.erase(slot.backend.name);
  slot.in_use = false;
  pool_->release(id);
  slot.listed.store(false, std::memory_order_relaxed);
}

void BackendSet::on_connected(std::uint32_t id) {
  if (id >= kMaxBackends) return;
  auto& slot = slots_[id];
  slot.active.fetch_add(1, std::memory_order_relaxed);
  slot.total.fetch_add(1, std::memory_order_relaxed);
  slot.consecutive_failures.store(0, std::memory_order_relaxed);
  slot.breaker_open_until.store(0, std::memory_order_relaxed);
}

void BackendSet::on_closed(std::uint32_t id) {
  if (id >= kMaxBackends) return;
  auto& slot = slots_[id];
  auto active = slot.active.load(std::memory_order_relaxed);
  do {
    if (active == 0) return;  // an unmatched close must not wrap the count around
  } while (!slot.active.compare_exchange_weak(active, active - 1));
  if (active == 1 && !slot.listed.load()) {
    // The last connection of a backend that left the list: its id may go to a newcomer now.
    std::lock_guard lock(mutex_);
    if (!slot.listed.load() && slot.active.load() == 0) free_locked(id);
  }
}

void BackendSet::on_connect_failed(std::uint32_t id) {
  if (id >= kMaxBackends) return;
  auto& slot = slots_[id];
  slot.connect_failures.fetch_add(1, std::memory_order_relaxed);
  if (slot.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1 >= breaker_.failure_threshold)
    slot.breaker_open_until.store(to_ns(clock_() + breaker_.cool_down), std::memory_order_relaxed);
}

void BackendSet::set_probe_healthy(std::uint32_t id, bool healthy) {
  if (id >= kMaxBackends) return;
  auto& slot = slots_[id];
  slot.probe_down.store(!healthy, std::memory_order_relaxed);
  if (healthy) {
    slot.consecutive_failures.store(0, std::memory_order_relaxed);
    slot.breaker_open_until.store(0, std::memory_order_relaxed);
  }
}

bool BackendSet::set_draining(const std::string& name, bool draining) {
  std::lock_guard lock(mutex_);
  const auto it = ids_.find(name);
  if (it == ids_.end()) return false;
  slots_[it->second].operator_draining.store(draining, std::memory_order_relaxed);
  return true;
}

bool BackendSet::unhealthy(std::uint32_t id, std::chrono::steady_clock::time_point now) const {
  const auto& slot = slots_[id];
  return slot.probe_down.load(std::memory_order_relaxed) ||
         slot.breaker_open_until.load(std::memory_order_relaxed) > to_ns(now);
}

bool BackendSet::operator_draining(std::uint32_t id) const {
  return slots_[id].operator_draining.load(std::memory_order_relaxed);
}

std::uint64_t BackendSet::active(std::uint32_t id) const { return slots_[id].active.load(std::memory_order_relaxed); }

BackendCounters BackendSet::counters(std::uint32_t id) const {
  const auto& slot = slots_[id];
  return {slot.active.load(std::memory_order_relaxed), slot.total.load(std::memory_order_relaxed),
          slot.connect_failures.load(std::memory_order_relaxed)};
}

std::vector<Backend> BackendSet::unlisted() const {
  std::lock_guard lock(mutex_);
  std::vector<Backend> result;
  for (const auto& [name, id] : ids_)
    if (!slots_[id].listed.load(std::memory_order_relaxed)) result.push_back(slots_[id].backend);
  return result;
}

}  // namespace wsteer::steering
