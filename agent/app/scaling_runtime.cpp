#include "app/scaling_runtime.h"

#include "metrics/agent_metrics.h"
#include "metrics/metric_names.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

namespace wsteer::app {
namespace asio = boost::asio;
namespace names = metrics::names;
using scaler::Reason;
using scaler::RoundOutcome;

namespace {
constexpr Reason kReasons[] = {Reason::scale_up,      Reason::scale_down,     Reason::within_tolerance,
                               Reason::stabilizing,   Reason::missing_agent,  Reason::stale_agent,
                               Reason::no_agents,     Reason::at_min,         Reason::at_max,
                               Reason::step_limited,  Reason::scaled_to_zero};
constexpr RoundOutcome kOutcomes[] = {RoundOutcome::created,       RoundOutcome::acquired, RoundOutcome::renewed,
                                      RoundOutcome::held_by_other, RoundOutcome::conflict, RoundOutcome::failed};
constexpr const char* kPatchResults[] = {"ok", "conflict", "error"};
}  // namespace

bool ScalingRuntime::wanted(const AgentConfig& config) {
  return std::any_of(config.services.begin(), config.services.end(), [](const auto& s) { return s.scaling.enabled; });
}

ScalingRuntime::ScalingRuntime(const AgentConfig& config, std::shared_ptr<k8s::ApiClient> client)
    : peers_(std::make_shared<scaler::PeerDirectory>()) {
  const auto& settings = config.scaler;
  for (const auto& s : config.services) {
    if (!s.scaling.enabled) continue;
    scaler::ServiceScalerOptions o;
    o.service = s.name;
    o.target_ns = s.kubernetes->ns;
    o.scale = s.scaling;
    o.election = {settings.pod_namespace, s.scaling.target.lease_name(s.kubernetes->ns), settings.pod_name,
                  settings.lease_duration, settings.renew_deadline, settings.retry_period};
    o.sync_period = settings.sync_period;
    scalers_.push_back(std::make_unique<scaler::ServiceScaler>(std::move(o), client, peers_));
  }
  // Every agent, as the metrics Service's EndpointSlices list it: ready ones and terminating ones
  // that still serve (they still hold connections and must report them).
  const auto& peers = *settings.peers_service;
  endpoints::EndpointSliceSourceOptions options;
  options.ns = peers.ns;
  options.service = peers.name;
  options.port = peers.port;
  options.watch_timeout = config.kube_watch_timeout;
  discovery_ = std::make_unique<endpoints::EndpointSliceSource>(
      client, options, [directory = peers_](const steering::EndpointList& list) {
        std::vector<scaler::PeerDirectory::Peer> found;
        for (const auto& e : list) found.push_back({e.name, {e.address, e.port}});
        spdlog::info("scaler: {} agent(s) discovered", found.size());
        directory->set(std::move(found));
      });
}

ScalingRuntime::~ScalingRuntime() { stop(); }

void ScalingRuntime::start() {
  discovery_->start();
  running_ = scalers_.size();
  for (auto& s : scalers_)
    asio::co_spawn(io_, s->run(), [this, name = s->options().service](std::exception_ptr error) {
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          spdlog::error("scaler {}: stopped: {}", name, e.what());
        }
      }
      if (--running_ == 0) io_.stop();
    });
  thread_ = std::thread([this] { io_.run(); });
  started_ = true;
}

void ScalingRuntime::stop() {
  if (stopped_) return;
  stopped_ = true;
  discovery_->stop();
  if (!started_) return;
  asio::post(io_, [this] {
    for (auto& s : scalers_) s->stop();
  });
  if (thread_.joinable()) thread_.join();
}

std::pair<int, std::string> ScalingRuntime::scaling_answer(const std::string& service, bool local_only) const {
  for (const auto& s : scalers_)
    if (s->options().service == service) return s->keda_answer(local_only);
  boost::json::object body{{"error", "no scaler for service '" + service + "' on this agent"}};
  return {404, boost::json::serialize(body)};
}

std::vector<prometheus::MetricFamily> ScalingRuntime::metric_families() const {
  auto leader = metrics::gauge_family(names::scaler_leader, "1 while this agent is the elected scaler of the Service's workload.");
  auto connections = metrics::gauge_family(
      names::scaler_connections, "Active connections of the Service summed over every agent in the leader's last decision.");
  auto agents = metrics::gauge_family(names::scaler_agents, "Agents discovery listed for the leader's last decision.");
  auto current = metrics::gauge_family(names::scaler_current_replicas,
                                       "spec.replicas of the target workload when the leader last decided.");
  auto desired = metrics::gauge_family(names::scaler_desired_replicas, "Replicas the leader's last decision asked for.");
  auto decisions = metrics::counter_family(names::scaler_decisions_total, "Scaling decisions made while leading, by reason.");
  auto last = metrics::gauge_family(names::scaler_last_decision, "1 for the reason of the leader's last decision.");
  auto holding = metrics::gauge_family(names::scaler_holding_agents,
                                       "1 for each agent whose missing or stale report holds every change.");
  auto patches = metrics::counter_family(names::scaler_scale_patches_total,
                                         "Scale subresource writes by result (conflict: changed since read).");
  auto rounds = metrics::counter_family(names::scaler_lease_rounds_total, "Leader election rounds by outcome.");
  for (const auto& s : scalers_) {
    const auto st = s->status();
    const auto& svc = s->options().service;
    const bool patch_mode = s->options().scale.mode == scaler::ScaleMode::patch;
    metrics::add_sample(leader, st.leader ? 1 : 0, {{"service", svc}});
    metrics::add_sample(connections, static_cast<double>(st.sum.total), {{"service", svc}});
    metrics::add_sample(agents, static_cast<double>(st.agents), {{"service", svc}});
    metrics::add_sample(current, patch_mode ? st.decision.current : 0, {{"service", svc}});
    metrics::add_sample(desired, patch_mode ? st.decision.desired : 0, {{"service", svc}});
    for (const auto reason : kReasons) {
      const auto it = st.decisions.find(reason);
      metrics::add_sample(decisions, it == st.decisions.end() ? 0 : static_cast<double>(it->second),
                          {{"service", svc}, {"reason", to_string(reason)}});
      const bool is_last = st.decided && patch_mode && st.decision.reason == reason;
      metrics::add_sample(last, is_last ? 1 : 0, {{"service", svc}, {"reason", to_string(reason)}});
    }
    if (st.decided && !st.sum.complete)
      for (const auto& a : st.sum.agents)
        metrics::add_sample(holding, 1, {{"service", svc}, {"agent", a}, {"reason", to_string(st.sum.problem)}});
    for (const auto* result : kPatchResults) {
      const auto it = st.patches.find(result);
      metrics::add_sample(patches, it == st.patches.end() ? 0 : static_cast<double>(it->second),
                          {{"service", svc}, {"result", result}});
    }
    for (const auto outcome : kOutcomes) {
      const auto it = st.rounds.find(outcome);
      metrics::add_sample(rounds, it == st.rounds.end() ? 0 : static_cast<double>(it->second),
                          {{"service", svc}, {"outcome", to_string(outcome)}});
    }
  }
  return {leader, connections, agents, current, desired, decisions, last, holding, patches, rounds};
}

}  // namespace wsteer::app
