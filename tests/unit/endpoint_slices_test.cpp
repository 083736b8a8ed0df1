// EndpointSliceCache: discovery.k8s.io/v1 EndpointSlices, as the API server sends them, turned
// into the endpoint list of one port.
#include "endpoints/endpoint_slices.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace wsteer::steering {
void PrintTo(const Endpoint& e, std::ostream* out) {
  *out << e.name << "=" << e.address.to_string() << ":" << e.port << (e.draining ? " drain" : "");
}
}  // namespace wsteer::steering

namespace wsteer::endpoints {
namespace {

namespace json = boost::json;
using steering::Endpoint;
using steering::EndpointList;

Endpoint endpoint(std::string name, const char* ip, std::uint16_t port, bool draining = false) {
  Endpoint e;
  e.name = std::move(name);
  e.address = boost::asio::ip::make_address(ip);
  e.port = port;
  e.draining = draining;
  return e;
}

// One endpoint of a slice: conditions left out when nullopt (the API's nil).
struct Ep {
  std::string address;
  std::string pod;  // targetRef.name; empty: no targetRef
  std::optional<bool> ready, serving, terminating;
};

Ep pod(std::string address, std::string name) { return {std::move(address), std::move(name), true, true, false}; }

json::object port(const std::string& name, std::int64_t number, const std::string& protocol = "TCP") {
  json::object p{{"port", number}, {"protocol", protocol}};
  if (!name.empty()) p["name"] = name;
  return p;
}

json::object slice(const std::string& name, const std::vector<Ep>& endpoints,
                   json::array ports = {port("web", 8080)}, const std::string& address_type = "IPv4",
                   const std::string& rv = "1") {
  json::array eps;
  for (const auto& e : endpoints) {
    json::object conditions;
    if (e.ready) conditions["ready"] = *e.ready;
    if (e.serving) conditions["serving"] = *e.serving;
    if (e.terminating) conditions["terminating"] = *e.terminating;
    json::object o{{"addresses", json::array{e.address}}, {"conditions", conditions}};
    if (!e.pod.empty()) o["targetRef"] = json::object{{"kind", "Pod"}, {"name", e.pod}, {"namespace", "default"}};
    eps.push_back(std::move(o));
  }
  return json::object{
      {"metadata",
       {{"name", name},
        {"namespace", "default"},
        {"resourceVersion", rv},
        {"labels", {{"kubernetes.io/service-name", "echo"}}}}},
      {"addressType", address_type},
      {"endpoints", eps},
      {"ports", ports},
  };
}

std::string problems_text(const EndpointSliceCache& cache) {
  std::string text;
  for (const auto& p : cache.problems()) text += p + "\n";
  return text;
}

// ---- conditions ---------------------------------------------------------------------------

struct ConditionCase {
  std::optional<bool> ready, serving, terminating;
  enum { active, draining, absent } expected;
};

std::ostream& operator<<(std::ostream& out, const ConditionCase& c) {
  const auto show = [](std::optional<bool> b) { return b ? (*b ? "true" : "false") : "nil"; };
  return out << "ready=" << show(c.ready) << " serving=" << show(c.serving) << " terminating=" << show(c.terminating);
}

class Conditions : public testing::TestWithParam<ConditionCase> {};

TEST_P(Conditions, MapToActiveDrainingOrLeftOut) {
  const auto& c = GetParam();
  EndpointSliceCache cache("web");
  cache.replace({slice("s1", {{"10.0.0.1", "p1", c.ready, c.serving, c.terminating}})});
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
  switch (c.expected) {
    case ConditionCase::active:
      EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});
      break;
    case ConditionCase::draining:
      EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080, true)});
      break;
    case ConditionCase::absent:
      EXPECT_TRUE(cache.endpoints().empty());
      break;
  }
}

