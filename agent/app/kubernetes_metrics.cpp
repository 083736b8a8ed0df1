#include "app/kubernetes_metrics.h"

#include "metrics/metric_names.h"

#include <array>
#include <chrono>
#include <map>
#include <string_view>

namespace wsteer::app {

namespace {

constexpr std::array kEventTypes = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
constexpr std::array kReasons = {
    k8s::ApiErrorReason::connect,   k8s::ApiErrorReason::tls,  k8s::ApiErrorReason::timeout,
    k8s::ApiErrorReason::unauthorized, k8s::ApiErrorReason::forbidden, k8s::ApiErrorReason::not_found,
    k8s::ApiErrorReason::gone,      k8s::ApiErrorReason::conflict, k8s::ApiErrorReason::server, k8s::ApiErrorReason::decode};

class ServiceObserver final : public endpoints::EndpointSliceObserver {
 public:
  ServiceObserver(const std::string& service, prometheus::Family<prometheus::Counter>& events,
                  prometheus::Family<prometheus::Counter>& relists, prometheus::Family<prometheus::Counter>& errors,
                  prometheus::Family<prometheus::Gauge>& last_sync)
      : relists_(relists.Add({{"service", service}})), last_sync_(last_sync.Add({{"service", service}})) {
    for (const char* type : kEventTypes) events_[type] = &events.Add({{"service", service}, {"type", type}});
    for (auto reason : kReasons)
      errors_[static_cast<std::size_t>(reason)] = &errors.Add({{"service", service}, {"reason", k8s::to_string(reason)}});
  }

  void watch_event(std::string_view type) override {
    // An unknown type is counted as ERROR: the label set stays bounded whatever the server sends.
    auto it = events_.find(type);
    (it != events_.end() ? it->second : events_.at("ERROR"))->Increment();
  }
  void relisted() override { relists_.Increment(); }
  void error(k8s::ApiErrorReason reason) override { errors_.at(static_cast<std::size_t>(reason))->Increment(); }
  void synced() override {
    last_sync_.Set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  }

 private:
  std::map<std::string_view, prometheus::Counter*, std::less<>> events_;
  prometheus::Counter& relists_;
  std::array<prometheus::Counter*, kReasons.size()> errors_{};
  prometheus::Gauge& last_sync_;
};

}  // namespace

KubernetesMetrics::KubernetesMetrics(prometheus::Registry& registry)
    : events_(prometheus::BuildCounter()
                  .Name(std::string(metrics::names::k8s_watch_events_total))
                  .Help("EndpointSlice watch events received from the API server, by type.")
                  .Register(registry)),
      relists_(prometheus::BuildCounter()
                   .Name(std::string(metrics::names::k8s_relists_total))
                   .Help("Full EndpointSlice lists after the first one (410 Gone: the watch fell too far behind).")
                   .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name(std::string(metrics::names::k8s_errors_total))
                  .Help("Failed API server requests and watches, by reason; the last good backend set stays in force.")
                  .Register(registry)),
      last_sync_(prometheus::BuildGauge()
                     .Name(std::string(metrics::names::k8s_last_sync_timestamp_seconds))
                     .Help("Unix time of the last list or watch event that brought the backend set up to date.")
                     .Register(registry)) {}

std::unique_ptr<endpoints::EndpointSliceObserver> KubernetesMetrics::observer_for(const std::string& service) {
  return std::make_unique<ServiceObserver>(service, events_, relists_, errors_, last_sync_);
}

}  // namespace wsteer::app
