// Where the agent finds the API server and its credentials: kubeconfig files as kubectl writes
// them, and the pod's service account.
#include "k8s/cluster_config.h"

#include "harness/test_ca.h"

#include <gtest/gtest.h>

#include <yaml-cpp/binary.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

namespace wsteer::k8s {
namespace {
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wsteer-k8s-config-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const fs::path& rel, const std::string& text) const {
    const auto p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  fs::path path_;
};

std::string b64(const std::string& s) {
  return YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

// The message of the std::runtime_error that `f` throws ("" when it does not throw).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// Sets (or unsets, with nullptr) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_.c_str(), old_->c_str(), 1) : ::unsetenv(name_.c_str()); }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

const wsteer::test::TestPki& pki() {
  static const auto p = wsteer::test::make_test_pki({"127.0.0.1"}, {"localhost"});
  return p;
}

TEST(K8sKubeconfig, DataFieldsAreDecodedAndTheCurrentContextIsUsed) {
  TempDir dir;
  const auto path = dir.write("config", R"(apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: web}
clusters:
- name: c1
  cluster:
    server: https://10.1.2.3:6443
    certificate-authority-data: )" + b64(pki().ca_cert_pem) + R"(
users:
- name: u1
  user:
    client-certificate-data: )" + b64(pki().server_cert_pem) + R"(
    client-key-data: )" + b64(pki().server_key_pem) + R"(
)");
  const auto c = load_kubeconfig(path);
  EXPECT_EQ(c.server, "https://10.1.2.3:6443");
  EXPECT_EQ(c.host, "10.1.2.3");
  EXPECT_EQ(c.port, "6443");
  EXPECT_EQ(c.ca_pem, pki().ca_cert_pem);
  EXPECT_EQ(c.client_cert_pem, pki().server_cert_pem);
  EXPECT_EQ(c.client_key_pem, pki().server_key_pem);
  EXPECT_TRUE(c.token.empty());
  EXPECT_TRUE(c.token_file.empty());
  EXPECT_EQ(c.ns, "web");
  EXPECT_EQ(c.origin, path.string());
  // --kubeconfig given: the kubeconfig, not the pod's service account.
  EXPECT_EQ(load_cluster_config(path).server, "https://10.1.2.3:6443");
}

TEST(K8sKubeconfig, FileFieldsAreReadRelativeToTheKubeconfigsFolder) {
  TempDir dir;
  dir.write("kube/certs/ca.crt", pki().ca_cert_pem);
  dir.write("kube/certs/client.crt", pki().server_cert_pem);
  dir.write("client.key", pki().server_key_pem);
  dir.write("kube/token", "tok-1\n");
  const auto path = dir.write("kube/config", R"(apiVersion: v1
kind: Config
current-context: a
contexts:
- name: a
  context: {cluster: c, user: u}
clusters:
- name: c
  cluster: {server: "https://[fd00::1]", certificate-authority: certs/ca.crt}
users:
- name: u
  user: {tokenFile: token, client-certificate: certs/client.crt, client-key: )" + (dir.path() / "client.key").string() + R"(}
)");
  const auto c = load_kubeconfig(path);
  EXPECT_EQ(c.server, "https://[fd00::1]:443");
  EXPECT_EQ(c.host, "fd00::1");
  EXPECT_EQ(c.port, "443");
  EXPECT_EQ(c.ca_pem, pki().ca_cert_pem);
  EXPECT_EQ(c.token_file, dir.path() / "kube/token");
  EXPECT_TRUE(c.token.empty());
  EXPECT_EQ(c.client_cert_pem, pki().server_cert_pem);
  EXPECT_EQ(c.client_key_pem, pki().server_key_pem);
  EXPECT_EQ(c.ns, "");
}

constexpr const char* kTwoContexts = R"(apiVersion: v1
kind: Config
current-context: prod
contexts:
- name: prod
  context: {cluster: prod, user: admin, namespace: prod-ns}
- name: staging
  context: {cluster: staging, user: viewer, namespace: staging-ns}
clusters:
- name: prod
  cluster: {server: "https://prod.example:6443", certificate-authority-data: CA_DATA}
- name: staging
  cluster: {server: "https://staging.example:8443", certificate-authority-data: CA_DATA}
users:
- name: admin
  user: {token: admin-token}
- name: viewer
  user: {token: viewer-token}
)";

std::string two_contexts() {
  std::string text = kTwoContexts;
  for (auto pos = text.find("CA_DATA"); pos != std::string::npos; pos = text.find("CA_DATA"))
    text.replace(pos, 7, b64(pki().ca_cert_pem));
  return text;
}

TEST(K8sKubeconfig, ANamedContextPicksItsClusterUserAndNamespace) {
  TempDir dir;
  const auto path = dir.write("config", two_contexts());
  const auto current = load_kubeconfig(path);
  EXPECT_EQ(current.server, "https://prod.example:6443");
  EXPECT_EQ(current.token, "admin-token");
  const auto staging = load_kubeconfig(path, "staging");
  EXPECT_EQ(staging.server, "https://staging.example:8443");
  EXPECT_EQ(staging.host, "staging.example");
  EXPECT_EQ(staging.port, "8443");
  EXPECT_EQ(staging.token, "viewer-token");
  EXPECT_EQ(staging.ns, "staging-ns");
  const auto missing = error_of([&] { load_kubeconfig(path, "nope"); });
  EXPECT_NE(missing.find(path.string()), std::string::npos) << missing;
  EXPECT_NE(missing.find("no entry named \"nope\""), std::string::npos) << missing;
}

TEST(K8sKubeconfig, MissingFieldsAreNamedWithTheFile) {
  TempDir dir;
  const auto ca = b64(pki().ca_cert_pem);
  const std::string head = "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n";
  const std::string users = "users:\n- name: u\n  user: {token: t}\n";
  struct Case {
    std::string yaml, expected;
  } cases[] = {
      {head + "clusters:\n- name: c\n  cluster: {certificate-authority-data: " + ca + "}\n" + users, "clusters[c].cluster.server is missing"},
      {head + "clusters:\n- name: c\n  cluster: {server: \"https://h:1\"}\n" + users, "certificate-authority or certificate-authority-data is missing"},
      {head + "clusters:\n- name: c\n  cluster: {server: \"https://h:1\", certificate-authority: nowhere.crt}\n" + users, "nowhere.crt"},
      {head + "clusters:\n- name: c\n  cluster: {server: \"http://h:1\", certificate-authority-data: " + ca + "}\n" + users, "must be https"},
      {head + "clusters:\n- name: c\n  cluster: {server: \"https://h:1\", certificate-authority-data: \"%%%\"}\n" + users, "not valid base64"},
      {head + "clusters: []\n" + users, "clusters: no entry named \"c\""},
      {"apiVersion: v1\nkind: Config\nclusters: []\n", "no current-context"},
      {head + "clusters:\n- name: c\n  cluster: {server: \"https://h:1\", certificate-authority-data: " + ca +
           "}\nusers:\n- name: u\n  user: {client-certificate-data: " + b64(pki().server_cert_pem) + "}\n",
       "needs both client-certificate(-data) and client-key(-data)"},
  };
  for (const auto& c : cases) {
    const auto path = dir.write("config", c.yaml);
    const auto message = error_of([&] { load_kubeconfig(path); });
    EXPECT_NE(message.find("kubeconfig " + path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << "expected \"" << c.expected << "\" in: " << message;
  }
  const auto absent = error_of([&] { load_kubeconfig(dir.path() / "absent"); });
  EXPECT_NE(absent.find((dir.path() / "absent").string()), std::string::npos) << absent;
}

TEST(K8sKubeconfig, ExecAuthProviderAndInsecureSkipVerifyAreRefused) {
  TempDir dir;
  const std::string head = "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n";
  const std::string cluster = "clusters:\n- name: c\n  cluster: {server: \"https://h:1\", certificate-authority-data: " +
                              b64(pki().ca_cert_pem) + "}\n";
  const auto exec = dir.write("exec", head + cluster + R"(users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token]
)");
  auto message = error_of([&] { load_kubeconfig(exec); });
  EXPECT_NE(message.find(exec.string()), std::string::npos) << message;
  EXPECT_NE(message.find("users[u].user.exec is not supported"), std::string::npos) << message;

  const auto provider = dir.write("provider", head + cluster + "users:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n");
  message = error_of([&] { load_kubeconfig(provider); });
  EXPECT_NE(message.find("users[u].user.auth-provider is not supported"), std::string::npos) << message;

  const auto insecure = dir.write(
      "insecure", head + "clusters:\n- name: c\n  cluster: {server: \"https://h:1\", insecure-skip-tls-verify: true}\n" +
                      "users:\n- name: u\n  user: {token: t}\n");
  message = error_of([&] { load_kubeconfig(insecure); });
  EXPECT_NE(message.find(insecure.string()), std::string::npos) << message;
  EXPECT_NE(message.find("clusters[c].cluster.insecure-skip-tls-verify is not supported"), std::string::npos) << message;
}

TEST(K8sInCluster, ReadsTheServiceAccountAndTheServiceEnvironment) {
  TempDir sa;
  sa.write("token", "sa-token\n");
  sa.write("ca.crt", pki().ca_cert_pem);
  sa.write("namespace", "wsteer-system");
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
    const auto c = load_in_cluster(sa.path());
    EXPECT_EQ(c.server, "https://10.96.0.1:443");
    EXPECT_EQ(c.host, "10.96.0.1");
    EXPECT_EQ(c.port, "443");
    EXPECT_EQ(c.token_file, sa.path() / "token");  // re-read per request: bound tokens rotate
    EXPECT_TRUE(c.token.empty());
    EXPECT_EQ(c.ca_pem, pki().ca_cert_pem);
    EXPECT_EQ(c.ns, "wsteer-system");
    EXPECT_EQ(c.origin, "in-cluster");
  }
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "6443");
    const auto c = load_in_cluster(sa.path());
    EXPECT_EQ(c.server, "https://[fd00:10:96::1]:6443");
    EXPECT_EQ(c.host, "fd00:10:96::1");
  }
}

TEST(K8sInCluster, SaysWhatIsMissing) {
  TempDir sa;
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
    ScopedEnv port("KUBERNETES_SERVICE_PORT", nullptr);
    const auto message = error_of([&] { load_in_cluster(sa.path()); });
    EXPECT_NE(message.find("KUBERNETES_SERVICE_HOST"), std::string::npos) << message;
    EXPECT_NE(error_of([&] { load_cluster_config(""); }).find("not running in a Kubernetes pod"), std::string::npos);
  }
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  auto message = error_of([&] { load_in_cluster(sa.path()); });
  EXPECT_NE(message.find((sa.path() / "token").string()), std::string::npos) << message;
  sa.write("token", "t");
  message = error_of([&] { load_in_cluster(sa.path()); });
  EXPECT_NE(message.find((sa.path() / "ca.crt").string()), std::string::npos) << message;
  sa.write("ca.crt", pki().ca_cert_pem);
  EXPECT_EQ(load_in_cluster(sa.path()).ns, "");  // no namespace file: empty, not an error
}

}  // namespace
}  // namespace wsteer::k8s