// Every combination of true / false / nil for the three conditions (27 cases). Nil reads as
// ready=true, serving=true, terminating=false.
std::vector<ConditionCase> all_condition_cases() {
  const std::optional<bool> values[] = {true, false, std::nullopt};
  std::vector<ConditionCase> cases;
  for (auto r : values)
    for (auto s : values)
      for (auto t : values) {
        const bool ready = r.value_or(true), serving = s.value_or(true), terminating = t.value_or(false);
        const auto expected = ready                     ? ConditionCase::active
                              : serving && terminating ? ConditionCase::draining
                                                       : ConditionCase::absent;
        cases.push_back({r, s, t, expected});
      }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllCombinations, Conditions, testing::ValuesIn(all_condition_cases()));

// Spelled out, so the table above is not the only statement of the rule.
TEST(EndpointSliceCache, TerminatingPodThatStillServesDrainsAndOneThatStoppedServingLeaves) {
  EndpointSliceCache cache("web");
  cache.replace({slice("s1", {{"10.0.0.1", "up", true, true, false},
                              {"10.0.0.2", "leaving", false, true, true},
                              {"10.0.0.3", "gone", false, false, true},
                              {"10.0.0.4", "starting", false, false, false}})});
  EXPECT_EQ(cache.endpoints(), (EndpointList{endpoint("leaving", "10.0.0.2", 8080, true),
                                             endpoint("up", "10.0.0.1", 8080)}));
}

// ---- ports --------------------------------------------------------------------------------

