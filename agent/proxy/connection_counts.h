// What a client connection holds counted while it lives, as small move-only owners. Every path
// that ends a connection (a refused handshake, a userspace relay that ends, a spliced flow that
// closes) undoes exactly what was counted, once, by destroying its owner: nobody calls back.
#pragma once

#include "steering/steering.h"

#include <prometheus/gauge.h>

#include <cstdint>
#include <utility>

namespace wsteer::proxy {

// wsteer_connections_active: +1 from accept until the connection ends, spliced or not.
class ActiveConnection {
 public:
  ActiveConnection() = default;
  explicit ActiveConnection(prometheus::Gauge& gauge) : gauge_(&gauge) { gauge.Increment(); }
  ~ActiveConnection() { reset(); }
  ActiveConnection(ActiveConnection&& other) noexcept : gauge_(std::exchange(other.gauge_, nullptr)) {}
  ActiveConnection& operator=(ActiveConnection&& other) noexcept {
    if (this != &other) {
      reset();
      gauge_ = std::exchange(other.gauge_, nullptr);
    }
    return *this;
  }

 private:
  void reset() {
    if (gauge_) std::exchange(gauge_, nullptr)->Decrement();
  }
  prometheus::Gauge* gauge_ = nullptr;
};

// A connection counted by its Service's steering (on_connected) until destroyed (on_closed):
// bounded load and max-connections see it for exactly as long as it lives.
class BackendLease {
 public:
  BackendLease() = default;
  BackendLease(steering::Steering& steering, std::uint32_t backend_id) : steering_(&steering), id_(backend_id) {
    steering.on_connected(backend_id);
  }
  ~BackendLease() { reset(); }
  BackendLease(BackendLease&& other) noexcept : steering_(std::exchange(other.steering_, nullptr)), id_(other.id_) {}
  BackendLease& operator=(BackendLease&& other) noexcept {
    if (this != &other) {
      reset();
      steering_ = std::exchange(other.steering_, nullptr);
      id_ = other.id_;
    }
    return *this;
  }

  std::uint32_t backend_id() const { return id_; }
  steering::Steering* steering() const { return steering_; }  // its Service (null once moved from)

 private:
  void reset() {
    if (steering_) std::exchange(steering_, nullptr)->on_closed(id_);
  }
  steering::Steering* steering_ = nullptr;
  std::uint32_t id_ = 0;
};

}  // namespace wsteer::proxy
