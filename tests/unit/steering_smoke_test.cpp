// make_steering end to end: the path the proxy takes on every Upgrade request.
#include "steering/steering.h"
#include "steering/steering_config.h"

#include <gtest/gtest.h>

#include <set>

namespace wsteer::steering {
namespace {

Request upgrade(std::string target, std::string websocket_key) {
  Request r{boost::beast::http::verb::get, target, 11};
  r.set(boost::beast::http::field::sec_websocket_key, websocket_key);
  return r;
}

EndpointList three_pods() {
  EndpointList list;
  for (int i = 0; i < 3; ++i)
    list.push_back({"pod-" + std::to_string(i), boost::asio::ip::make_address("10.0.0." + std::to_string(i + 1)),
                    8080, 1, false, 0});
  return list;
}

TEST(SteeringSmoke, ChoosesDistinctCandidatesAndSpreadsWebSocketKeys) {
  auto steering = make_steering(SteeringConfig{});
  steering->update_endpoints(three_pods());
  EXPECT_EQ(steering->endpoints_version(), 1u);
  EXPECT_EQ(steering->maglev_table()->size(), 65537u);

  std::set<std::string> landed;
  for (int i = 0; i < 100; ++i) {
    const auto choice = steering->choose(upgrade("/ws", "key-" + std::to_string(i)), {}, 3);
    ASSERT_EQ(choice.result, Choice::Result::ok);
    ASSERT_EQ(choice.candidates.size(), 3u);
    EXPECT_EQ(choice.key_source, "sec-websocket-key");
    std::set<std::uint32_t> ids;
    for (const auto& c : choice.candidates) ids.insert(c.id);
    EXPECT_EQ(ids.size(), 3u);
    landed.insert(choice.candidates.front().name);
  }
  EXPECT_EQ(landed.size(), 3u);
}

TEST(SteeringSmoke, NoEndpointsMeansNoBackends) {
  auto steering = make_steering(SteeringConfig{});
  EXPECT_EQ(steering->choose(upgrade("/", "k"), {}, 3).result, Choice::Result::no_backends);
}

}  // namespace
}  // namespace wsteer::steering
