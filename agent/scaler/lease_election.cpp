#include "scaler/lease_election.h"

#include <boost/asio/error.hpp>
#include <boost/json/value.hpp>
#include <boost/system/system_error.hpp>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace wsteer::scaler {
namespace json = boost::json;

void validate(const LeaseElectionConfig& c) {
  const auto bad = [](const std::string& why) { return std::invalid_argument("leader election: " + why); };
  if (c.ns.empty() || c.name.empty()) throw bad("the Lease needs a namespace and a name");
  if (c.identity.empty()) throw bad("the holder identity (pod name) is empty");
  if (c.retry_period.count() <= 0) throw bad("retry period must be positive");
  if (c.lease_duration <= c.renew_deadline) throw bad("lease duration must be greater than the renew deadline");
  // client-go: RenewDeadline > JitterFactor (1.2) * RetryPeriod.
  if (c.renew_deadline * 10 <= c.retry_period * 12) throw bad("renew deadline must be greater than 1.2 x the retry period");
}

std::string leases_path(const std::string& ns) { return "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases"; }
std::string lease_path(const std::string& ns, const std::string& name) { return leases_path(ns) + "/" + name; }

const char* to_string(RoundOutcome outcome) {
  switch (outcome) {
    case RoundOutcome::created: return "created";
    case RoundOutcome::acquired: return "acquired";
    case RoundOutcome::renewed: return "renewed";
    case RoundOutcome::held_by_other: return "held_by_other";
    case RoundOutcome::conflict: return "conflict";
    case RoundOutcome::failed: return "failed";
  }
  return "unknown";
}

std::string format_micro_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(us / 1000000);
  auto frac = us % 1000000;
  if (frac < 0) frac += 1000000, --secs;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

LeaseRecord read_lease_record(const json::object& lease) {
  LeaseRecord r;
  const auto* spec_v = lease.if_contains("spec");
  if (!spec_v || spec_v->is_null()) return r;
  if (!spec_v->is_object()) throw std::invalid_argument("Lease spec: expected an object");
  const auto& spec = spec_v->get_object();
  const auto text = [&](const char* key, std::string& out) {
    const auto* v = spec.if_contains(key);
    if (!v || v->is_null()) return;
    if (!v->is_string()) throw std::invalid_argument(std::string("Lease spec.") + key + ": expected a string");
    out = std::string(v->get_string());
  };
  const auto integer = [&](const char* key, int& out) {
    const auto* v = spec.if_contains(key);
    if (!v || v->is_null()) return;
    const auto n = v->to_number<std::int64_t>();  // throws for non-numbers and fractions
    if (n < 0 || n > INT32_MAX) throw std::invalid_argument(std::string("Lease spec.") + key + ": out of range");
    out = static_cast<int>(n);
  };
  text("holderIdentity", r.holder_identity);
  text("acquireTime", r.acquire_time);
  text("renewTime", r.renew_time);
  try {
    integer("leaseDurationSeconds", r.lease_duration_seconds);
    integer("leaseTransitions", r.lease_transitions);
  } catch (const boost::system::system_error&) {
    throw std::invalid_argument("Lease spec.leaseDurationSeconds/leaseTransitions: expected integers");
  }
  return r;
}

namespace {

json::object spec_of(const LeaseRecord& r) {
  json::object spec;
  spec["holderIdentity"] = r.holder_identity;
  spec["leaseDurationSeconds"] = r.lease_duration_seconds;
  spec["acquireTime"] = r.acquire_time;
  spec["renewTime"] = r.renew_time;
  spec["leaseTransitions"] = r.lease_transitions;
  return spec;
}

}  // namespace

json::object make_lease(const std::string& ns, const std::string& name, const LeaseRecord& record) {
  json::object lease;
  lease["apiVersion"] = "coordination.k8s.io/v1";
  lease["kind"] = "Lease";
  lease["metadata"] = json::object{{"name", name}, {"namespace", ns}};
  lease["spec"] = spec_of(record);
  return lease;
}

LeaseElector::LeaseElector(LeaseElectionConfig config) : config_(std::move(config)) { validate(config_); }

bool LeaseElector::is_leader(Clock::time_point now) const {
  return leader_ && now - renewed_at_ < config_.renew_deadline;
}

