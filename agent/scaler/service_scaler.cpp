#include "scaler/service_scaler.h"

#include "admin/connections_report.h"
#include "scaler/api_lease_store.h"
#include "scaler/http_get.h"
#include "scaler/scale_subresource.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <spdlog/spdlog.h>

#include <random>

namespace wsteer::scaler {
namespace asio = boost::asio;
namespace json = boost::json;

void PeerDirectory::set(std::vector<Peer> peers) {
  std::lock_guard lock(mutex_);
  peers_ = std::move(peers);
  synced_ = true;
}

std::vector<PeerDirectory::Peer> PeerDirectory::peers() const {
  std::lock_guard lock(mutex_);
  return peers_;
}

bool PeerDirectory::synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

namespace {

json::array names_of(const std::vector<std::string>& names) {
  json::array out;
  for (const auto& n : names) out.push_back(json::value(n));
  return out;
}

// client-go's wait.JitterUntil with JitterFactor 1.2: the period plus up to 1.2 times it.
Clock::duration jittered(std::chrono::seconds period) {
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> extra(0.0, 1.2);
  return std::chrono::duration_cast<Clock::duration>(period * (1.0 + extra(rng)));
}

}  // namespace

ServiceScaler::ServiceScaler(ServiceScalerOptions options, std::shared_ptr<k8s::ApiClient> client,
                             std::shared_ptr<const PeerDirectory> peers)
    : options_(std::move(options)),
      client_(std::move(client)),
      peers_(std::move(peers)),
      elector_(options_.election),
      policy_(options_.scale.policy) {}

void ServiceScaler::stop() {
  stopping_ = true;
  if (timer_) timer_->cancel();
}

asio::awaitable<void> ServiceScaler::run() {
  timer_ = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  ApiLeaseStore store(client_, options_.election.ns, options_.election.name, options_.request_timeout);
  const auto lease = options_.election.ns + "/" + options_.election.name;
  auto next_sync = Clock::now();
  std::string last_error;
  while (!stopping_) {
    const auto round = co_await elector_.run_round(store, ElectionTime::now());
    const auto now = Clock::now();
    if (round.outcome == RoundOutcome::failed && round.error != last_error)
      spdlog::warn("scaler {}: election round on Lease {} failed: {}", options_.service, lease, round.error);
    else if (round.outcome != RoundOutcome::failed && !last_error.empty())
      spdlog::info("scaler {}: Lease {} reachable again", options_.service, lease);
    last_error = round.outcome == RoundOutcome::failed ? round.error : "";
    if (round.became_leader) {
      spdlog::info("scaler {}: leading (Lease {}, {})", options_.service, lease, to_string(round.outcome));
      policy_.reset();  // a new leader has none of the old one's window: it never scales down at once
      next_sync = now;
    }
    if (round.lost_leadership) {
      spdlog::warn("scaler {}: no longer leading (Lease {} held by '{}')", options_.service, lease, round.holder);
      policy_.reset();
      reports_.clear();
    }
    {
      std::lock_guard lock(mutex_);
      ++status_.rounds[round.outcome];
      status_.leader = elector_.is_leader(now);
      status_.holder = round.holder;
    }
    if (now >= next_sync && !stopping_) {
      if (elector_.is_leader(now)) co_await lead_one_period();
      else co_await follow_one_period();
      next_sync = now + options_.sync_period;
    }
    if (stopping_) break;
    timer_->expires_after(std::min<Clock::duration>(jittered(options_.election.retry_period), next_sync - Clock::now() +
                                                                                                  std::chrono::milliseconds(1)));
    boost::system::error_code ec;
    co_await timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  // client-go's ReleaseOnCancel: another agent takes over at once instead of after the lease expires.
  if (co_await elector_.release(store, ElectionTime::now()))
    spdlog::info("scaler {}: released Lease {}", options_.service, lease);
  std::lock_guard lock(mutex_);
  status_.leader = false;
}

asio::awaitable<void> ServiceScaler::collect_reports(DecisionInput& input) {
  const auto peers = peers_->peers();
  std::vector<asio::ip::tcp::endpoint> endpoints;
  for (const auto& p : peers) endpoints.push_back(p.metrics);
  const auto fetched = co_await http_get_all(endpoints, "/v1/connections", options_.request_timeout);
  const auto received = Clock::now();

  std::map<std::string, AgentReport> kept;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const auto& name = peers[i].name;
    std::string problem;
    if (const auto& reply = fetched.replies[i]; !reply) {
      problem = fetched.errors[i];
    } else if (reply->status != 200) {
      problem = "HTTP " + std::to_string(reply->status) + " from /v1/connections";
    } else {
      try {
        const auto report = admin::parse_connections_report(reply->body);
        if (report.agent != name) throw std::invalid_argument("it calls itself '" + report.agent + "'");
        AgentReport r{name, {}, received};
        if (const auto* svc = report.find(options_.service))
          for (const auto& b : svc->backends) r.active[b.backend] = b.active;
        reports_[name] = std::move(r);
      } catch (const std::exception& e) {
        problem = std::string("unusable report: ") + e.what();
      }
    }
    // One log line per change of an agent's state, not one per period.
    auto& last = report_problems_[name];
    if (problem != last) {
      if (!problem.empty()) spdlog::warn("scaler {}: agent {}: {}", options_.service, name, problem);
      else if (!last.empty()) spdlog::info("scaler {}: agent {} reports again", options_.service, name);
      last = problem;
    }
    if (const auto it = reports_.find(name); it != reports_.end()) kept.insert(*it);  // a failed fetch keeps the older one: it goes stale
    input.expected_agents.push_back(name);
  }
  reports_ = std::move(kept);  // agents discovery no longer lists are forgotten
  for (const auto& [name, r] : reports_) input.reports.push_back(r);
}

asio::awaitable<void> ServiceScaler::lead_one_period() {
  DecisionInput input;
  co_await collect_reports(input);
  input.now = Clock::now();
  const auto& target = options_.scale.target;
  const auto what = std::string(target.kind_name()) + " " + options_.target_ns + "/" + target.name;
  auto sum = sum_reports(input, options_.scale.policy.report_stale_after);

  if (options_.scale.mode == ScaleMode::keda) {
    if (!sum.complete) spdlog::warn("scaler {}: no sum for KEDA: {}", options_.service, sum.text);
    std::lock_guard lock(mutex_);
    status_.sum = std::move(sum);
    status_.agents = input.expected_agents.size();
    status_.decided = true;
    status_.decided_at = std::chrono::system_clock::now();
    co_return;
  }

  ScaleState scale;
  try {
    scale = read_scale(co_await client_->get(target.scale_path(options_.target_ns), options_.request_timeout));
  } catch (const std::exception& e) {
    spdlog::warn("scaler {}: cannot read the scale of {}: {}", options_.service, what, e.what());
    std::lock_guard lock(mutex_);
    ++status_.patches["error"];
    co_return;
  }
  input.current_replicas = scale.spec_replicas;
  const auto decision = policy_.decide(input);
  Reason previous;
  {
    std::lock_guard lock(mutex_);
    previous = status_.decided ? status_.decision.reason : Reason::within_tolerance;
    status_.decision = decision;
    status_.sum = std::move(sum);
    status_.agents = input.expected_agents.size();
    status_.decided = true;
    status_.decided_at = std::chrono::system_clock::now();
    ++status_.decisions[decision.reason];
  }
  // One line per decision that changes something or says something new; the rest at debug.
  const auto level = decision.changes() || decision.reason != previous ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level, "scaler {}: {}: {}: {}", options_.service, what, to_string(decision.reason), decision.text);
  if (decision.changes()) co_await patch_scale(decision, scale.resource_version);
}