TEST(EndpointSliceCache, PortByName) {
  EndpointSliceCache cache("web");
  cache.replace({slice("s1", {pod("10.0.0.1", "p1")}, {port("metrics", 9090), port("web", 8080)})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
}

TEST(EndpointSliceCache, PortByNumber) {
  EndpointSliceCache cache("9090");
  cache.replace({slice("s1", {pod("10.0.0.1", "p1")}, {port("metrics", 9090), port("web", 8080)})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 9090)});
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
}

TEST(EndpointSliceCache, EmptyPortTakesTheOnlyOneEvenUnnamed) {
  EndpointSliceCache cache;
  cache.replace({slice("s1", {pod("10.0.0.1", "p1")}, {port("", 8080)})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
}

TEST(EndpointSliceCache, EmptyPortWithSeveralIsAmbiguousAndNamesThem) {
  EndpointSliceCache cache;
  cache.replace({slice("s1", {pod("10.0.0.1", "p1")}, {port("web", 8080), port("metrics", 9090)})});
  EXPECT_TRUE(cache.endpoints().empty());
  ASSERT_EQ(cache.problems().size(), 1u);
  EXPECT_NE(cache.problems()[0].find("ambiguous port, name one of"), std::string::npos) << cache.problems()[0];
  EXPECT_NE(cache.problems()[0].find("web"), std::string::npos) << cache.problems()[0];
  EXPECT_NE(cache.problems()[0].find("metrics"), std::string::npos) << cache.problems()[0];
}

TEST(EndpointSliceCache, UdpPortsDoNotCountAndCannotBeChosen) {
  EndpointSliceCache only;
  only.replace({slice("s1", {pod("10.0.0.1", "p1")}, {port("dns", 53, "UDP"), port("web", 8080)})});
  EXPECT_EQ(only.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});

  EndpointSliceCache udp("dns");
  udp.replace({slice("s1", {pod("10.0.0.1", "p1")}, {port("dns", 53, "UDP"), port("web", 8080)})});
  EXPECT_TRUE(udp.endpoints().empty());
  EXPECT_EQ(udp.problems().size(), 1u);
}

TEST(EndpointSliceCache, SliceWithoutThePortContributesNothingAndSaysWhy) {
  EndpointSliceCache cache("web");
  cache.replace({slice("good", {pod("10.0.0.1", "p1")}),
                 slice("other", {pod("10.0.0.2", "p2")}, {port("grpc", 9000)})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});
  ASSERT_EQ(cache.problems().size(), 1u);
  EXPECT_NE(cache.problems()[0].find("other"), std::string::npos) << cache.problems()[0];
  EXPECT_NE(cache.problems()[0].find("\"web\""), std::string::npos) << cache.problems()[0];
  EXPECT_NE(cache.problems()[0].find("grpc"), std::string::npos) << cache.problems()[0];

  // Fixed: the problem goes away.
  cache.upsert(slice("other", {pod("10.0.0.2", "p2")}, {port("web", 8080)}, "IPv4", "2"));
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
  EXPECT_EQ(cache.endpoints().size(), 2u);
}

TEST(EndpointSliceCache, EmptyPlaceholderSliceIsNoProblem) {
  // The controller keeps an empty slice with no ports for a Service without ready pods.
  EndpointSliceCache cache("web");
  cache.replace({slice("s1", {}, json::array{})});
  EXPECT_TRUE(cache.endpoints().empty());
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
}

// ---- address types and names --------------------------------------------------------------

TEST(EndpointSliceCache, Ipv6SliceAndNamesWithoutTargetRef) {
  EndpointSliceCache cache("web");
  cache.replace({slice("v6", {pod("fd00::1", "p1"), {"fd00::2", "", true, true, false}}, {port("web", 8080)}, "IPv6"),
                 slice("v4", {{"10.0.0.9", "", true, true, false}})});
  EXPECT_EQ(cache.endpoints(), (EndpointList{endpoint("10.0.0.9:8080", "10.0.0.9", 8080),
                                             endpoint("[fd00::2]:8080", "fd00::2", 8080),
                                             endpoint("p1", "fd00::1", 8080)}));
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
}

TEST(EndpointSliceCache, FqdnSliceIsSkippedAndCounted) {
  EndpointSliceCache cache("web");
  cache.replace({slice("names", {{"db.example.com", "", true, true, false}}, {port("web", 8080)}, "FQDN"),
                 slice("ips", {pod("10.0.0.1", "p1")})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});
  ASSERT_EQ(cache.problems().size(), 1u);
  EXPECT_NE(cache.problems()[0].find("FQDN"), std::string::npos) << cache.problems()[0];
}

TEST(EndpointSliceCache, UnparsableAddressIsSkippedAndCounted) {
  EndpointSliceCache cache("web");
  cache.replace({slice("s1", {pod("10.0.0.1", "p1"), pod("10.0.0.300", "p2")})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});
  ASSERT_EQ(cache.problems().size(), 1u);
  EXPECT_NE(cache.problems()[0].find("10.0.0.300"), std::string::npos) << cache.problems()[0];
}

TEST(EndpointSliceCache, DualStackPodAppearsOnceWithItsIpv4Address) {
  EndpointSliceCache cache("web");
  // The IPv6 slice sorts first by name, so the IPv4 preference is not an accident of order.
  cache.replace({slice("a-v6", {pod("fd00::1", "p1"), pod("fd00::2", "p2")}, {port("web", 8080)}, "IPv6"),
                 slice("b-v4", {pod("10.0.0.1", "p1"), pod("10.0.0.2", "p2")})});
  EXPECT_EQ(cache.endpoints(), (EndpointList{endpoint("p1", "10.0.0.1", 8080), endpoint("p2", "10.0.0.2", 8080)}));
}

TEST(EndpointSliceCache, DuplicateAddressAcrossSlicesAppearsOnceAndReadyWins) {
  EndpointSliceCache cache("web");
  // The controller moves p1 from s1 to s2: for a moment it is in both, draining in one.
  cache.replace({slice("s1", {{"10.0.0.1", "p1", false, true, true}}), slice("s2", {pod("10.0.0.1", "p1")})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});

  // A new pod got the address of a pod still terminating: one entry, the ready one.
  cache.replace({slice("s1", {{"10.0.0.1", "old", false, true, true}}), slice("s2", {pod("10.0.0.1", "new")})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("new", "10.0.0.1", 8080)});
  cache.replace({slice("s1", {pod("10.0.0.1", "new")}), slice("s2", {{"10.0.0.1", "old", false, true, true}})});
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("new", "10.0.0.1", 8080)});
}

// ---- events -------------------------------------------------------------------------------

