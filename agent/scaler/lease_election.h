// Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics, so one scaler
// acts per target however many agents run. A round is client-go's tryAcquireOrRenew: read the
// Lease; create it when absent; otherwise take it only when its holder is us, nobody, or a holder
// whose record has not changed for leaseDurationSeconds *as we observed it* (our own steady clock,
// never the record's timestamps, so clock skew between nodes cannot steal a valid lease); write
// with the resourceVersion read, so of two candidates only one wins (the other gets a conflict).
// A leader that has not renewed within renew_deadline stops leading, before the lease expires
// (lease_duration) for the others.
//
// The I/O is the LeaseStore below: an in-memory one in the tests, the API client in the agent.
#pragma once

#include "scaler/scaling_policy.h"  // Clock

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace wsteer::scaler {

struct LeaseElectionConfig {
  std::string ns;        // the Lease's namespace (the release namespace)
  std::string name;      // the Lease's name (one per target workload)
  std::string identity;  // holderIdentity: this agent's pod name
  // client-go's defaults for controllers.
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

// As client-go: lease_duration > renew_deadline > 1.2 * retry_period, all > 0, identity and
// names non-empty. Throws std::invalid_argument.
void validate(const LeaseElectionConfig& config);

// "/apis/coordination.k8s.io/v1/namespaces/NS/leases" (POST to create) and ".../leases/NAME"
// (GET, PUT).
std::string leases_path(const std::string& ns);
std::string lease_path(const std::string& ns, const std::string& name);

// The spec fields of a Lease that the election reads and writes. Times are kept as the server's
// MicroTime strings: the election compares records, it never trusts their clocks.
struct LeaseRecord {
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::string acquire_time;
  std::string renew_time;
  int lease_transitions = 0;
  bool operator==(const LeaseRecord&) const = default;
};

// Reads `spec` of a Lease object (absent fields are empty/0). Throws std::invalid_argument naming
// the field when one has the wrong type.
LeaseRecord read_lease_record(const boost::json::object& lease);

// A Lease object (apiVersion, kind, metadata.name/namespace, spec) carrying `record`.
boost::json::object make_lease(const std::string& ns, const std::string& name, const LeaseRecord& record);

// MicroTime as the API server writes it: "2026-12-02T16:25:00.123456Z".
std::string format_micro_time(std::chrono::system_clock::time_point t);

struct StoredLease {
  boost::json::object object;
  std::string resource_version;  // metadata.resourceVersion
};

enum class WriteOutcome { ok, conflict };

// The election's only I/O. create: POST; conflict when it already exists (409 AlreadyExists).
// update: PUT with metadata.resourceVersion = resource_version; conflict on 409. Every other
// failure throws (any std::exception): the round fails and the election treats it as no renew.
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  virtual boost::asio::awaitable<std::optional<StoredLease>> get() = 0;  // nullopt: 404
  virtual boost::asio::awaitable<WriteOutcome> create(boost::json::object lease) = 0;
  virtual boost::asio::awaitable<WriteOutcome> update(boost::json::object lease, std::string resource_version) = 0;
};

// Both clocks of one moment: steady for expiry and deadlines, wall for the times written.
struct ElectionTime {
  Clock::time_point steady;
  std::chrono::system_clock::time_point wall;
  static ElectionTime now() { return {Clock::now(), std::chrono::system_clock::now()}; }
};

enum class RoundOutcome {
  created,        // the Lease did not exist; we created it and lead
  acquired,       // we took a free or expired Lease (leaseTransitions + 1)
  renewed,        // we hold it and renewed it
  held_by_other,  // another holder's lease is still valid: follower
  conflict,       // our write lost a race (409): no change this round
  failed,         // the store failed (error says how)
};
const char* to_string(RoundOutcome outcome);  // "created", ... (a metric label value)

struct RoundResult {
  RoundOutcome outcome = RoundOutcome::failed;
  bool leader = false;           // after this round
  bool became_leader = false;    // start the scaler
  bool lost_leadership = false;  // stop the scaler, reset its policy
  std::string holder;            // the holder as last observed ("" when none)
  std::string error;             // for failed
};

// What a round wants written, from what it read (the pure half of a round).
struct LeasePlan {
  enum class Action { none, create, update } action = Action::none;
  boost::json::object lease;     // the object to create or update
  std::string resource_version;  // for update
  LeaseRecord record;            // the record written
  bool renewing = false;         // update of our own lease (renewed, not acquired)
};

class LeaseElector {
 public:
  explicit LeaseElector(LeaseElectionConfig config);  // validate()s

  const LeaseElectionConfig& config() const { return config_; }

  // Whether we may act as the leader at `now`: the last round left us leading and the last
  // successful renew is less than renew_deadline old (so a round that hangs cannot extend it).
  bool is_leader(Clock::time_point now) const;
  const std::string& observed_holder() const { return observed_.holder_identity; }

  // One round. Call it every retry_period (with jitter) as follower and as leader. Store errors
  // do not escape (outcome failed); cancellation (operation_aborted) does.
  boost::asio::awaitable<RoundResult> run_round(LeaseStore& store, ElectionTime now);

  // On orderly shutdown, as client-go's ReleaseOnCancel: if we lead, write the lease with no
  // holder and a 1 s duration so another candidate takes over at once. Returns whether it did.
  // Store errors do not escape (false); either way we no longer lead.
  boost::asio::awaitable<bool> release(LeaseStore& store, ElectionTime now);

  // The pure halves of run_round, for other drivers and the tests.
  LeasePlan plan(const std::optional<StoredLease>& current, ElectionTime now);  // throws on a malformed Lease
  RoundResult commit(const LeasePlan& plan, WriteOutcome outcome, ElectionTime now);
  RoundResult fail(std::string error, ElectionTime now);

 private:
  RoundResult result(RoundOutcome outcome, bool was_leader, ElectionTime now);

  LeaseElectionConfig config_;
  LeaseRecord observed_;
  bool have_observed_ = false;
  Clock::time_point observed_at_{};  // when observed_ last changed, on our clock
  bool leader_ = false;
  Clock::time_point renewed_at_{};   // our last successful create/acquire/renew
};

}  // namespace wsteer::scaler
