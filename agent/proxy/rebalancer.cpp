#include "proxy/rebalancer.h"

#include "metrics/agent_metrics.h"
#include "metrics/metric_names.h"

#include <boost/json/array.hpp>
#include <spdlog/spdlog.h>
#include <time.h>

namespace wsteer::proxy {
namespace json = boost::json;
namespace {

std::uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace

Rebalancer::Rebalancer(RebalanceSettings settings, std::vector<Service> services, SplicedFlows& flows)
    : settings_(settings), services_(std::move(services)), flows_(flows), limiter_(settings.rate) {
  flows_.set_close_timeout(settings_.close_timeout);
}

std::vector<RebalanceServiceView> Rebalancer::views(std::uint64_t now_ns) const {
  (void)now_ns;
  const auto candidates = flows_.rebalance_candidates();
  std::vector<RebalanceServiceView> out;
  for (const auto& service : services_) {
    RebalanceServiceView view{service.name, {}, {}};
    for (const auto& b : service.steering->snapshot())
      view.backends.push_back({b.backend.id, b.backend.name,
                               b.state == steering::BackendState::active && b.listed, b.active_connections});
    for (const auto& c : candidates)
      if (c.steering == service.steering)
        view.flows.push_back({c.flow_id, c.backend_id, c.created_ns, c.closing, c.closable});
    out.push_back(std::move(view));
  }
  return out;
}

void Rebalancer::tick() {
  if (!enabled()) return;
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const std::size_t budget = limiter_.budget(now);
  if (budget == 0) return;
  const auto now_ns = monotonic_ns();
  const auto plan = plan_rebalance(views(now_ns), settings_, budget, now_ns);
  std::size_t started = 0;
  for (const auto& pick : plan.picks)
    if (flows_.request_close(pick.flow_id)) ++started;
  if (started) {
    limiter_.record(now, started);
    spdlog::debug("rebalance: closing {} flow(s)", started);
  }
}

json::object Rebalancer::dry_run() {
  std::lock_guard lock(mutex_);
  const auto now_ns = monotonic_ns();
  const std::size_t budget = limiter_.budget(std::chrono::steady_clock::now());
  json::object out{{"enabled", enabled()},
                   {"rebalance_above", settings_.above},
                   {"rebalance_rate", settings_.rate},
                   {"rebalance_min_age_seconds", std::chrono::duration<double>(settings_.min_age).count()},
                   {"budget_now", budget},
                   {"closing", flows_.closing()}};
  // Off: still show the standing of each backend against the threshold it would use, picking nothing.
  RebalanceSettings preview = settings_;
  if (!enabled()) preview.above = 0;
  const auto plan = plan_rebalance(views(now_ns), enabled() ? settings_ : preview, enabled() ? budget : 0, now_ns);
  json::array backends;
  for (const auto& b : plan.backends)
    backends.push_back(json::object{{"service", b.service},
                                    {"backend", b.backend},
                                    {"connections", b.connections},
                                    {"closing", b.closing},
                                    {"mean", b.mean},
                                    {"threshold", b.threshold},
                                    {"excess", b.excess},
                                    {"would_close", b.picked},
                                    {"reason", b.reason}});
  json::array flows;
  for (const auto& p : plan.picks)
    flows.push_back(json::object{{"service", p.service},
                                 {"backend", p.backend},
                                 {"flow", p.flow_id},
                                 {"age_seconds", static_cast<double>(p.age_ns) / 1e9},
                                 {"reason", "oldest flow of a backend above " + std::to_string(settings_.above).substr(0, 4) +
                                                " x its service's mean"}});
  out["backends"] = std::move(backends);
  out["would_close"] = std::move(flows);
  if (!enabled()) out["note"] = "rebalance is off (--rebalance-above 0): nothing is ever closed";
  return out;
}

std::vector<prometheus::MetricFamily> Rebalancer::families() const {
  namespace names = metrics::names;
  auto closed = metrics::counter_family(names::rebalance_closed_flows_total,
                                        "Spliced flows the agent closed with a WebSocket close frame 1012 (Service "
                                        "Restart) because their backend was above --rebalance-above x the mean.");
  auto timeouts = metrics::counter_family(names::rebalance_close_timeouts_total,
                                          "Rebalance closes whose client did not finish the close in time: the agent "
                                          "closed both sides.");
  auto aborts = metrics::counter_family(names::rebalance_close_aborts_total,
                                        "Rebalance closes given up before the close frame was written (peer gone, no "
                                        "frame boundary in time): both sides closed.");
  const auto counts = flows_.rebalance_counts();
  for (const auto& service : services_) {
    const auto it = counts.find(service.steering);
    const RebalanceCounts c = it == counts.end() ? RebalanceCounts{} : it->second;
    metrics::add_sample(closed, static_cast<double>(c.closed), {{"service", service.name}});
    metrics::add_sample(timeouts, static_cast<double>(c.timed_out), {{"service", service.name}});
    metrics::add_sample(aborts, static_cast<double>(c.aborted), {{"service", service.name}});
  }
  auto closing = metrics::gauge_family(names::rebalance_closing_flows,
                                       "Spliced flows being closed by rebalance right now.");
  metrics::add_sample(closing, static_cast<double>(flows_.closing()));
  return {closed, timeouts, aborts, closing};
}

}  // namespace wsteer::proxy
