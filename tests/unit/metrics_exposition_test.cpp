// The agent's metrics as a scraper reads them, without BPF: AgentMetrics and the steering half
// of DatapathCollector, serialized and parsed strictly.
#include "../harness/prom_text.h"
#include "app/xdp_front_door.h"
#include "metrics/agent_metrics.h"
#include "metrics/datapath_collector.h"
#include "metrics/function_collector.h"
#include "metrics/metric_names.h"
#include "steering/steering_config.h"

#include <gtest/gtest.h>

namespace wsteer::metrics {
namespace {

namespace prom = wsteer::test::prom;

struct Fixture {
  std::unique_ptr<steering::Steering> steering = steering::make_steering({});
  AgentMetrics metrics;
  Fixture() {
    steering::EndpointList list;
    for (int i = 0; i < 2; ++i)
      list.push_back({"b" + std::to_string(i), boost::asio::ip::make_address("10.0.0." + std::to_string(i + 1)), 9000});
    steering->update_endpoints(list);
    metrics.add_collectable(std::make_shared<DatapathCollector>(nullptr, std::vector<ServiceSteering>{{"default", steering.get()}}));
    // The XDP front door's family as the agent registers it, before any frame was counted.
    metrics.add_collectable(std::make_shared<FunctionCollector>([] { return app::xdp_families({}); }));
  }
  prom::Exposition scrape() const { return prom::parse(metrics.serialize()); }
};

TEST(MetricsExposition, EveryFamilyHasHelpAndTheDocumentedType) {
  Fixture f;
  const auto e = f.scrape();
  for (const auto& family : names::kFamilies) {
    const std::string name(family.name);
    // Without a datapath, map fill has no samples; the flow gauges are wired in app/agent.cpp.
    if (family.splice_only || family.kubernetes_only || name == names::endpoints_reloads_total) continue;
    const auto it = e.families.find(name);
    ASSERT_NE(it, e.families.end()) << name;
    EXPECT_TRUE(it->second.help && !it->second.help->empty()) << name;
    const char* type = family.type == names::Type::counter ? "counter"
                       : family.type == names::Type::gauge ? "gauge"
                                                           : "histogram";
    EXPECT_EQ(it->second.type.value_or("none"), type) << name;
  }
  for (const auto& [name, info] : e.families) {
    bool documented = false;
    for (const auto& family : names::kFamilies) documented |= family.name == name;
    EXPECT_TRUE(documented) << name;
  }
}

TEST(MetricsExposition, EveryXdpActionAndReasonIsVisibleAtZero) {
  Fixture f;
  const auto e = f.scrape();
  const std::string name(names::xdp_packets_total);
  for (const auto& [action, reason] :
       std::vector<std::pair<std::string, std::string>>{{"pass", "not_guarded"}, {"pass", "vlan"}, {"pass", "allow_list"},
                                                        {"pass", "established"}, {"pass", "syn_accepted"}, {"drop", "deny_list"},
                                                        {"drop", "syn_rate"}, {"drop", "conn_limit"}, {"drop", "malformed"}})
    EXPECT_EQ(e.count(name, {{"action", action}, {"reason", reason}}), 1u) << action << " " << reason;
  EXPECT_EQ(e.sum(name), 0);
}

TEST(MetricsExposition, EveryKnownOutcomeAndEveryBackendIsVisibleAtZero) {
  Fixture f;
  const auto e = f.scrape();
  for (const auto& o : known_outcomes())
    EXPECT_EQ(e.count(std::string(names::connections_total), {{"result", to_string(o.result)}, {"reason", std::string(o.reason)}}), 1u)
        << to_string(o.result) << " " << o.reason;
  EXPECT_EQ(e.sum(std::string(names::connections_total)), 0);
  for (const char* b : {"b0", "b1"}) {
    EXPECT_EQ(e.count(std::string(names::backend_connect_failures_total), {{"backend", b}}), 1u) << b;
    EXPECT_EQ(e.count(std::string(names::backend_active_connections), {{"backend", b}}), 1u) << b;
  }
}

TEST(MetricsExposition, CountersMoveByWhatWasReported) {
  Fixture f;
  f.metrics.connection(Result::rejected, "not_upgrade");
  f.metrics.connection(Result::rejected, "not_upgrade");
  f.metrics.connection(Result::spliced, "none");
  f.metrics.userspace_bytes(Direction::client_to_backend, 300);
  f.metrics.handshake_seconds(0.002);
  f.metrics.maglev_rebuild(0.004);
  f.steering->on_connect_failed(f.steering->snapshot().at(0).backend.id);
  const auto e = f.scrape();
  EXPECT_EQ(e.sum(std::string(names::connections_total), {{"result", "rejected"}, {"reason", "not_upgrade"}}), 2);
  EXPECT_EQ(e.sum(std::string(names::connections_total), {{"result", "spliced"}}), 1);
  EXPECT_EQ(e.sum(std::string(names::userspace_bytes_total), {{"direction", "client_to_backend"}}), 300);
  EXPECT_EQ(e.sum(std::string(names::userspace_bytes_total), {{"direction", "backend_to_client"}}), 0);
  EXPECT_EQ(e.sum(std::string(names::handshake_seconds) + "_count"), 1);
  EXPECT_EQ(e.sum(std::string(names::handshake_seconds) + "_bucket", {{"le", "0.0025"}}), 1);
  EXPECT_EQ(e.sum(std::string(names::handshake_seconds) + "_bucket", {{"le", "0.001"}}), 0);
  EXPECT_EQ(e.sum(std::string(names::maglev_rebuilds_total)), 1);
  EXPECT_DOUBLE_EQ(e.sum(std::string(names::maglev_last_rebuild_duration_seconds)), 0.004);
  EXPECT_EQ(e.sum(std::string(names::backend_connect_failures_total), {{"backend", "b0"}}), 1);
  EXPECT_EQ(e.sum(std::string(names::backend_connect_failures_total), {{"backend", "b1"}}), 0);
}

TEST(MetricsExposition, UnknownReasonsCollapseToOther) {
  Fixture f;
  const auto before = f.scrape().samples.size();
  f.metrics.connection(Result::rejected, "some new reason from a client: /etc/passwd");
  f.metrics.connection(Result::backend_rejected, "9xx");
  const auto e = f.scrape();
  EXPECT_EQ(e.sum(std::string(names::connections_total), {{"result", "rejected"}, {"reason", "other"}}), 1);
  EXPECT_EQ(e.sum(std::string(names::connections_total), {{"result", "backend_rejected"}, {"reason", "other"}}), 1);
  EXPECT_EQ(e.samples.size(), before + 2);  // two "other" series, nothing else
  EXPECT_EQ(bounded_reason(Result::rejected, "timeout"), "timeout");
  EXPECT_EQ(bounded_reason(Result::spliced, "timeout"), "other");
}

TEST(PromTextParser, RejectsWhatAScraperWould) {
  EXPECT_NO_THROW(prom::parse("# HELP a_total x\n# TYPE a_total counter\na_total{l=\"q\\\"\\\\\\n\"} 1\n"));
  EXPECT_EQ(prom::parse("# TYPE a gauge\na{l=\"q\\\"\"} 2.5\n").samples.at(0).labels.at("l"), "q\"");
  EXPECT_THROW(prom::parse("a{l=\"unterminated} 1\n"), std::invalid_argument);
  EXPECT_THROW(prom::parse("a{l=1} 1\n"), std::invalid_argument);
  EXPECT_THROW(prom::parse("a 1x\n"), std::invalid_argument);
  EXPECT_THROW(prom::parse("a{l=\"1\",l=\"2\"} 1\n"), std::invalid_argument);
  EXPECT_THROW(prom::parse("# TYPE a counter\n# TYPE a counter\n"), std::invalid_argument);
  EXPECT_THROW(prom::parse("a 1\n# HELP a late\n"), std::invalid_argument);
  EXPECT_THROW(prom::parse("9a 1\n"), std::invalid_argument);
}

}  // namespace
}  // namespace wsteer::metrics
