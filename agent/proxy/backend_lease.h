// A backend connection as the steering layer counts it (bounded load, max-connections): counted
// from construction until destroyed, or until released to a flow owner that accounts for it.
#pragma once

#include "steering/steering.h"

#include <cstdint>

namespace wsteer::proxy {

class BackendLease {
 public:
  BackendLease(steering::Steering& s, std::uint32_t id) : steering_(&s), id_(id) { s.on_connected(id); }
  ~BackendLease() {
    if (steering_) steering_->on_closed(id_);
  }
  BackendLease(const BackendLease&) = delete;
  BackendLease& operator=(const BackendLease&) = delete;
  void release() { steering_ = nullptr; }

 private:
  steering::Steering* steering_;
  std::uint32_t id_;
};

}  // namespace wsteer::proxy
