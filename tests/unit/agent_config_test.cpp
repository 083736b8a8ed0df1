// The agent's settings: YAML file and flags with the same names, flags winning; bad input is a
// clear message and exit code 2.
#include "app/agent_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace wsteer::app {
namespace {

class AgentConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("wsteer-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  static AgentConfig parse(std::vector<std::string> args) {
    args.insert(args.begin(), "wsteer-agent");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parse_agent_config(static_cast<int>(argv.size()), argv.data());
  }
  std::filesystem::path dir_;
};

TEST_F(AgentConfigTest, YamlProvidesSettingsAndFlagsWin) {
  const auto yaml = write("wsteer.yaml",
                          "listen: 10.0.0.1:8080\n"
                          "endpoints-file: /etc/wsteer/endpoints\n"
                          "metrics-listen: 127.0.0.1:9090\n"
                          "datapath: userspace\n"
                          "hash-key: [query:room, sec-websocket-key]\n"
                          "maglev-size: 131071\n");
  const auto c = parse({"--config", yaml, "--listen", "[::1]:9000", "--datapath", "splice"});
  EXPECT_EQ(c.services.at(0).listen.address().to_string(), "::1");  // flag wins
  EXPECT_EQ(c.services.at(0).listen.port(), 9000);
  EXPECT_EQ(c.proxy.datapath, proxy::DatapathMode::splice);  // flag wins
  EXPECT_EQ(c.services.at(0).endpoints_file, "/etc/wsteer/endpoints");   // from the file
  ASSERT_TRUE(c.metrics_listen);
  EXPECT_EQ(c.metrics_listen->port(), 9090);
  EXPECT_EQ(c.steering.hash_key, (std::vector<std::string>{"query:room", "sec-websocket-key"}));
  EXPECT_EQ(c.steering.maglev_size, 131071u);
  EXPECT_EQ(c.bpffs, "/sys/fs/bpf/wsteer");  // default
}

TEST_F(AgentConfigTest, FlagsAloneAreEnough) {
  const auto c = parse({"--listen", "0.0.0.0:8080", "--endpoints-file", "/tmp/e", "--hash-key", "header:x-tenant"});
  EXPECT_EQ(c.services.at(0).listen.port(), 8080);
  EXPECT_FALSE(c.metrics_listen);
  EXPECT_EQ(c.steering.hash_key, std::vector<std::string>{"header:x-tenant"});
}

TEST_F(AgentConfigTest, ServiceFlagsNameKubernetesServicesWithTheirListenAddresses) {
  const auto c = parse({"--service", "chat/chat-ws:ws=0.0.0.0:8080", "--service", "games/lobby:9000=[::]:8081",
                        "--kubeconfig", "/etc/kube"});
  ASSERT_EQ(c.services.size(), 2u);
  ASSERT_TRUE(c.services[0].kubernetes);
  EXPECT_EQ(c.services[0].name, "chat/chat-ws");
  EXPECT_EQ(c.services[0].kubernetes->ns, "chat");
  EXPECT_EQ(c.services[0].kubernetes->name, "chat-ws");
  EXPECT_EQ(c.services[0].kubernetes->port, "ws");
  EXPECT_EQ(c.services[0].listen.port(), 8080);
  EXPECT_EQ(c.services[1].kubernetes->port, "9000");
  EXPECT_TRUE(c.services[1].listen.address().is_v6());
  EXPECT_EQ(c.kubeconfig, "/etc/kube");
  // One service may take its address from --listen.
  const auto one = parse({"--service", "default/echo", "--listen", "10.0.0.1:80"});
  ASSERT_EQ(one.services.size(), 1u);
  EXPECT_EQ(one.services[0].listen.port(), 80);
  EXPECT_EQ(one.services[0].kubernetes->port, "");
}

TEST_F(AgentConfigTest, YamlServicesMixKubernetesAndFileServices) {
  const auto yaml = write("services.yaml",
                          "hash-key: sec-websocket-key\n"
                          "services:\n"
                          "  - service: chat/chat-ws\n"
                          "    port: ws\n"
                          "    listen: 0.0.0.0:8080\n"
                          "    hash-key: [query:room]\n"
                          "  - name: static\n"
                          "    endpoints-file: /etc/wsteer/endpoints\n"
                          "    listen: 0.0.0.0:8081\n");
  const auto c = parse({"--config", yaml});
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].name, "chat/chat-ws");
  EXPECT_EQ(c.services[0].hash_key, std::vector<std::string>{"query:room"});
  EXPECT_FALSE(c.services[1].kubernetes);
  EXPECT_EQ(c.services[1].name, "static");
  EXPECT_EQ(c.services[1].endpoints_file, "/etc/wsteer/endpoints");
  EXPECT_TRUE(c.services[1].hash_key.empty()) << "empty: the agent's hash-key";
  // The classic flags make one file service named "default".
  const auto classic = parse({"--listen", "0.0.0.0:1", "--endpoints-file", "/e"});
  ASSERT_EQ(classic.services.size(), 1u);
  EXPECT_EQ(classic.services[0].name, "default");
}

