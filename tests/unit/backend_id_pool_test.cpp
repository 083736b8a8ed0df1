// Two Services of one agent share the node-wide backend ids: their backends never get the same id
// (ids index the BPF per-backend maps), and an id comes back to the pool when its backend is gone.
#include "steering/backend_id_pool.h"
#include "steering/maglev_steering.h"

#include <gtest/gtest.h>

#include <set>

namespace wsteer::steering {
namespace {

EndpointList pods(const std::string& prefix, int n) {
  EndpointList list;
  for (int i = 0; i < n; ++i)
    list.push_back({prefix + std::to_string(i), boost::asio::ip::make_address("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)), 9000});
  return list;
}

std::set<std::uint32_t> ids_of(const Steering& s) {
  std::set<std::uint32_t> ids;
  for (const auto& b : s.snapshot()) ids.insert(b.backend.id);
  return ids;
}

TEST(BackendIdPool, ServicesOfOneAgentNeverShareAnId) {
  auto pool = std::make_shared<BackendIdPool>();
  auto chat = make_steering(SteeringConfig{}, pool);
  auto games = make_steering(SteeringConfig{}, pool);
  chat->update_endpoints(pods("chat-", 5));
  games->update_endpoints(pods("game-", 5));
  // The same pod name in both Services is two backends with two ids.
  chat->update_endpoints(pods("chat-", 6));
  games->update_endpoints(pods("chat-", 3));
  const auto a = ids_of(*chat);
  const auto b = ids_of(*games);
  EXPECT_EQ(a.size(), 6u);
  EXPECT_EQ(b.size(), 3u);
  for (auto id : a) EXPECT_FALSE(b.contains(id)) << "id " << id << " in both services";
}

TEST(BackendIdPool, FreedIdsReturnAndThePoolCanFill) {
  auto pool = std::make_shared<BackendIdPool>();
  auto first = make_steering(SteeringConfig{}, pool);
  auto second = make_steering(SteeringConfig{}, pool);
  first->update_endpoints(pods("a", 600));
  second->update_endpoints(pods("b", 424));  // 1024 in all: every id taken
  EXPECT_EQ(ids_of(*second).size(), 424u);
  auto third = make_steering(SteeringConfig{}, pool);
  third->update_endpoints(pods("c", 1));
  EXPECT_TRUE(third->snapshot().empty()) << "no id left";
  first->update_endpoints({});  // idle backends are freed at once
  third->update_endpoints(pods("c", 2));
  EXPECT_EQ(ids_of(*third).size(), 2u);
}

}  // namespace
}  // namespace wsteer::steering