asio::awaitable<void> ServiceScaler::patch_scale(const Decision& decision, const std::string& resource_version) {
  const auto& target = options_.scale.target;
  const auto what = std::string(target.kind_name()) + " " + options_.target_ns + "/" + target.name;
  std::string result = "ok";
  try {
    // The resourceVersion read makes the patch conditional: a change made by hand in between wins.
    co_await client_->send(boost::beast::http::verb::patch, target.scale_path(options_.target_ns),
                           scale_patch(decision.desired, resource_version), "application/merge-patch+json",
                           options_.request_timeout);
    spdlog::info("scaler {}: {} scaled {} -> {} replicas", options_.service, what, decision.current, decision.desired);
  } catch (const k8s::ApiError& e) {
    result = e.reason() == k8s::ApiErrorReason::conflict ? "conflict" : "error";
    if (result == "conflict")
      spdlog::warn("scaler {}: {} changed since it was read; the next decision starts from its new replicas",
                   options_.service, what);
    else
      spdlog::error("scaler {}: cannot scale {}: {}", options_.service, what, e.what());
  }
  std::lock_guard lock(mutex_);
  ++status_.patches[result];
}

asio::awaitable<void> ServiceScaler::follow_one_period() {
  const auto holder = elector_.observed_holder();
  std::optional<PeerDirectory::Peer> leader;
  for (const auto& p : peers_->peers())
    if (p.name == holder) leader = p;
  if (holder.empty() || !leader) co_return;  // the relayed answer ages out (keda_answer)
  // local=1: the leader answers from its own state only, so answers never chain through followers.
  const auto target = "/v1/scaling?local=1&service=" + boost::urls::encode(options_.service, boost::urls::unreserved_chars);
  try {
    auto reply = co_await http_get(leader->metrics, target, options_.request_timeout);
    std::lock_guard lock(mutex_);
    relayed_status_ = reply.status;
    relayed_body_ = std::move(reply.body);
    relayed_at_ = Clock::now();
  } catch (const std::exception& e) {
    spdlog::debug("scaler {}: asking leader {}: {}", options_.service, holder, e.what());
  }
}