LeasePlan LeaseElector::plan(const std::optional<StoredLease>& current, ElectionTime now) {
  LeasePlan p;
  const auto stamp = format_micro_time(now.wall);
  const int duration = static_cast<int>(config_.lease_duration.count());
  if (!current) {
    p.action = LeasePlan::Action::create;
    p.record = {config_.identity, duration, stamp, stamp, 0};
    p.lease = make_lease(config_.ns, config_.name, p.record);
    return p;
  }
  const auto old = read_lease_record(current->object);
  // Expiry runs from when *we* saw the record change, as client-go's observedTime.
  if (!have_observed_ || old != observed_) {
    observed_ = old;
    observed_at_ = now.steady;
    have_observed_ = true;
  }
  const bool ours = old.holder_identity == config_.identity;
  const bool valid = now.steady < observed_at_ + std::chrono::seconds(old.lease_duration_seconds);
  if (!old.holder_identity.empty() && !ours && valid) return p;  // none: someone else leads

  p.action = LeasePlan::Action::update;
  p.renewing = ours;
  p.record = {config_.identity, duration, ours ? old.acquire_time : stamp, stamp,
              ours ? old.lease_transitions : old.lease_transitions + 1};
  p.lease = current->object;  // keep metadata (labels, owner references) as read
  p.lease["spec"] = spec_of(p.record);
  auto& meta = p.lease["metadata"];
  if (!meta.is_object()) meta = json::object{{"name", config_.name}, {"namespace", config_.ns}};
  meta.get_object()["resourceVersion"] = current->resource_version;
  p.resource_version = current->resource_version;
  return p;
}

RoundResult LeaseElector::result(RoundOutcome outcome, bool was_leader, ElectionTime) {
  RoundResult r;
  r.outcome = outcome;
  r.leader = leader_;
  r.became_leader = leader_ && !was_leader;
  r.lost_leadership = was_leader && !leader_;
  r.holder = observed_.holder_identity;
  return r;
}

RoundResult LeaseElector::commit(const LeasePlan& p, WriteOutcome outcome, ElectionTime now) {
  const bool was = leader_;
  if (p.action == LeasePlan::Action::none) {
    leader_ = false;  // a valid lease of someone else's: whatever we thought, we do not lead
    return result(RoundOutcome::held_by_other, was, now);
  }
  if (outcome == WriteOutcome::conflict) {
    if (leader_ && now.steady - renewed_at_ >= config_.renew_deadline) leader_ = false;
    return result(RoundOutcome::conflict, was, now);
  }
  observed_ = p.record;
  observed_at_ = now.steady;
  have_observed_ = true;
  leader_ = true;
  renewed_at_ = now.steady;
  const auto o = p.action == LeasePlan::Action::create ? RoundOutcome::created
                 : p.renewing                          ? RoundOutcome::renewed
                                                       : RoundOutcome::acquired;
  return result(o, was, now);
}

RoundResult LeaseElector::fail(std::string error, ElectionTime now) {
  const bool was = leader_;
  if (leader_ && now.steady - renewed_at_ >= config_.renew_deadline) leader_ = false;
  auto r = result(RoundOutcome::failed, was, now);
  r.error = std::move(error);
  return r;
}

namespace {
bool cancelled(const boost::system::system_error& e) { return e.code() == boost::asio::error::operation_aborted; }
}  // namespace

boost::asio::awaitable<RoundResult> LeaseElector::run_round(LeaseStore& store, ElectionTime now) {
  std::string error;
  try {
    const auto current = co_await store.get();
    const auto p = plan(current, now);
    if (p.action == LeasePlan::Action::none) co_return commit(p, WriteOutcome::ok, now);
    const auto outcome = p.action == LeasePlan::Action::create ? co_await store.create(p.lease)
                                                               : co_await store.update(p.lease, p.resource_version);
    co_return commit(p, outcome, now);
  } catch (const boost::system::system_error& e) {
    if (cancelled(e)) throw;
    error = e.what();
  } catch (const std::exception& e) {
    error = e.what();
  }
  co_return fail(std::move(error), now);
}

boost::asio::awaitable<bool> LeaseElector::release(LeaseStore& store, ElectionTime now) {
  if (!leader_) co_return false;
  leader_ = false;
  try {
    const auto current = co_await store.get();
    if (!current || read_lease_record(current->object).holder_identity != config_.identity) co_return false;
    const auto stamp = format_micro_time(now.wall);
    LeaseRecord released{"", 1, stamp, stamp, read_lease_record(current->object).lease_transitions};
    auto lease = current->object;
    lease["spec"] = spec_of(released);
    if (auto* meta = lease.if_contains("metadata"); meta && meta->is_object())
      meta->get_object()["resourceVersion"] = current->resource_version;
    const bool ok = co_await store.update(std::move(lease), current->resource_version) == WriteOutcome::ok;
    if (ok) observed_ = released, observed_at_ = now.steady;
    co_return ok;
  } catch (const boost::system::system_error& e) {
    if (cancelled(e)) throw;
  } catch (const std::exception&) {
  }
  co_return false;
}

}  // namespace wsteer::scaler