TEST(EndpointSliceCache, UpsertAddsModifiesAndRepeatsChangeNothing) {
  EndpointSliceCache cache("web");
  EXPECT_FALSE(cache.replace({}));
  EXPECT_TRUE(cache.upsert(slice("s1", {pod("10.0.0.1", "p1")}, {port("web", 8080)}, "IPv4", "5")));
  EXPECT_EQ(cache.slices(), 1u);
  // The same resourceVersion again (a replayed event) is ignored even if the body differs.
  EXPECT_FALSE(cache.upsert(slice("s1", {pod("10.0.0.1", "p1"), pod("10.0.0.2", "p2")}, {port("web", 8080)}, "IPv4", "5")));
  EXPECT_EQ(cache.endpoints().size(), 1u);
  EXPECT_TRUE(cache.upsert(slice("s1", {pod("10.0.0.1", "p1"), pod("10.0.0.2", "p2")}, {port("web", 8080)}, "IPv4", "6")));
  EXPECT_EQ(cache.endpoints().size(), 2u);
  // A new resourceVersion that means the same endpoints (a label changed) is no change.
  EXPECT_FALSE(cache.upsert(slice("s1", {pod("10.0.0.1", "p1"), pod("10.0.0.2", "p2")}, {port("web", 8080)}, "IPv4", "7")));
  // Another slice.
  EXPECT_TRUE(cache.upsert(slice("s2", {pod("10.0.0.3", "p3")}, {port("web", 8080)}, "IPv4", "8")));
  EXPECT_EQ(cache.slices(), 2u);
  EXPECT_EQ(cache.endpoints(), (EndpointList{endpoint("p1", "10.0.0.1", 8080), endpoint("p2", "10.0.0.2", 8080),
                                             endpoint("p3", "10.0.0.3", 8080)}));
}

TEST(EndpointSliceCache, DeletedEventErasesTheSlice) {
  EndpointSliceCache cache("web");
  cache.replace({slice("s1", {pod("10.0.0.1", "p1")}), slice("s2", {pod("10.0.0.2", "p2")})});
  EXPECT_TRUE(cache.erase(slice("s1", {pod("10.0.0.1", "p1")}, {port("web", 8080)}, "IPv4", "9")));
  EXPECT_EQ(cache.slices(), 1u);
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p2", "10.0.0.2", 8080)});
  // Deleting what is not there (a replayed DELETED) changes nothing.
  EXPECT_FALSE(cache.erase(slice("s1", {})));
  // A slice whose endpoints are all in another slice too: gone, but the list is the same.
  cache.replace({slice("s1", {pod("10.0.0.1", "p1")}), slice("s2", {pod("10.0.0.1", "p1")})});
  EXPECT_FALSE(cache.erase(slice("s2", {})));
  EXPECT_EQ(cache.endpoints(), EndpointList{endpoint("p1", "10.0.0.1", 8080)});
}

TEST(EndpointSliceCache, ReplaceReportsOnlyARealChange) {
  EndpointSliceCache cache("web");
  const std::vector<json::object> list = {slice("s1", {pod("10.0.0.1", "p1")}), slice("s2", {pod("10.0.0.2", "p2")})};
  EXPECT_TRUE(cache.replace(list));
  EXPECT_FALSE(cache.replace(list));
  // Same endpoints, regrouped into other slices with other resourceVersions (a relist after 410).
  EXPECT_FALSE(cache.replace({slice("s3", {pod("10.0.0.2", "p2"), pod("10.0.0.1", "p1")}, {port("web", 8080)}, "IPv4", "40")}));
  EXPECT_EQ(cache.slices(), 1u);
  // A draining flag flips: a change.
  EXPECT_TRUE(cache.replace({slice("s3", {pod("10.0.0.2", "p2"), {"10.0.0.1", "p1", false, true, true}})}));
  EXPECT_EQ(cache.endpoints(), (EndpointList{endpoint("p1", "10.0.0.1", 8080, true), endpoint("p2", "10.0.0.2", 8080)}));
  // Everything gone.
  EXPECT_TRUE(cache.replace({}));
  EXPECT_TRUE(cache.endpoints().empty());
  EXPECT_EQ(cache.slices(), 0u);
}