TEST_F(AgentConfigTest, KubeWatchTimeoutAndCheckConfig) {
  const auto yaml = write("kube.yaml",
                          "kubeconfig: /etc/kube\n"
                          "kube-watch-timeout: 60\n"
                          "services:\n"
                          "  - service: chat/chat-ws\n"
                          "    listen: 0.0.0.0:8080\n");
  const auto c = parse({"--config", yaml});
  EXPECT_EQ(c.kube_watch_timeout, std::chrono::seconds(60));
  EXPECT_FALSE(c.check_only);
  EXPECT_EQ(parse({"--config", yaml, "--kube-watch-timeout", "5"}).kube_watch_timeout, std::chrono::seconds(5));
  EXPECT_TRUE(parse({"--config", yaml, "--check-config"}).check_only);
  EXPECT_EQ(parse({"--service", "a/b=0.0.0.0:1"}).kube_watch_timeout, std::chrono::seconds(290));  // default
}

TEST_F(AgentConfigTest, RebalanceIsOffByDefaultAndTakesFlagsOrYaml) {
  const auto off = parse({"--listen", "0.0.0.0:8080", "--endpoints-file", "/tmp/e"});
  EXPECT_EQ(off.rebalance.above, 0);
  EXPECT_EQ(off.rebalance.rate, 10u);
  EXPECT_EQ(off.rebalance.min_age, std::chrono::seconds(60));
  EXPECT_EQ(off.rebalance.close_timeout, std::chrono::seconds(5));
  const auto yaml = write("rebalance.yaml",
                          "listen: 10.0.0.1:8080\nendpoints-file: /e\n"
                          "rebalance-above: 1.2\nrebalance-rate: 25\nrebalance-min-age: 5m\n"
                          "rebalance-close-timeout: 1500ms\n");
  const auto c = parse({"--config", yaml, "--rebalance-rate", "7"});
  EXPECT_DOUBLE_EQ(c.rebalance.above, 1.2);
  EXPECT_EQ(c.rebalance.rate, 7u);  // flag wins
  EXPECT_EQ(c.rebalance.min_age, std::chrono::minutes(5));
  EXPECT_EQ(c.rebalance.close_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(parse({"--config", yaml, "--rebalance-close-timeout", "30"}).rebalance.close_timeout, std::chrono::seconds(30));
  EXPECT_EQ(parse({"--listen", "0.0.0.0:8080", "--endpoints-file", "/e", "--rebalance-min-age", "90"}).rebalance.min_age,
            std::chrono::seconds(90));
  EXPECT_EQ(parse_duration("500ms", "x"), std::chrono::milliseconds(500));
  EXPECT_EQ(parse_duration("30s", "x"), std::chrono::seconds(30));
  EXPECT_EQ(parse_duration("1h", "x"), std::chrono::hours(1));
  // What the chart's duration type allows renders unchanged: compound durations, largest unit first.
  EXPECT_EQ(parse_duration("1h30m", "x"), std::chrono::minutes(90));
  EXPECT_EQ(parse_duration("2m5s", "x"), std::chrono::seconds(125));
  EXPECT_EQ(parse_duration("1s500ms", "x"), std::chrono::milliseconds(1500));
  EXPECT_EQ(parse_duration("1.5", "x"), std::chrono::milliseconds(1500));
  EXPECT_THROW(parse_duration("30s1m", "x"), std::invalid_argument);  // out of order
  EXPECT_THROW(parse_duration("1m30", "x"), std::invalid_argument);   // a part without its unit
  EXPECT_THROW(parse_duration("1m1m", "x"), std::invalid_argument);
  EXPECT_THROW(parse_duration("inf", "x"), std::invalid_argument);
  EXPECT_THROW(parse_duration("nan", "x"), std::invalid_argument);
  EXPECT_THROW(parse_duration("1e300", "x"), std::invalid_argument);
  EXPECT_THROW(parse_duration("", "x"), std::invalid_argument);
}

using AgentConfigDeathTest = AgentConfigTest;

TEST_F(AgentConfigDeathTest, BadRebalanceSettingsExitWithAClearMessage) {
  const std::vector<std::string> base{"--listen", "1.2.3.4:80", "--endpoints-file", "/tmp/e"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  EXPECT_EXIT(parse(with({"--rebalance-above", "0.9"})), ::testing::ExitedWithCode(2),
              "rebalance-above must be 0 \\(off\\) or greater than 1.0");
  EXPECT_EXIT(parse(with({"--rebalance-above", "1"})), ::testing::ExitedWithCode(2), "greater than 1.0");
  EXPECT_EXIT(parse(with({"--rebalance-rate", "0"})), ::testing::ExitedWithCode(2), "at least 1 flow per second");
  EXPECT_EXIT(parse(with({"--rebalance-min-age", "5 days"})), ::testing::ExitedWithCode(2), "unknown unit");
  EXPECT_EXIT(parse(with({"--rebalance-min-age", "soon"})), ::testing::ExitedWithCode(2), "expected a duration");
  EXPECT_EXIT(parse(with({"--rebalance-min-age=-5s"})), ::testing::ExitedWithCode(2), "must not be negative");
  EXPECT_EXIT(parse(with({"--rebalance-close-timeout", "50ms"})), ::testing::ExitedWithCode(2),
              "rebalance-close-timeout must be between 100ms and 10m, not '50ms'");
  EXPECT_EXIT(parse(with({"--rebalance-close-timeout", "1h"})), ::testing::ExitedWithCode(2), "between 100ms and 10m");
  EXPECT_EXIT(parse(with({"--rebalance-close-timeout", "later"})), ::testing::ExitedWithCode(2), "expected a duration");
  EXPECT_EXIT(parse(with({"--rebalance-above", "1.2", "--datapath", "userspace"})), ::testing::ExitedWithCode(2),
              "needs --datapath splice");
}

TEST_F(AgentConfigDeathTest, BadServicesExitWithAClearMessage) {
  EXPECT_EXIT(parse({"--service", "chat=0.0.0.0:80"}), ::testing::ExitedWithCode(2), "no namespace");
  EXPECT_EXIT(parse({"--service", "Chat/x=0.0.0.0:80"}), ::testing::ExitedWithCode(2), "DNS-1123");
  EXPECT_EXIT(parse({"--service", "a/b=0.0.0.0:80", "--kube-watch-timeout", "0"}), ::testing::ExitedWithCode(2),
              "kube-watch-timeout must be >= 1 second");
  EXPECT_EXIT(parse({"--service", "a/b:99999=0.0.0.0:80"}), ::testing::ExitedWithCode(2), "port '99999'");
  EXPECT_EXIT(parse({"--service", "a/b"}), ::testing::ExitedWithCode(2), "no listen address");
  EXPECT_EXIT(parse({"--service", "a/b=0.0.0.0:80", "--service", "a/c=0.0.0.0:80"}), ::testing::ExitedWithCode(2),
              "share the listen address");
  EXPECT_EXIT(parse({"--service", "a/b=0.0.0.0:80", "--service", "a/b=0.0.0.0:81"}), ::testing::ExitedWithCode(2),
              "configured twice");
  EXPECT_EXIT(parse({"--service", "a/b=0.0.0.0:80", "--endpoints-file", "/e"}), ::testing::ExitedWithCode(2),
              "--endpoints-file goes with --listen");
  const auto both = write("both.yaml", "services:\n  - service: a/b\n    endpoints-file: /e\n    listen: 0.0.0.0:1\n");
  EXPECT_EXIT(parse({"--config", both}), ::testing::ExitedWithCode(2), "either 'service");
  const auto typo = write("typo2.yaml", "services:\n  - service: a/b\n    lisen: 0.0.0.0:1\n");
  EXPECT_EXIT(parse({"--config", typo}), ::testing::ExitedWithCode(2), "unknown key 'lisen'");
}

TEST_F(AgentConfigDeathTest, BadInputExitsWithAClearMessage) {
  EXPECT_EXIT(parse({"--endpoints-file", "/tmp/e"}), ::testing::ExitedWithCode(2), "--listen HOST:PORT is required");
  EXPECT_EXIT(parse({"--listen", "example.com:80", "--endpoints-file", "/tmp/e"}), ::testing::ExitedWithCode(2),
              "not an IP address");
  EXPECT_EXIT(parse({"--listen", "1.2.3.4:80", "--endpoints-file", "/tmp/e", "--datapath", "fast"}),
              ::testing::ExitedWithCode(2), "splice or userspace");
  EXPECT_EXIT(parse({"--listen", "1.2.3.4:80", "--endpoints-file", "/tmp/e", "--maglev-size", "65536"}),
              ::testing::ExitedWithCode(2), "prime");
  const auto typo = write("typo.yaml", "listen: 1.2.3.4:80\nendpoint-file: /tmp/e\n");
  EXPECT_EXIT(parse({"--config", typo}), ::testing::ExitedWithCode(2), "unknown key 'endpoint-file'");
}


// The scaler's settings (docs/scaling.md): a services entry's scaling: block, and the agent-wide
// identity, Lease namespace and agent discovery it needs.
constexpr const char* kScaledService = "services:\n"
                                       "  - service: games/chat\n"
                                       "    port: ws\n"
                                       "    listen: 0.0.0.0:8080\n"
                                       "    scaling:\n"
                                       "      target: {kind: Deployment, name: chat}\n"
                                       "      target-connections-per-pod: 1000\n"
                                       "      max-replicas: 20\n";

TEST_F(AgentConfigTest, ScalingBlockAndScalerSettings) {
  const auto yaml = write("scaled.yaml", std::string(kScaledService) +
                                             "pod-name: wsteer-abc\n"
                                             "pod-namespace: wsteer\n"
                                             "peers-service: wsteer/wsteer-metrics\n"
                                             "scaler-sync-period: 30s\n");
  const auto c = parse({"--config", yaml, "--scaler-retry-period", "3s"});
  const auto& s = c.services.at(0);
  ASSERT_TRUE(s.scaling.enabled);
  EXPECT_EQ(s.scaling.mode, scaler::ScaleMode::patch);
  EXPECT_EQ(s.scaling.target.name, "chat");
  EXPECT_EQ(s.scaling.policy.target_connections_per_pod, 1000u);
  EXPECT_EQ(c.scaler.pod_name, "wsteer-abc");
  EXPECT_EQ(c.scaler.pod_namespace, "wsteer");
  ASSERT_TRUE(c.scaler.peers_service);
  EXPECT_EQ(c.scaler.peers_service->label(), "wsteer/wsteer-metrics");
  EXPECT_EQ(c.scaler.peers_service->port, "metrics");  // the chart's port name, unless given
  EXPECT_EQ(c.scaler.sync_period, std::chrono::seconds(30));
  EXPECT_EQ(c.scaler.retry_period, std::chrono::seconds(3));  // the flag
  EXPECT_EQ(c.scaler.lease_duration, std::chrono::seconds(15));  // client-go's default

  // In a pod the identity and namespace come from the downward API.
  ::setenv("POD_NAME", "wsteer-from-env", 1);
  ::setenv("POD_NAMESPACE", "kube-system", 1);
  const auto env = parse({"--config", write("env.yaml", std::string(kScaledService) + "peers-service: wsteer/m\n")});
  ::unsetenv("POD_NAME");
  ::unsetenv("POD_NAMESPACE");
  EXPECT_EQ(env.scaler.pod_name, "wsteer-from-env");
  EXPECT_EQ(env.scaler.pod_namespace, "kube-system");
  EXPECT_FALSE(parse({"--service", "a/b=0.0.0.0:1"}).services.at(0).scaling.enabled);  // off by default
}

TEST_F(AgentConfigDeathTest, BadScalingSettingsExitWithAClearMessage) {
  const auto no_peers = write("no-peers.yaml", std::string(kScaledService) + "pod-namespace: wsteer\n");
  EXPECT_EXIT(parse({"--config", no_peers}), ::testing::ExitedWithCode(2), "--peers-service");
  const auto no_ns = write("no-ns.yaml", std::string(kScaledService) + "peers-service: wsteer/m\n");
  EXPECT_EXIT(parse({"--config", no_ns}), ::testing::ExitedWithCode(2), "--pod-namespace");
  const auto file = write("file.yaml",
                          "pod-namespace: w\npeers-service: w/m\nservices:\n  - endpoints-file: /e\n    listen: 0.0.0.0:1\n"
                          "    scaling: {target: {kind: Deployment, name: x}, target-connections-per-pod: 1, max-replicas: 2}\n");
  EXPECT_EXIT(parse({"--config", file}), ::testing::ExitedWithCode(2), "needs a Kubernetes Service");
  const auto twice = write("twice.yaml", std::string(kScaledService) +
                                             "  - service: games/chat2\n    listen: 0.0.0.0:8081\n"
                                             "    scaling: {target: {kind: Deployment, name: chat}, "
                                             "target-connections-per-pod: 1, max-replicas: 2}\n"
                                             "pod-namespace: w\npeers-service: w/m\n");
  EXPECT_EXIT(parse({"--config", twice}), ::testing::ExitedWithCode(2), "scaled by another service");
  const auto lease = write("lease.yaml", std::string(kScaledService) + "pod-namespace: w\npeers-service: w/m\n");
  EXPECT_EXIT(parse({"--config", lease, "--scaler-renew-deadline", "20s"}), ::testing::ExitedWithCode(2),
              "lease duration must be greater than the renew deadline");
  const auto mode = write("mode.yaml", std::string(kScaledService) + "      mode: hpa\n");
  EXPECT_EXIT(parse({"--config", mode}), ::testing::ExitedWithCode(2), "not patch or keda");
}

// A value of the wrong shape that no setting's own check names (a hash-key item that is a mapping,
// a mapping used as a key) still says which document and where, and exits 2 (fuzz_agent_config).
TEST_F(AgentConfigTest, MisshapenYamlNamesTheFileAndLine) {
  const auto item = write("item.yaml", "listen: 0.0.0.0:8080\nendpoints-file: /e\nhash-key: [query:room, {a: 1}]\n");
  EXPECT_EXIT(parse({"--config", item}), ::testing::ExitedWithCode(2), "config .*item.yaml: .*line 3");
  const auto key = write("key.yaml", "{a: 1}: 2\n");
  EXPECT_EXIT(parse({"--config", key}), ::testing::ExitedWithCode(2), "config .*key.yaml: .*line 1");
}

TEST(AgentConfigFromYaml, BuildsWhatTheFileWouldAndThrowsOnBadInput) {
  const auto c = agent_config_from_yaml("listen: 0.0.0.0:8080\nendpoints-file: /e\nhash-key: [query:room]\n");
  ASSERT_EQ(c.services.size(), 1u);
  EXPECT_EQ(c.services[0].listen.port(), 8080);
  EXPECT_EQ(c.steering.hash_key, std::vector<std::string>{"query:room"});
  EXPECT_THROW(agent_config_from_yaml("hash-key: [query:room, {a: 1}]\n"), std::invalid_argument);
  EXPECT_THROW(agent_config_from_yaml("listen: [unclosed\n"), std::invalid_argument);
  EXPECT_THROW(agent_config_from_yaml("- a list\n"), std::invalid_argument);
}

// Dead-peer detection (issue 14): keepalive on by default (60 s idle, 10 s, 6 probes, 120 s user
// timeout), each from a flag or a YAML key, 0 idle turning keepalive off; bad values exit 2.
TEST_F(AgentConfigTest, TcpKeepaliveAndUserTimeout) {
  const auto d = parse({"--listen", "0.0.0.0:8080", "--endpoints-file", "/e"});
  EXPECT_EQ(d.proxy.tcp_keepalive_idle, std::chrono::seconds(60));
  EXPECT_EQ(d.proxy.tcp_keepalive_interval, std::chrono::seconds(10));
  EXPECT_EQ(d.proxy.tcp_keepalive_count, 6u);
  EXPECT_EQ(d.proxy.tcp_user_timeout, std::chrono::milliseconds(120000));
  const auto yaml = write("k.yaml", "tcp-keepalive-idle: 30\ntcp-keepalive-count: 3\ntcp-user-timeout: 2.5\n");
  const auto c = parse({"--config", yaml, "--listen", "0.0.0.0:8080", "--endpoints-file", "/e", "--tcp-keepalive-interval", "2"});
  EXPECT_EQ(c.proxy.tcp_keepalive_idle, std::chrono::seconds(30));
  EXPECT_EQ(c.proxy.tcp_keepalive_interval, std::chrono::seconds(2));
  EXPECT_EQ(c.proxy.tcp_keepalive_count, 3u);
  EXPECT_EQ(c.proxy.tcp_user_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(parse({"--listen", "0.0.0.0:8080", "--endpoints-file", "/e", "--tcp-keepalive-idle", "0"}).proxy.tcp_keepalive_idle,
            std::chrono::seconds(0));
  EXPECT_EXIT(parse({"--listen", "0.0.0.0:8080", "--endpoints-file", "/e", "--tcp-keepalive-count", "0"}),
              ::testing::ExitedWithCode(2), "tcp-keepalive-count must be 1..127");
  EXPECT_EXIT(parse({"--listen", "0.0.0.0:8080", "--endpoints-file", "/e", "--tcp-keepalive-interval", "0"}),
              ::testing::ExitedWithCode(2), "tcp-keepalive-interval must be >= 1 second");
}

}  // namespace
}  // namespace wsteer::app
