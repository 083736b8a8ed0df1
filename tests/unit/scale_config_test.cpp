// A Service's `scaling:` block: off by default, every setting read, and bad input rejected with a
// message that names the entry, the key and what was expected.
#include "scaler/scale_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <string>

namespace wsteer::scaler {
namespace {

using namespace std::chrono_literals;

ScaleConfig parse(const std::string& yaml) {
  const auto doc = YAML::Load(yaml);
  return parse_scale_config(doc["scaling"], "services[0] (chat) scaling");
}

// The error message of parsing `yaml`, or "" when it parsed.
std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

const std::string minimal =
    "scaling:\n"
    "  target: {kind: Deployment, name: chat}\n"
    "  target-connections-per-pod: 1000\n"
    "  max-replicas: 20\n";

TEST(ScaleConfig, AbsentOrNullIsOff) {
  EXPECT_FALSE(parse("listen: 0.0.0.0:80\n").enabled);
  EXPECT_FALSE(parse("scaling:\n").enabled);
  EXPECT_FALSE(parse("scaling: ~\n").enabled);
}

TEST(ScaleConfig, MinimalBlockTakesTheDefaults) {
  const auto c = parse(minimal);
  ASSERT_TRUE(c.enabled);
  EXPECT_EQ(c.target.kind, TargetKind::deployment);
  EXPECT_EQ(c.target.name, "chat");
  EXPECT_EQ(c.policy.target_connections_per_pod, 1000u);
  EXPECT_EQ(c.policy.min_replicas, 1);
  EXPECT_EQ(c.policy.max_replicas, 20);
  EXPECT_EQ(c.policy.scale_up_max_pods, 4);
  EXPECT_EQ(c.policy.scale_up_max_percent, 100);
  EXPECT_EQ(c.policy.scale_down_window, 300s);
  EXPECT_EQ(c.policy.report_stale_after, 30s);
  EXPECT_DOUBLE_EQ(c.policy.tolerance, 0.1);
  EXPECT_EQ(c.target.scale_path("games"), "/apis/apps/v1/namespaces/games/deployments/chat/scale");
}

TEST(ScaleConfig, EverySettingIsRead) {
  const auto c = parse(
      "scaling:\n"
      "  target: {kind: StatefulSet, name: game-rooms}\n"
      "  target-connections-per-pod: 250\n"
      "  min-replicas: 3\n"
      "  max-replicas: 40\n"
      "  scale-up-step: {pods: 2, percent: 50}\n"
      "  scale-down-window: 10m\n"
      "  report-stale-after: 45s\n"
      "  tolerance: 0.05\n");
  ASSERT_TRUE(c.enabled);
  EXPECT_EQ(c.target.kind, TargetKind::statefulset);
  EXPECT_STREQ(c.target.kind_name(), "StatefulSet");
  EXPECT_EQ(c.target.scale_path("games"), "/apis/apps/v1/namespaces/games/statefulsets/game-rooms/scale");
  EXPECT_EQ(c.policy.target_connections_per_pod, 250u);
  EXPECT_EQ(c.policy.min_replicas, 3);
  EXPECT_EQ(c.policy.max_replicas, 40);
  EXPECT_EQ(c.policy.scale_up_max_pods, 2);
  EXPECT_EQ(c.policy.scale_up_max_percent, 50);
  EXPECT_EQ(c.policy.scale_down_window, 600s);
  EXPECT_EQ(c.policy.report_stale_after, 45s);
  EXPECT_DOUBLE_EQ(c.policy.tolerance, 0.05);
}

TEST(ScaleConfig, StepAsPodsOrPercent) {
  auto c = parse(minimal + "  scale-up-step: 3\n");
  EXPECT_EQ(c.policy.scale_up_max_pods, 3);
  EXPECT_EQ(c.policy.scale_up_max_percent, 0);
  c = parse(minimal + "  scale-up-step: 25%\n");
  EXPECT_EQ(c.policy.scale_up_max_pods, 0);
  EXPECT_EQ(c.policy.scale_up_max_percent, 25);
  c = parse(minimal + "  scale-up-step: 0\n");  // no limit
  EXPECT_EQ(c.policy.scale_up_max_pods, 0);
  EXPECT_EQ(c.policy.scale_up_max_percent, 0);
}

TEST(ScaleConfig, Durations) {
  EXPECT_EQ(parse_seconds("90"), 90s);
  EXPECT_EQ(parse_seconds("45s"), 45s);
  EXPECT_EQ(parse_seconds("5m"), 300s);
  EXPECT_EQ(parse_seconds("1h30m"), 5400s);
  EXPECT_EQ(parse_seconds("0s"), 0s);
  for (const auto* bad : {"", "s", "5x", "-5", "1m1h", "5 m", "1.5m"})
    EXPECT_THROW(parse_seconds(bad), std::invalid_argument) << bad;
}

TEST(ScaleConfig, EnabledFalseTurnsItOffDespiteTheRest) {
  EXPECT_FALSE(parse(minimal + "  enabled: false\n").enabled);
  EXPECT_FALSE(parse("scaling: {enabled: false}\n").enabled);
  EXPECT_TRUE(parse(minimal + "  enabled: true\n").enabled);
}

TEST(ScaleConfig, MissingRequiredKeysAreNamed) {
  EXPECT_EQ(error_of("scaling: {target-connections-per-pod: 10, max-replicas: 3}\n"),
            "services[0] (chat) scaling target: required: {kind: Deployment|StatefulSet, name: NAME}");
  EXPECT_EQ(error_of("scaling: {target: {kind: Deployment, name: a}, max-replicas: 3}\n"),
            "services[0] (chat) scaling target-connections-per-pod: required");
  EXPECT_EQ(error_of("scaling: {target: {kind: Deployment, name: a}, target-connections-per-pod: 10}\n"),
            "services[0] (chat) scaling max-replicas: required");
  EXPECT_EQ(error_of("scaling: {target: {name: a}, target-connections-per-pod: 10, max-replicas: 3}\n"),
            "services[0] (chat) scaling target.kind: required (Deployment or StatefulSet)");
}

TEST(ScaleConfig, BadValuesSayWhatIsExpected) {
  struct Case {
    std::string yaml, needle;
  };
  const Case cases[] = {
      {"scaling: [1, 2]\n", "scaling: expected a mapping"},
      {minimal + "  target-connections-per-pod: 0\n", "target-connections-per-pod: 0 is out of range"},
      {minimal + "  target-connections-per-pod: lots\n", "target-connections-per-pod: 'lots' is not a whole number"},
      {minimal + "  min-replicas: 0\n", "min-replicas: 0 is out of range"},
      {minimal + "  min-replicas: 30\n", "max-replicas: 20 is below min-replicas 30"},
      {minimal + "  max-replicas: 3000000000\n", "max-replicas: 3000000000 is out of range"},
      {minimal + "  scale-up-step: many\n", "scale-up-step: 'many' is neither a number of pods"},
      {minimal + "  scale-up-step: x%\n", "scale-up-step: 'x%' is not a percentage"},
      {minimal + "  scale-up-step: {pods: 2, ratio: 3}\n", "scale-up-step: unknown key 'ratio'"},
      {minimal + "  scale-down-window: soon\n", "scale-down-window: 'soon' is not a duration"},
      {minimal + "  report-stale-after: 0s\n", "report-stale-after: must be at least 1s"},
      {minimal + "  tolerance: 1.0\n", "tolerance: 1.0 is not in [0, 1)"},
      {minimal + "  tolerance: some\n", "tolerance: 'some' is not a number"},
      {minimal + "  enabled: maybe\n", "enabled: 'maybe' is not true or false"},
      {minimal + "  max-replica: 3\n", "unknown key 'max-replica'"},
      {minimal + "  min-replicas: [1]\n", "min-replicas: expected a single value"},
      {"scaling: {target: {kind: Pod, name: a}, target-connections-per-pod: 1, max-replicas: 1}\n",
       "target.kind: 'Pod' is not Deployment or StatefulSet"},
      {"scaling: {target: {kind: Deployment, name: Chat_1}, target-connections-per-pod: 1, max-replicas: 1}\n",
       "target.name: 'Chat_1' is not a valid Kubernetes object name"},
      {"scaling: {target: {kind: Deployment, name: a, namespace: b}, target-connections-per-pod: 1, max-replicas: 1}\n",
       "target: unknown key 'namespace'"},
      {"scaling: {target: chat, target-connections-per-pod: 1, max-replicas: 1}\n", "target: expected {kind:"},
  };
  for (const auto& c : cases) {
    const auto message = error_of(c.yaml);
    EXPECT_NE(message.find(c.needle), std::string::npos) << c.yaml << "\n  got: '" << message << "'";
    EXPECT_EQ(message.rfind("services[0] (chat) scaling", 0), 0u) << message;
  }
}

TEST(ScaleConfig, LeaseNamesAreDistinctPerTarget) {
  ScaleTarget chat{TargetKind::deployment, "b-c"};
  ScaleTarget other{TargetKind::deployment, "c"};
  EXPECT_EQ(chat.lease_name("a"), "wsteer-scaler.deployment.a.b-c");
  // "a" + "b-c" and "a-b" + "c" must not collide, nor a Deployment and a StatefulSet.
  EXPECT_NE(chat.lease_name("a"), other.lease_name("a-b"));
  EXPECT_NE(chat.lease_name("a"), (ScaleTarget{TargetKind::statefulset, "b-c"}.lease_name("a")));
  EXPECT_THROW((ScaleTarget{TargetKind::deployment, std::string(240, 'x')}.lease_name("ns")), std::invalid_argument);
}

}  // namespace
}  // namespace wsteer::scaler
