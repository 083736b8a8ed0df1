// Follows one Kubernetes Service's EndpointSlices: list, then watch from the list's
// resourceVersion with bookmarks; a watch that times out is renewed from the last
// resourceVersion seen, a 410 Gone relists (the cache then applies only the difference), any
// other error backs off exponentially with jitter and retries. The last good endpoint list stays
// in force throughout an outage. Runs on its own thread.
#pragma once

#include "endpoints/endpoint_slices.h"
#include "k8s/api_client.h"
#include "steering/endpoint.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace wsteer::endpoints {

struct EndpointSliceSourceOptions {
  std::string ns, service;  // the Service's namespace and name
  std::string port;         // slice port name or number; empty: the only one
  std::chrono::seconds watch_timeout{290};  // timeoutSeconds asked of the server (jittered ±10 %)
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds backoff_initial{250}, backoff_max{30'000};
  unsigned page_size = 500;  // list limit; `continue` pages are followed
};

// What the source reports, for metrics (all called on the source's thread).
struct EndpointSliceObserver {
  virtual ~EndpointSliceObserver() = default;
  virtual void watch_event(std::string_view type) {}  // ADDED|MODIFIED|DELETED|BOOKMARK|ERROR
  virtual void relisted() {}                          // every list after the first
  virtual void error(k8s::ApiErrorReason reason) {}
  virtual void synced() {}  // a list or watch event brought the cache up to date (last-sync time)
};

class EndpointSliceSource {
 public:
  using Callback = std::function<void(const steering::EndpointList&)>;

  // on_change gets the first list once the first list succeeded (even when it is empty), then
  // every list that differs from the last one delivered; on the source's thread; must not throw.
  EndpointSliceSource(std::shared_ptr<k8s::ApiClient> client, EndpointSliceSourceOptions options,
                      Callback on_change, EndpointSliceObserver* observer = nullptr);
  ~EndpointSliceSource();  // stop()
  EndpointSliceSource(const EndpointSliceSource&) = delete;
  EndpointSliceSource& operator=(const EndpointSliceSource&) = delete;

  void start();  // starts the thread; returns at once
  void stop();   // idempotent; joins; not from on_change

  bool synced() const { return synced_.load(); }  // the first list is in

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> synced_{false};
};

}  // namespace wsteer::endpoints