ScalerStatus ServiceScaler::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::string ServiceScaler::leader_answer_locked() const {
  json::object body{{"service", options_.service},
                    {"mode", options_.scale.mode == ScaleMode::keda ? "keda" : "patch"},
                    {"leader", options_.election.identity},
                    {"connections", status_.sum.total},
                    {"agents", status_.agents}};
  if (options_.scale.mode == ScaleMode::patch) {
    body["current"] = status_.decision.current;
    body["desired"] = status_.decision.desired;
    body["reason"] = to_string(status_.decision.reason);
  }
  return json::serialize(body);
}

std::pair<int, std::string> ServiceScaler::keda_answer(bool local_only) const {
  const auto error = [](const std::string& why, json::object extra = {}) {
    extra["error"] = why;
    return std::pair<int, std::string>{503, json::serialize(extra)};
  };
  std::lock_guard lock(mutex_);
  if (status_.leader) {
    // A sum older than two periods (plus the fetch time) is no longer the leader's view.
    const auto age = std::chrono::system_clock::now() - status_.decided_at;
    if (!status_.decided || age > 2 * options_.sync_period + 2 * options_.request_timeout)
      return error("the leader has no recent sum yet");
    if (!status_.sum.complete)
      return error("holding: " + status_.sum.text,
                   {{"reason", to_string(status_.sum.problem)}, {"agents", names_of(status_.sum.agents)}});
    return {200, leader_answer_locked()};
  }
  if (local_only) return error("not the leader (the Lease is held by '" + status_.holder + "')");
  if (relayed_body_.empty() || Clock::now() - relayed_at_ > options_.scale.policy.report_stale_after)
    return error("no recent answer from the leader ('" + status_.holder + "')");
  return {relayed_status_, relayed_body_};
}

}  // namespace wsteer::scaler
