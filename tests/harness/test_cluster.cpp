#include "harness/test_cluster.h"

#include "harness/command.h"

#include <boost/json/serialize.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace wsteer::test {
namespace {

namespace json = boost::json;

const std::filesystem::path kSource = WSTEER_SOURCE_DIR;
const std::filesystem::path kTools = kSource / ".tools" / "bin";

CommandResult must(const std::vector<std::string>& argv, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  auto r = run_command(argv, limit);
  if (r.exit_code != 0) {
    std::string text;
    for (const auto& a : argv) text += a + " ";
    throw std::runtime_error(text + "failed (" + std::to_string(r.exit_code) + "): " + r.err + r.out);
  }
  return r;
}

// The rules of the chart's ClusterRole, as `helm template` renders them with default values.
YAML::Node chart_cluster_role_rules() {
  const auto rendered =
      must({(kTools / "helm").string(), "template", "wsteer", (kSource / "helm" / "wsteer").string(), "--show-only",
            "templates/rbac.yaml"});
  for (const auto& doc : YAML::LoadAll(rendered.out))
    if (doc["kind"] && doc["kind"].as<std::string>() == "ClusterRole") return doc["rules"];
  throw std::runtime_error("the chart renders no ClusterRole in templates/rbac.yaml");
}

class FakeCluster final : public TestCluster {
 public:
  explicit FakeCluster(const std::string& netns) {
    FakeApiServerOptions options;
    options.netns = netns;
    options.bookmark_interval = std::chrono::milliseconds(500);
    options.tokens = {"test-token"};
    server_ = std::make_unique<FakeApiServer>(options);
    for (const auto& rule : chart_cluster_role_rules())
      for (const auto& group : rule["apiGroups"])
        for (const auto& resource : rule["resources"])
          for (const auto& verb : rule["verbs"])
            server_->allow("test-token", verb.as<std::string>(), group.as<std::string>(), resource.as<std::string>());
  }
  std::string kind() const override { return "test API server"; }
  std::string url() const override { return server_->url(); }
  std::filesystem::path ca_file() const override { return server_->ca_file(); }
  std::string agent_token() const override { return "test-token"; }
  void put_endpoint_slice(const json::object& slice) override { server_->put_endpoint_slice(slice); }
  void delete_endpoint_slice(const std::string& ns, const std::string& name) override {
    server_->delete_endpoint_slice(ns, name);
  }
  void apply_server_dry_run(const std::filesystem::path&) override {
    throw std::logic_error("the test API server does not run admission: use a real kube-apiserver");
  }
  void stop() override { server_->stop(); }
  void restart() override { server_->restart(); }
  FakeApiServer* fake() override { return server_.get(); }

 private:
  std::unique_ptr<FakeApiServer> server_;
};

class RealCluster final : public TestCluster {
 public:
  RealCluster(const std::string& netns, const std::filesystem::path& dir, const std::string& ns)
      : netns_(netns), run_(dir / "kube") {
    std::filesystem::create_directories(run_);
    script("start-etcd");
    script("start-apiserver");
    admin_token_ = read(run_ / "admin-token");
    kubectl({"create", "namespace", ns});
    kubectl({"create", "serviceaccount", "wsteer", "-n", ns});
    // The chart's ClusterRole and its binding, rendered and applied as Helm would.
    const auto rbac = must({(kTools / "helm").string(), "template", "wsteer", (kSource / "helm" / "wsteer").string(),
                            "--namespace", ns, "--show-only", "templates/rbac.yaml"});
    std::ofstream(run_ / "rbac.yaml") << rbac.out;
    kubectl({"apply", "-f", (run_ / "rbac.yaml").string()});
    agent_token_ = kubectl({"create", "token", "wsteer", "-n", ns, "--duration", "1h"}).out;
    while (!agent_token_.empty() && (agent_token_.back() == '\n' || agent_token_.back() == '\r')) agent_token_.pop_back();
  }
  ~RealCluster() override {
    try {
      script("stop-all");
    } catch (...) {
    }
  }
  std::string kind() const override { return "kube-apiserver"; }
  std::string url() const override { return "https://127.0.0.1:6443"; }
  std::filesystem::path ca_file() const override { return run_ / "certs" / "apiserver.crt"; }
  std::string agent_token() const override { return agent_token_; }
  void put_endpoint_slice(const json::object& slice) override {
    const auto file = run_ / "slice.json";
    std::ofstream(file) << json::serialize(slice);
    kubectl({"apply", "--server-side", "--force-conflicts", "-f", file.string()});
  }
  void delete_endpoint_slice(const std::string& ns, const std::string& name) override {
    kubectl({"delete", "endpointslice", name, "-n", ns});
  }
  void apply_server_dry_run(const std::filesystem::path& manifests) override {
    kubectl({"apply", "--dry-run=server", "-f", manifests.string()});
  }
  void stop() override { script("stop-apiserver"); }
  void restart() override { script("start-apiserver"); }

