// Leader election on a Lease, against an in-memory store that behaves as the API server does
// (resourceVersion on every write, 409 on a stale update or a second create): acquire, renew,
// losing the lease on a missed renew deadline, taking over an expired one, never taking a valid
// one, and losing a write race.
#include "scaler/lease_election.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <stdexcept>

namespace wsteer::scaler {

// Failures print "held_by_other", not the enum's bytes.
void PrintTo(RoundOutcome outcome, std::ostream* os) { *os << to_string(outcome); }

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace asio = boost::asio;

// One Lease as the API server keeps it.
class MemoryLeaseStore : public LeaseStore {
 public:
  std::optional<json::object> object;
  int version = 0;
  int failures = 0;                  // the next N calls throw, as an unreachable server
  std::function<void()> before_write;  // runs between a candidate's read and its write (a race)

  asio::awaitable<std::optional<StoredLease>> get() override {
    maybe_fail();
    if (!object) co_return std::nullopt;
    co_return StoredLease{*object, std::to_string(version)};
  }
  asio::awaitable<WriteOutcome> create(json::object lease) override {
    maybe_fail();
    race();
    if (object) co_return WriteOutcome::conflict;
    store(std::move(lease));
    co_return WriteOutcome::ok;
  }
  asio::awaitable<WriteOutcome> update(json::object lease, std::string resource_version) override {
    maybe_fail();
    race();
    if (!object || resource_version != std::to_string(version)) co_return WriteOutcome::conflict;
    store(std::move(lease));
    co_return WriteOutcome::ok;
  }

  LeaseRecord record() const { return read_lease_record(*object); }