TEST(EndpointSliceCache, ProblemsAreRecomputedOnEveryChange) {
  EndpointSliceCache cache("web");
  cache.replace({slice("names", {{"a.example.com", "", true, true, false}}, {port("web", 8080)}, "FQDN")});
  EXPECT_EQ(cache.problems().size(), 1u);
  cache.erase(slice("names", {}));
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
}

TEST(EndpointSliceCache, ThousandEndpointsInTenSlices) {
  std::vector<json::object> list;
  for (int s = 0; s < 10; ++s) {
    std::vector<Ep> eps;
    for (int i = 0; i < 100; ++i) {
      const int n = s * 100 + i;
      eps.push_back(pod("10.1." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 1), "pod-" + std::to_string(n)));
    }
    list.push_back(slice("echo-" + std::to_string(s), eps));
  }
  EndpointSliceCache cache("web");
  EXPECT_TRUE(cache.replace(list));
  ASSERT_EQ(cache.endpoints().size(), 1000u);
  EXPECT_EQ(cache.slices(), 10u);
  EXPECT_TRUE(std::is_sorted(cache.endpoints().begin(), cache.endpoints().end(),
                             [](const Endpoint& a, const Endpoint& b) { return a.name < b.name; }));
  EXPECT_EQ(cache.endpoints().front(), endpoint("pod-0", "10.1.0.1", 8080));

  // One pod of one slice starts terminating: one event, one changed entry.
  auto eps = std::vector<Ep>{};
  for (int i = 0; i < 100; ++i) eps.push_back(pod("10.1." + std::to_string((300 + i) / 250) + "." + std::to_string((300 + i) % 250 + 1), "pod-" + std::to_string(300 + i)));
  eps[0].ready = false;
  eps[0].terminating = true;
  EXPECT_TRUE(cache.upsert(slice("echo-3", eps, {port("web", 8080)}, "IPv4", "2")));
  ASSERT_EQ(cache.endpoints().size(), 1000u);
  std::size_t draining = 0;
  for (const auto& e : cache.endpoints()) draining += e.draining;
  EXPECT_EQ(draining, 1u);
}

// What the API server really sends (list items without apiVersion/kind, extra fields).
TEST(EndpointSliceCache, ParsesARealApiServerSlice) {
  const auto real = json::parse(R"({
    "metadata": {"name": "echo-7xk2p", "generateName": "echo-", "namespace": "default",
                 "uid": "0c1b", "resourceVersion": "81234", "generation": 3,
                 "labels": {"kubernetes.io/service-name": "echo",
                            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
    "addressType": "IPv4",
    "endpoints": [
      {"addresses": ["10.244.1.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
       "nodeName": "node-a", "zone": "z1",
       "targetRef": {"kind": "Pod", "namespace": "default", "name": "echo-6d4cf56db6-2x9lq", "uid": "9f"}},
      {"addresses": ["10.244.2.7"], "conditions": {"ready": false, "serving": true, "terminating": true},
       "nodeName": "node-b",
       "targetRef": {"kind": "Pod", "namespace": "default", "name": "echo-6d4cf56db6-hh7cv", "uid": "a0"}},
      {"addresses": ["10.244.2.8"], "conditions": {},
       "targetRef": {"kind": "Pod", "namespace": "default", "name": "echo-6d4cf56db6-zz1aa"}}
    ],
    "ports": [{"name": "ws", "port": 8080, "protocol": "TCP"}]
  })").as_object();
  EndpointSliceCache cache;
  EXPECT_TRUE(cache.replace({real}));
  EXPECT_EQ(cache.endpoints(), (EndpointList{endpoint("echo-6d4cf56db6-2x9lq", "10.244.1.5", 8080),
                                             endpoint("echo-6d4cf56db6-hh7cv", "10.244.2.7", 8080, true),
                                             endpoint("echo-6d4cf56db6-zz1aa", "10.244.2.8", 8080)}));
  EXPECT_TRUE(cache.problems().empty()) << problems_text(cache);
}

}  // namespace
}  // namespace wsteer::endpoints