 private:
  static std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::string s;
    std::getline(in, s);
    return s;
  }
  void script(const std::string& verb) {
    must({"ip", "netns", "exec", netns_, "env", "RUN=" + run_.string(), (kSource / "tests" / "k8s" / "kube-apiserver.sh").string(),
          verb},
         std::chrono::seconds(120));
  }
  CommandResult kubectl(std::vector<std::string> args) {
    std::vector<std::string> argv{"ip", "netns", "exec", netns_, (kTools / "kubectl").string(), "--server", url(),
                                  "--certificate-authority", ca_file().string(), "--token", admin_token_};
    argv.insert(argv.end(), args.begin(), args.end());
    return must(argv);
  }

  std::string netns_;
  std::filesystem::path run_;
  std::string admin_token_, agent_token_;
};

}  // namespace

std::unique_ptr<TestCluster> make_fake_cluster(const std::string& netns) { return std::make_unique<FakeCluster>(netns); }

std::unique_ptr<TestCluster> make_real_cluster(const std::string& netns, const std::filesystem::path& dir,
                                               const std::string& service_namespace) {
  return std::make_unique<RealCluster>(netns, dir, service_namespace);
}

}  // namespace wsteer::test

namespace wsteer::test {

std::filesystem::path write_kubeconfig(const std::filesystem::path& dir, const TestCluster& cluster,
                                       const std::filesystem::path& token_file) {
  const auto path = dir / "kubeconfig";
  std::ofstream(path) << "apiVersion: v1\nkind: Config\n"
                      << "clusters:\n- name: test\n  cluster:\n    server: " << cluster.url()
                      << "\n    certificate-authority: " << cluster.ca_file().string() << "\n"
                      << "users:\n- name: agent\n  user:\n    tokenFile: " << token_file.string() << "\n"
                      << "contexts:\n- name: test\n  context:\n    cluster: test\n    user: agent\n"
                      << "current-context: test\n";
  return path;
}

void grant_chart_roles(FakeApiServer& server, const std::string& token, const std::string& values_yaml,
                       const std::filesystem::path& scratch) {
  const auto values = scratch / "chart-values.yaml";
  std::ofstream(values) << values_yaml;
  const auto rendered = must({(kTools / "helm").string(), "template", "wsteer", (kSource / "helm" / "wsteer").string(),
                              "--namespace", "wsteer", "-f", values.string()});
  int roles = 0;
  for (const auto& doc : YAML::LoadAll(rendered.out)) {
    if (!doc["kind"] || doc["kind"].as<std::string>() != "Role") continue;
    ++roles;
    const auto ns = doc["metadata"]["namespace"].as<std::string>();
    for (const auto& rule : doc["rules"]) {
      std::vector<std::string> names;
      for (const auto& n : rule["resourceNames"]) names.push_back(n.as<std::string>());
      for (const auto& group : rule["apiGroups"])
        for (const auto& resource : rule["resources"])
          for (const auto& verb : rule["verbs"])
            server.allow(token, verb.as<std::string>(), group.as<std::string>(), resource.as<std::string>(), ns, names);
    }
  }
  if (roles == 0) throw std::runtime_error("the chart renders no Role for these values:\n" + values_yaml);
}

}  // namespace wsteer::test
