// The Grafana dashboard under k8s/: valid JSON, the same in the ConfigMap the Grafana sidecar
// loads, and every metric its PromQL names is one the agent exports (metrics/metric_names.h, which
// the end-to-end test checks against a live /metrics).
#include "metrics/metric_names.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace wsteer::metrics {
namespace {

// The source tree, found from this file's own path (the build passes absolute paths).
const std::filesystem::path kK8s = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "k8s";

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

boost::json::value dashboard() { return boost::json::parse(read(kK8s / "grafana-dashboard.json")); }

// Every PromQL expression of the dashboard: panel targets and templating queries.
std::vector<std::string> expressions(const boost::json::value& d) {
  std::vector<std::string> out;
  for (const auto& panel : d.at("panels").as_array())
    for (const auto& target : panel.at("targets").as_array()) out.emplace_back(target.at("expr").as_string());
  for (const auto& var : d.at("templating").at("list").as_array()) {
    const auto& o = var.as_object();
    if (o.contains("definition")) out.emplace_back(o.at("definition").as_string());
  }
  return out;
}

// A metric name a scrape carries: a family, or a histogram family's _bucket/_sum/_count.
bool exported(const std::string& name) {
  for (const auto& f : names::kFamilies) {
    if (f.name == name) return true;
    if (f.type == names::Type::histogram)
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (std::string(f.name) + suffix == name) return true;
  }
  return false;
}

TEST(MetricsDashboard, EveryQueriedMetricIsExported) {
  const auto d = dashboard();
  const std::regex metric("wsteer_[a-zA-Z0-9_:]*");
  std::set<std::string> used;
  for (const auto& expr : expressions(d))
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric); it != std::sregex_iterator(); ++it)
      used.insert(it->str());
  ASSERT_FALSE(used.empty());
  for (const auto& name : used) EXPECT_TRUE(exported(name)) << name << " is queried but the agent does not export it";
  // What the issue asks the dashboard to show.
  for (const char* needed : {"wsteer_backend_active_connections", "wsteer_connections_total",
                             "wsteer_handshake_seconds_bucket", "wsteer_spliced_bytes_total",
                             "wsteer_userspace_bytes_total", "wsteer_xdp_packets_total"})
    EXPECT_TRUE(used.count(needed)) << needed << " is not on the dashboard";
}

TEST(MetricsDashboard, PanelsAreWellFormed) {
  const auto d = dashboard();
  std::set<std::int64_t> ids;
  for (const auto& panel : d.at("panels").as_array()) {
    const auto& p = panel.as_object();
    EXPECT_TRUE(ids.insert(p.at("id").as_int64()).second) << "duplicate panel id";
    EXPECT_FALSE(p.at("title").as_string().empty());
    EXPECT_FALSE(p.at("targets").as_array().empty()) << p.at("title").as_string();
    for (const auto& t : p.at("targets").as_array()) EXPECT_TRUE(t.as_object().contains("refId"));
  }
  bool quantiles[2] = {false, false};
  for (const auto& expr : expressions(d)) {
    quantiles[0] |= expr.find("histogram_quantile(0.5,") != std::string::npos;
    quantiles[1] |= expr.find("histogram_quantile(0.99,") != std::string::npos;
  }
  EXPECT_TRUE(quantiles[0] && quantiles[1]) << "handshake p50 and p99";
}

TEST(MetricsDashboard, ConfigMapCarriesTheSameDashboardForTheSidecar) {
  const auto cm = YAML::LoadFile((kK8s / "grafana-dashboard-configmap.yaml").string());
  EXPECT_EQ(cm["kind"].as<std::string>(), "ConfigMap");
  // The sidecar matches the label's string value "1"; an unquoted 1 would be an integer.
  EXPECT_EQ(cm["metadata"]["labels"]["grafana_dashboard"].as<std::string>(), "1");
  EXPECT_EQ(cm["metadata"]["labels"]["grafana_dashboard"].Tag(), "!");  // quoted in the file
  const auto embedded = boost::json::parse(cm["data"]["wsteer.json"].as<std::string>());
  EXPECT_TRUE(embedded == dashboard()) << "k8s/grafana-dashboard-configmap.yaml is out of date: both files are rendered "
                                      "from helm/wsteer/dashboards/wsteer.json by scripts/render-manifests.sh";
}

}  // namespace
}  // namespace wsteer::metrics
