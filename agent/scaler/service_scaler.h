// One Service's scaler: the election for its target workload and, while this agent leads, one
// decision per sync period: collect every agent's /v1/connections report, sum the Service's
// active connections, decide (ScalingPolicy) and patch the target's scale subresource (mode
// patch), or only keep the sum for KEDA's metrics-api scaler (mode keda). A follower asks the
// leader for that answer each period, so /v1/scaling answers the same on every agent.
// Runs as a coroutine on the scaler thread's io_context (app/scaling_runtime.h).
#pragma once

#include "k8s/api_client.h"
#include "scaler/lease_election.h"
#include "scaler/scale_config.h"
#include "scaler/scaling_policy.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace wsteer::scaler {

// Every agent as discovery lists it (the metrics Service's EndpointSlices): pod name and the
// address of its metrics port. Written by the discovery thread, read by the scalers.
class PeerDirectory {
 public:
  struct Peer {
    std::string name;
    boost::asio::ip::tcp::endpoint metrics;
  };
  void set(std::vector<Peer> peers);
  std::vector<Peer> peers() const;
  bool synced() const;  // the first list is in

 private:
  mutable std::mutex mutex_;
  std::vector<Peer> peers_;
  bool synced_ = false;
};

struct ServiceScalerOptions {
  std::string service;    // the Service's label ("ns/name"): its entry in the reports
  std::string target_ns;  // the Service's namespace, where the target workload lives
  ScaleConfig scale;
  LeaseElectionConfig election;
  std::chrono::seconds sync_period{15};
  std::chrono::milliseconds request_timeout{2000};  // per report fetch and API request
};

// What the metrics and /v1/scaling show; a copy, taken under the scaler's lock.
struct ScalerStatus {
  bool leader = false;
  std::string holder;  // the Lease holder as last observed
  bool decided = false;  // a decision (or, for KEDA, a sum) was made while leading
  Decision decision;     // mode patch: the last decision
  ReportSum sum;         // the last sum (both modes)
  std::size_t agents = 0;  // agents discovery listed for the last sum
  std::chrono::system_clock::time_point decided_at{};
  std::map<Reason, std::uint64_t> decisions;               // decisions by reason, since start
  std::map<std::string, std::uint64_t> patches;            // scale patches by result: ok, conflict, error
  std::map<RoundOutcome, std::uint64_t> rounds;            // election rounds by outcome
};

class ServiceScaler {
 public:
  ServiceScaler(ServiceScalerOptions options, std::shared_ptr<k8s::ApiClient> client,
                std::shared_ptr<const PeerDirectory> peers);

  const ServiceScalerOptions& options() const { return options_; }

  // The election and decision loop, until stop(); then releases the Lease if it leads.
  boost::asio::awaitable<void> run();
  void stop();  // on the scaler thread (post it there)

  ScalerStatus status() const;
  // GET /v1/scaling for KEDA's metrics-api scaler: the leader's sum, the same on every agent
  // (followers relay what the leader last answered them). 200 with a JSON body, or 503 with
  // {"error": ...} while no leader has a complete, fresh sum.
  // local_only (?local=1, what followers ask the leader): answer only from this agent's own lead.
  std::pair<int, std::string> keda_answer(bool local_only = false) const;

 private:
  boost::asio::awaitable<void> lead_one_period();
  boost::asio::awaitable<void> follow_one_period();
  boost::asio::awaitable<void> collect_reports(DecisionInput& input);
  boost::asio::awaitable<void> patch_scale(const Decision& decision, const std::string& resource_version);
  std::string leader_answer_locked() const;

  ServiceScalerOptions options_;
  std::shared_ptr<k8s::ApiClient> client_;
  std::shared_ptr<const PeerDirectory> peers_;
  LeaseElector elector_;
  ScalingPolicy policy_;
  std::map<std::string, AgentReport> reports_;          // newest good report per agent (leader only)
  std::map<std::string, std::string> report_problems_;  // agent -> last fetch problem (logged on change)
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool stopping_ = false;

  mutable std::mutex mutex_;  // guards status_ and the relayed answer (read by the admin thread)
  ScalerStatus status_;
  int relayed_status_ = 503;
  std::string relayed_body_;
  Clock::time_point relayed_at_{};
};

}  // namespace wsteer::scaler