 private:
  void maybe_fail() {
    if (failures > 0) {
      --failures;
      throw std::runtime_error("connect: connection refused");
    }
  }
  void race() {
    if (auto hook = std::exchange(before_write, nullptr)) hook();
  }
  void store(json::object lease) {
    lease["metadata"].as_object()["resourceVersion"] = std::to_string(++version);
    object = std::move(lease);
  }
};

template <class T>
T run(asio::awaitable<T> task) {
  asio::io_context io;
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out = std::move(value);
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

LeaseElectionConfig config_for(const std::string& identity) {
  LeaseElectionConfig c;
  c.ns = "wsteer";
  c.name = "wsteer-scaler-games-chat";
  c.identity = identity;
  return c;  // 15 s lease, 10 s renew deadline, 2 s retry
}

class LeaseElectionTest : public ::testing::Test {
 protected:
  Clock::time_point t0_ = Clock::time_point{} + 1000h;
  std::chrono::system_clock::time_point w0_ = std::chrono::system_clock::from_time_t(1796220000);  // 2026-12-02

  ElectionTime at(Clock::duration d) const {
    return {t0_ + d, w0_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(d)};
  }
  RoundResult round(LeaseElector& e, Clock::duration d) { return run(e.run_round(store_, at(d))); }

  // A Lease written by another agent (`holder`), renewed at a time of its own clock.
  void other_holds(const std::string& holder, int transitions = 2, const std::string& renew = "2026-12-02T10:00:00.000000Z") {
    store_.object = make_lease("wsteer", "wsteer-scaler-games-chat",
                               {holder, 15, "2026-12-02T09:00:00.000000Z", renew, transitions});
    store_.object->at("metadata").as_object()["labels"] = json::object{{"app", "wsteer"}};
    ++store_.version;
  }

  MemoryLeaseStore store_;
};

TEST_F(LeaseElectionTest, ConfigIsCheckedAsClientGoDoes) {
  auto c = config_for("a");
  c.renew_deadline = 15s;  // not below the lease duration
  EXPECT_THROW(LeaseElector{c}, std::invalid_argument);
  c = config_for("a");
  c.retry_period = 9s;  // 1.2 x 9 > 10
  EXPECT_THROW(LeaseElector{c}, std::invalid_argument);
  c = config_for("");
  EXPECT_THROW(LeaseElector{c}, std::invalid_argument);
  EXPECT_NO_THROW(LeaseElector{config_for("a")});
  EXPECT_EQ(lease_path("wsteer", "x"), "/apis/coordination.k8s.io/v1/namespaces/wsteer/leases/x");
}

TEST_F(LeaseElectionTest, CreatesTheLeaseWhenAbsentAndLeads) {
  LeaseElector a(config_for("agent-a"));
  EXPECT_FALSE(a.is_leader(t0_));
  const auto r = round(a, 0s);
  EXPECT_EQ(r.outcome, RoundOutcome::created);
  EXPECT_TRUE(r.leader);
  EXPECT_TRUE(r.became_leader);
  EXPECT_EQ(r.holder, "agent-a");
  EXPECT_TRUE(a.is_leader(t0_ + 1s));

  ASSERT_TRUE(store_.object);
  const auto& lease = *store_.object;
  EXPECT_EQ(lease.at("apiVersion").as_string(), "coordination.k8s.io/v1");
  EXPECT_EQ(lease.at("kind").as_string(), "Lease");
  EXPECT_EQ(lease.at("metadata").at("name").as_string(), "wsteer-scaler-games-chat");
  EXPECT_EQ(lease.at("metadata").at("namespace").as_string(), "wsteer");
  const auto rec = store_.record();
  EXPECT_EQ(rec.holder_identity, "agent-a");
  EXPECT_EQ(rec.lease_duration_seconds, 15);
  EXPECT_EQ(rec.lease_transitions, 0);
  EXPECT_EQ(rec.acquire_time, format_micro_time(w0_));
  EXPECT_EQ(rec.renew_time, rec.acquire_time);
}

TEST_F(LeaseElectionTest, MicroTimeIsTheServersFormat) {
  EXPECT_EQ(format_micro_time(std::chrono::system_clock::from_time_t(0) + std::chrono::microseconds(1500)),
            "1970-01-01T00:00:00.001500Z");
  EXPECT_EQ(format_micro_time(w0_), "2026-12-02T14:00:00.000000Z");
}

TEST_F(LeaseElectionTest, AcquiresAFreeLeaseAndCountsTheTransition) {
  other_holds("", 3);  // released by its last holder
  LeaseElector a(config_for("agent-a"));
  const auto r = round(a, 0s);
  EXPECT_EQ(r.outcome, RoundOutcome::acquired);
  EXPECT_TRUE(r.became_leader);
  const auto rec = store_.record();
  EXPECT_EQ(rec.holder_identity, "agent-a");
  EXPECT_EQ(rec.lease_transitions, 4);
  EXPECT_EQ(rec.acquire_time, format_micro_time(w0_));
  // What the write did not own is kept.
  EXPECT_EQ(store_.object->at("metadata").at("labels").at("app").as_string(), "wsteer");
}

TEST_F(LeaseElectionTest, RenewKeepsAcquireTimeAndTransitions) {
  LeaseElector a(config_for("agent-a"));
  round(a, 0s);
  const auto version = store_.version;
  const auto r = round(a, 2s);
  EXPECT_EQ(r.outcome, RoundOutcome::renewed);
  EXPECT_TRUE(r.leader);
  EXPECT_FALSE(r.became_leader);
  EXPECT_GT(store_.version, version);
  const auto rec = store_.record();
  EXPECT_EQ(rec.acquire_time, format_micro_time(w0_));
  EXPECT_EQ(rec.renew_time, format_micro_time(w0_ + 2s));
  EXPECT_EQ(rec.lease_transitions, 0);
  // Leading is good for renew_deadline after the last renew, and not a moment longer.
  EXPECT_TRUE(a.is_leader(t0_ + 11s));
  EXPECT_FALSE(a.is_leader(t0_ + 12s));
}

TEST_F(LeaseElectionTest, LosesLeadershipWhenRenewsFailPastTheRenewDeadline) {
  LeaseElector a(config_for("agent-a"));
  round(a, 0s);
  store_.failures = 100;  // the API server is unreachable
  for (auto t = 2s; t < 10s; t += 2s) {
    const auto r = round(a, t);
    EXPECT_EQ(r.outcome, RoundOutcome::failed);
    EXPECT_NE(r.error.find("connection refused"), std::string::npos) << r.error;
    EXPECT_TRUE(r.leader) << "still within the renew deadline at " << t.count() << "s";
    EXPECT_FALSE(r.lost_leadership);
  }
  const auto r = round(a, 10s);
  EXPECT_EQ(r.outcome, RoundOutcome::failed);
  EXPECT_FALSE(r.leader);
  EXPECT_TRUE(r.lost_leadership);
  EXPECT_FALSE(a.is_leader(t0_ + 10s));

  // The server comes back before anyone else took the Lease: it is still ours to renew.
  store_.failures = 0;
  const auto back = round(a, 12s);
  EXPECT_EQ(back.outcome, RoundOutcome::renewed);
  EXPECT_TRUE(back.became_leader);
  EXPECT_EQ(store_.record().lease_transitions, 0);
}

TEST_F(LeaseElectionTest, ConflictsPastTheRenewDeadlineAlsoLoseLeadership) {
  LeaseElector a(config_for("agent-a"));
  round(a, 0s);
  // Every write of ours loses a race (something keeps touching the object).
  for (auto t = 2s; t <= 10s; t += 2s) {
    store_.before_write = [&] { ++store_.version; };
    const auto r = round(a, t);
    EXPECT_EQ(r.outcome, RoundOutcome::conflict);
    EXPECT_EQ(r.leader, t < 10s) << t.count();
  }
}

TEST_F(LeaseElectionTest, NeverTakesAValidLease) {
  LeaseElector a(config_for("agent-a"));
  LeaseElector b(config_for("agent-b"));
  ASSERT_EQ(round(b, 0s).outcome, RoundOutcome::created);
  for (auto t = 1s; t < 120s; t += 1s) {
    if (t.count() % 2 == 0) {
      ASSERT_EQ(round(b, t).outcome, RoundOutcome::renewed) << t.count();
    }
    const auto r = round(a, t);
    EXPECT_EQ(r.outcome, RoundOutcome::held_by_other) << t.count();
    EXPECT_FALSE(r.leader);
    EXPECT_EQ(r.holder, "agent-b");
  }
  EXPECT_EQ(store_.record().holder_identity, "agent-b");
  EXPECT_FALSE(a.is_leader(t0_ + 120s));
}

TEST_F(LeaseElectionTest, ExpiryRunsOnOurClockNotTheRecordsTimestamps) {
  // agent-b's clock is a year behind: its renewTime looks ancient. What counts is how long we
  // have seen the record unchanged.
  other_holds("agent-b", 2, "2025-12-02T10:00:00.000000Z");
  LeaseElector a(config_for("agent-a"));
  for (auto t = 0s; t < 15s; t += 2s) EXPECT_EQ(round(a, t).outcome, RoundOutcome::held_by_other) << t.count();
  // agent-b renews (the record changes): the 15 s start over.
  other_holds("agent-b", 2, "2025-12-02T10:00:14.000000Z");
  EXPECT_EQ(round(a, 16s).outcome, RoundOutcome::held_by_other);
  EXPECT_EQ(round(a, 30s).outcome, RoundOutcome::held_by_other);
  const auto r = round(a, 31s);
  EXPECT_EQ(r.outcome, RoundOutcome::acquired);
  EXPECT_TRUE(r.became_leader);
}

TEST_F(LeaseElectionTest, TakesOverAnExpiredLeaseAndTheOldLeaderStepsDown) {
  LeaseElector a(config_for("agent-a"));
  LeaseElector b(config_for("agent-b"));
  ASSERT_EQ(round(b, 0s).outcome, RoundOutcome::created);
  // b stops renewing (its node is gone); a sees the same record from t=1s on.
  EXPECT_EQ(round(a, 1s).outcome, RoundOutcome::held_by_other);
  EXPECT_EQ(round(a, 15s).outcome, RoundOutcome::held_by_other);
  const auto r = round(a, 16s);
  EXPECT_EQ(r.outcome, RoundOutcome::acquired);
  EXPECT_TRUE(r.became_leader);
  const auto rec = store_.record();
  EXPECT_EQ(rec.holder_identity, "agent-a");
  EXPECT_EQ(rec.lease_transitions, 1);
  EXPECT_EQ(rec.acquire_time, format_micro_time(w0_ + 16s));
  // b had already stopped leading on its own clock; its next round confirms it.
  EXPECT_FALSE(b.is_leader(t0_ + 16s));
  const auto old = round(b, 17s);
  EXPECT_EQ(old.outcome, RoundOutcome::held_by_other);
  EXPECT_FALSE(old.leader);
  EXPECT_EQ(old.holder, "agent-a");
}

TEST_F(LeaseElectionTest, LosingTheUpdateRaceStaysFollower) {
  other_holds("agent-b");
  LeaseElector a(config_for("agent-a"));
  EXPECT_EQ(round(a, 0s).outcome, RoundOutcome::held_by_other);
  // At 20 s the lease looks expired to a, but agent-b renews between a's read and a's write.
  store_.before_write = [&] { other_holds("agent-b", 2, "2026-12-02T14:00:20.000000Z"); };
  const auto r = round(a, 20s);
  EXPECT_EQ(r.outcome, RoundOutcome::conflict);
  EXPECT_FALSE(r.leader);
  EXPECT_FALSE(r.became_leader);
  EXPECT_FALSE(a.is_leader(t0_ + 20s));
  EXPECT_EQ(store_.record().holder_identity, "agent-b");
  // And the renewed record is valid again for a full lease duration from when a sees it.
  EXPECT_EQ(round(a, 22s).outcome, RoundOutcome::held_by_other);
}

TEST_F(LeaseElectionTest, OfTwoCreatorsOneWins) {
  LeaseElector a(config_for("agent-a"));
  LeaseElector b(config_for("agent-b"));
  // Both read "absent" before either writes.
  const auto pa = a.plan(std::nullopt, at(0s));
  const auto pb = b.plan(std::nullopt, at(0s));
  ASSERT_EQ(pa.action, LeasePlan::Action::create);
  ASSERT_EQ(pb.action, LeasePlan::Action::create);
  const auto ra = a.commit(pa, run(store_.create(pa.lease)), at(0s));
  const auto rb = b.commit(pb, run(store_.create(pb.lease)), at(0s));
  EXPECT_EQ(ra.outcome, RoundOutcome::created);
  EXPECT_EQ(rb.outcome, RoundOutcome::conflict);
  EXPECT_TRUE(a.is_leader(t0_));
  EXPECT_FALSE(b.is_leader(t0_));
  EXPECT_EQ(round(b, 2s).outcome, RoundOutcome::held_by_other);
}

TEST_F(LeaseElectionTest, ThreeCandidatesNeverLeadTogetherAndAFailoverHappens) {
  LeaseElector e[] = {LeaseElector(config_for("agent-a")), LeaseElector(config_for("agent-b")),
                      LeaseElector(config_for("agent-c"))};
  int killed = -1;
  int leaders_seen_after_kill = 0;
  for (auto t = 0s; t < 120s; t += 1s) {
    for (int i = 0; i < 3; ++i) {
      if (i == killed) continue;
      // Staggered rounds every 2 s, as jittered timers would give.
      if ((t.count() + i) % 2 == 0) round(e[i], t);
    }
    int leading = 0;
    for (int i = 0; i < 3; ++i)
      if (i != killed && e[i].is_leader(t0_ + t)) ++leading;
    ASSERT_LE(leading, 1) << "at " << t.count() << "s";
    if (t == 60s) {
      for (int i = 0; i < 3; ++i)
        if (e[i].is_leader(t0_ + t)) killed = i;
      ASSERT_GE(killed, 0) << "someone leads after 60 s";
    }
    if (killed >= 0 && t >= 60s + 15s + 3s && leading == 1) ++leaders_seen_after_kill;
  }
  EXPECT_GT(leaders_seen_after_kill, 30) << "another candidate took the Lease after the leader died";
  EXPECT_EQ(store_.record().lease_transitions, 1);
  EXPECT_NE(store_.record().holder_identity, e[killed].config().identity);
}

TEST_F(LeaseElectionTest, ReleaseHandsOverAtOnce) {
  LeaseElector a(config_for("agent-a"));
  LeaseElector b(config_for("agent-b"));
  round(a, 0s);
  EXPECT_EQ(round(b, 1s).outcome, RoundOutcome::held_by_other);
  EXPECT_TRUE(run(a.release(store_, at(2s))));
  EXPECT_FALSE(a.is_leader(t0_ + 2s));
  EXPECT_EQ(store_.record().holder_identity, "");
  EXPECT_EQ(store_.record().lease_duration_seconds, 1);
  const auto r = round(b, 3s);
  EXPECT_EQ(r.outcome, RoundOutcome::acquired);
  EXPECT_EQ(store_.record().lease_transitions, 1);
  // A follower has nothing to release.
  EXPECT_FALSE(run(a.release(store_, at(4s))));
}

TEST_F(LeaseElectionTest, AMalformedLeaseFailsTheRoundWithTheField) {
  store_.object = json::parse(R"({"metadata": {"name": "x"}, "spec": {"holderIdentity": 7}})").as_object();
  LeaseElector a(config_for("agent-a"));
  const auto r = round(a, 0s);
  EXPECT_EQ(r.outcome, RoundOutcome::failed);
  EXPECT_FALSE(r.leader);
  EXPECT_NE(r.error.find("holderIdentity"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace wsteer::scaler
