// The owners of a connection's counts (proxy/connection_counts.h): each count is taken once and
// given back exactly once, by whoever holds the owner last, however often it is moved.
#include "proxy/connection_counts.h"
#include "steering/steering_config.h"

#include <boost/asio/ip/address.hpp>
#include <gtest/gtest.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <optional>
#include <vector>

namespace wsteer::proxy {
namespace {

std::uint64_t active_on(const steering::Steering& s, std::uint32_t id) {
  for (const auto& b : s.snapshot())
    if (b.backend.id == id) return b.active_connections;
  return ~0ULL;
}

TEST(ConnectionCounts, ABackendLeaseCountsOnceWhereverItEnds) {
  auto s = steering::make_steering(steering::SteeringConfig{});
  s->update_endpoints({{"pod-0", boost::asio::ip::make_address("10.0.0.1"), 8080}});
  const auto id = s->snapshot().at(0).backend.id;
  {
    BackendLease lease(*s, id);
    EXPECT_EQ(active_on(*s, id), 1u);
    BackendLease moved(std::move(lease));  // handed to a flow: still one
    EXPECT_EQ(active_on(*s, id), 1u);
    EXPECT_EQ(moved.backend_id(), id);
    EXPECT_EQ(moved.steering(), s.get());
    EXPECT_EQ(lease.steering(), nullptr);
    std::vector<BackendLease> owners;
    owners.push_back(std::move(moved));
    owners.emplace_back(*s, id);
    EXPECT_EQ(active_on(*s, id), 2u);
    owners.erase(owners.begin());  // one flow ends
    EXPECT_EQ(active_on(*s, id), 1u);
  }
  EXPECT_EQ(active_on(*s, id), 0u);
}

TEST(ConnectionCounts, TheActiveGaugeComesBackToZero) {
  prometheus::Registry registry;
  auto& gauge = prometheus::BuildGauge().Name("g").Register(registry).Add({});
  {
    ActiveConnection a(gauge);
    std::optional<ActiveConnection> flow;
    flow.emplace(std::move(a));
    EXPECT_EQ(gauge.Value(), 1);
    ActiveConnection b(gauge);
    EXPECT_EQ(gauge.Value(), 2);
    b = std::move(*flow);  // the one b held is given back, the moved one carries on
    EXPECT_EQ(gauge.Value(), 1);
  }
  EXPECT_EQ(gauge.Value(), 0);
}

}  // namespace
}  // namespace wsteer::proxy
