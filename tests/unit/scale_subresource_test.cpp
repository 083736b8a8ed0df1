// The scale subresource as the API server serves it, and the merge patch the scaler sends.
#include "scaler/scale_subresource.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <stdexcept>

namespace wsteer::scaler {
namespace {

namespace json = boost::json;

json::object scale(const char* text) { return json::parse(text).as_object(); }

TEST(ScaleSubresource, ReadsAScaleObject) {
  const auto s = read_scale(scale(R"({"apiVersion": "autoscaling/v1", "kind": "Scale",
      "metadata": {"name": "chat", "namespace": "games", "resourceVersion": "4711"},
      "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=chat"}})"));
  EXPECT_EQ(s.spec_replicas, 3);
  EXPECT_EQ(s.status_replicas, 2);
  EXPECT_EQ(s.selector, "app=chat");
  EXPECT_EQ(s.resource_version, "4711");
}

TEST(ScaleSubresource, AbsentReplicasMeanZero) {
  // autoscaling/v1 omits replicas: 0 (omitempty), in spec and in status.
  const auto s = read_scale(scale(R"({"kind": "Scale", "metadata": {"resourceVersion": "9"}, "spec": {}, "status": {}})"));
  EXPECT_EQ(s.spec_replicas, 0);
  EXPECT_EQ(s.status_replicas, 0);
}

TEST(ScaleSubresource, RejectsWhatIsNotAScale) {
  EXPECT_THROW(read_scale(scale(R"({"kind": "Deployment", "spec": {"replicas": 3}})")), std::invalid_argument);
  EXPECT_THROW(read_scale(scale(R"({"kind": "Scale", "spec": {"replicas": -1}})")), std::invalid_argument);
  EXPECT_THROW(read_scale(scale(R"({"kind": "Scale", "spec": {"replicas": "3"}})")), std::invalid_argument);
  EXPECT_THROW(read_scale(scale(R"({"kind": "Scale", "spec": {"replicas": 2.5}})")), std::invalid_argument);
  EXPECT_THROW(read_scale(scale(R"({"kind": "Scale", "spec": [3]})")), std::invalid_argument);
  try {
    read_scale(scale(R"({"kind": "Scale", "status": {"replicas": 4294967296}})"));
    ADD_FAILURE() << "accepted an out-of-range count";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("status.replicas"), std::string::npos) << e.what();
  }
}

TEST(ScaleSubresource, PatchSetsSpecReplicasWithAnOptionalPrecondition) {
  EXPECT_EQ(json::serialize(scale_patch(7)), R"({"spec":{"replicas":7}})");
  const auto guarded = scale_patch(0, "4711");
  EXPECT_EQ(guarded.at("spec").as_object().at("replicas").as_int64(), 0);
  EXPECT_EQ(guarded.at("metadata").as_object().at("resourceVersion").as_string(), "4711");
  EXPECT_THROW(scale_patch(-1), std::invalid_argument);
}

}  // namespace
}  // namespace wsteer::scaler
