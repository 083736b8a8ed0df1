// The contract of the fake Kubernetes API server, checked with a plain Beast HTTPS client on
// loopback: what the wsteer Kubernetes client may rely on because the real server does it.
#include "harness/fake_apiserver.h"
#include "harness/test_ca.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <functional>
#include <thread>

namespace wsteer::test {
namespace {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

json::object slice(const std::string& name, const std::string& app, const std::string& ip) {
  return json::parse(R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"namespace":"default","name":")" +
                     name + R"(","labels":{"kubernetes.io/service-name":")" + app +
                     R"("}},"addressType":"IPv4","endpoints":[{"addresses":[")" + ip +
                     R"("]}],"ports":[{"port":8080}]})")
      .as_object();
}

// A blocking HTTPS/1.1 client with keep-alive and a 5 s receive timeout (no test can hang).
class Client {
 public:
  explicit Client(const FakeApiServer& server, const std::string& ca_pem = "") : ctx_(ssl::context::tls_client) {
    ctx_.add_certificate_authority(asio::buffer(ca_pem.empty() ? server.ca_pem() : ca_pem));
    ctx_.set_verify_mode(ssl::verify_peer);
    stream_ = std::make_unique<ssl::stream<tcp::socket>>(io_, ctx_);
    stream_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    stream_->lowest_layer().connect({asio::ip::make_address("127.0.0.1"), server.port()});
    timeval tv{5, 0};
    ::setsockopt(stream_->lowest_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    stream_->handshake(ssl::stream_base::client);
  }

  http::response<http::string_body> request(http::verb verb, const std::string& target, const std::string& token = "test-token",
                                            const std::string& body = "", const std::string& type = "application/json") {
    send(verb, target, token, body, type);
    http::response<http::string_body> res;
    http::read(*stream_, buffer_, res);
    return res;
  }

  // Starts a watch; returns the status.
  unsigned start_watch(const std::string& target, const std::string& token = "test-token") {
    send(http::verb::get, target, token, "", "");
    parser_.emplace();
    parser_->body_limit(boost::none);
    on_chunk_ = [this](std::uint64_t, std::string_view body, boost::system::error_code&) {
      pending_ += body;
      return body.size();
    };
    parser_->on_chunk_body(on_chunk_);
    http::read_header(*stream_, buffer_, *parser_);
    return parser_->get().result_int();
  }
  const http::response<http::string_body>& watch_header() const { return parser_->get(); }

  // Reads until n complete lines arrived, the stream ended (ended() then tells how) or 5 s passed.
  std::vector<json::object> read_events(std::size_t n) {
    std::vector<json::object> out;
    for (;;) {
      for (auto pos = pending_.find('\n'); pos != std::string::npos && out.size() < n; pos = pending_.find('\n')) {
        out.push_back(json::parse(pending_.substr(0, pos)).as_object());
        pending_.erase(0, pos + 1);
      }
      if (out.size() >= n || parser_->is_done() || error_) return out;
      http::read_some(*stream_, buffer_, *parser_, error_);
    }
  }
  bool ended_cleanly() const { return parser_->is_done() && !error_; }
  boost::system::error_code error() const { return error_; }
  const std::string& partial() const { return pending_; }

 private:
  void send(http::verb verb, const std::string& target, const std::string& token, const std::string& body,
            const std::string& type) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!type.empty() && !body.empty()) req.set(http::field::content_type, type);
    req.body() = body;
    req.prepare_payload();
    http::write(*stream_, req);
  }

  asio::io_context io_;
  ssl::context ctx_;
  std::unique_ptr<ssl::stream<tcp::socket>> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::function<std::size_t(std::uint64_t, std::string_view, boost::system::error_code&)> on_chunk_;
  std::string pending_;
  boost::system::error_code error_;
};

json::object body_of(const http::response<http::string_body>& res) {
  auto body = json::parse(res.body()).as_object();
  return body;
}
std::string str(const json::value& v) { return std::string(v.as_string()); }
std::string rv_of(const json::object& o) { return str(o.at("metadata").at("resourceVersion")); }

constexpr const char* kSlices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";

TEST(FakeApiServer, TlsVerifiesAgainstItsCaOnlyWithSansForLocalhostAndTheService) {
  FakeApiServer server;
  EXPECT_EQ(server.url(), "https://127.0.0.1:" + std::to_string(server.port()));
  EXPECT_TRUE(std::filesystem::exists(server.ca_file()));
  Client ok(server);
  EXPECT_EQ(ok.request(http::verb::get, kSlices).result_int(), 200);
  const auto other = make_test_pki({"127.0.0.1"}, {"localhost"});
  EXPECT_THROW(Client(server, other.ca_cert_pem), boost::system::system_error);
}

TEST(FakeApiServer, UnauthorizedWithoutOrWithWrongTokenAndAfterRotation) {
  FakeApiServer server;
  Client c(server);
  const std::string expected =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})";
  auto res = c.request(http::verb::get, kSlices, "");
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(res.body(), expected);
  EXPECT_EQ(c.request(http::verb::get, kSlices, "nope").result_int(), 401);
  server.set_tokens({"new-token"});
  EXPECT_EQ(c.request(http::verb::get, kSlices, "test-token").result_int(), 401);
  EXPECT_EQ(c.request(http::verb::get, kSlices, "new-token").result_int(), 200);  // same keep-alive connection
  EXPECT_EQ(server.seen_tokens(), (std::vector<std::string>{"nope", "test-token", "new-token"}));
}

TEST(FakeApiServer, ForbiddenWithTheRealMessageWhenRulesDoNotAllow) {
  FakeApiServer server;
  server.allow("test-token", "watch", "discovery.k8s.io", "endpointslices", "default");
  Client c(server);
  auto res = c.request(http::verb::get, kSlices);
  EXPECT_EQ(res.result_int(), 403);
  const auto body = body_of(res);
  EXPECT_EQ(str(body.at("reason")), "Forbidden");
  EXPECT_EQ(str(body.at("message")),
            "endpointslices.discovery.k8s.io is forbidden: User \"system:serviceaccount:default:test-token\" cannot list "
            "resource \"endpointslices\" in API group \"discovery.k8s.io\" in the namespace \"default\"");
  EXPECT_EQ(c.start_watch(std::string(kSlices) + "?watch=1&timeoutSeconds=1"), 200u);
}

TEST(FakeApiServer, ListFiltersByLabelAndPaginatesAtTheFirstPagesVersion) {
  FakeApiServer server;
  for (int i = 0; i < 5; ++i) server.put_endpoint_slice(slice("web-" + std::to_string(i), "web", "10.0.0." + std::to_string(i)));
  server.put_endpoint_slice(slice("db-0", "db", "10.0.1.1"));
  Client c(server);
  auto all = body_of(c.request(http::verb::get, kSlices));
  EXPECT_EQ(str(all.at("kind")), "EndpointSliceList");
  EXPECT_EQ(str(all.at("apiVersion")), "discovery.k8s.io/v1");
  EXPECT_EQ(all.at("items").as_array().size(), 6u);
  EXPECT_EQ(rv_of(all), server.resource_version());

  auto db = body_of(c.request(http::verb::get, std::string(kSlices) + "?labelSelector=kubernetes.io%2Fservice-name%3Ddb"));
  ASSERT_EQ(db.at("items").as_array().size(), 1u);
  EXPECT_EQ(str(db.at("items").at(0).at("metadata").at("name")), "db-0");
  auto not_db = body_of(c.request(http::verb::get, std::string(kSlices) + "?labelSelector=kubernetes.io%2Fservice-name!%3Ddb"));
  EXPECT_EQ(not_db.at("items").as_array().size(), 5u);

  const std::string web = std::string(kSlices) + "?labelSelector=kubernetes.io%2Fservice-name%3D%3Dweb&limit=2";
  auto page1_res = c.request(http::verb::get, web);
  ASSERT_EQ(page1_res.result_int(), 200) << page1_res.body();
  auto page1 = body_of(page1_res);
  ASSERT_TRUE(page1.at("metadata").as_object().contains("continue")) << page1_res.body();
  const std::string list_rv = rv_of(page1);
  std::vector<std::string> names;
  for (const auto& it : page1.at("items").as_array()) names.push_back(str(it.at("metadata").at("name")));
  server.put_endpoint_slice(slice("web-9", "web", "10.0.0.9"));  // after the first page: not in this list
  std::string cont = str(page1.at("metadata").at("continue"));
  while (!cont.empty()) {
    auto page = body_of(c.request(http::verb::get, web + "&continue=" + cont));
    EXPECT_EQ(rv_of(page), list_rv);
    for (const auto& it : page.at("items").as_array()) names.push_back(str(it.at("metadata").at("name")));
    const auto* next = page.at("metadata").as_object().if_contains("continue");
    cont = next ? str(*next) : "";
  }
  EXPECT_EQ(names, (std::vector<std::string>{"web-0", "web-1", "web-2", "web-3", "web-4"}));
}

TEST(FakeApiServer, WatchFromAListVersionSeesAddedModifiedDeletedInOrder) {
  FakeApiServer server;
  server.put_endpoint_slice(slice("a", "web", "10.0.0.1"));
  Client c(server);
  const std::string rv = rv_of(body_of(c.request(http::verb::get, kSlices)));
  server.put_endpoint_slice(slice("b", "web", "10.0.0.2"));  // before the watch: replayed from history
  Client w(server);
  ASSERT_EQ(w.start_watch(std::string(kSlices) + "?watch=true&resourceVersion=" + rv + "&timeoutSeconds=5"), 200u);
  EXPECT_EQ(w.watch_header()[http::field::content_type], "application/json");
  EXPECT_TRUE(w.watch_header().chunked());
  server.put_endpoint_slice(slice("a", "web", "10.0.0.3"));
  server.put_endpoint_slice(slice("a", "web", "10.0.0.3"));  // no change: no event, as the real server
  server.delete_endpoint_slice("default", "b");
  const auto events = w.read_events(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(str(events[0].at("type")), "ADDED");
  EXPECT_EQ(str(events[0].at("object").at("metadata").at("name")), "b");
  EXPECT_EQ(str(events[1].at("type")), "MODIFIED");
  EXPECT_EQ(str(events[1].at("object").at("endpoints").at(0).at("addresses").at(0)), "10.0.0.3");
  EXPECT_EQ(str(events[2].at("type")), "DELETED");
  EXPECT_EQ(rv_of(events[2].at("object").as_object()), server.resource_version());
  EXPECT_EQ(server.open_watches(), 1u);
}

TEST(FakeApiServer, WatchFromZeroStartsWithSyntheticAddedAndSelectorsTurnModifiedIntoAddedOrDeleted) {
  FakeApiServer server;
  server.put_endpoint_slice(slice("a", "web", "10.0.0.1"));
  server.put_endpoint_slice(slice("b", "db", "10.0.0.2"));
  Client w(server);
  ASSERT_EQ(w.start_watch(std::string(kSlices) + "?watch=1&resourceVersion=0&labelSelector=kubernetes.io%2Fservice-name%3Dweb"), 200u);
  auto first = w.read_events(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(str(first[0].at("type")), "ADDED");
  EXPECT_EQ(str(first[0].at("object").at("metadata").at("name")), "a");
  server.put_endpoint_slice(slice("a", "other", "10.0.0.1"));  // stops matching
  server.put_endpoint_slice(slice("b", "web", "10.0.0.2"));    // starts matching
  const auto events = w.read_events(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(str(events[0].at("type")), "DELETED");
  EXPECT_EQ(str(events[0].at("object").at("metadata").at("name")), "a");
  EXPECT_EQ(str(events[1].at("type")), "ADDED");
  EXPECT_EQ(str(events[1].at("object").at("metadata").at("name")), "b");
}

TEST(FakeApiServer, BookmarksOnlyWhenAskedAndTimeoutEndsTheStreamCleanly) {
  FakeApiServerOptions options;
  options.bookmark_interval = std::chrono::milliseconds(100);
  FakeApiServer server(options);
  server.put_endpoint_slice(slice("a", "web", "10.0.0.1"));
  Client w(server);
  ASSERT_EQ(w.start_watch(std::string(kSlices) + "?watch=1&resourceVersion=" + server.resource_version() +
                          "&allowWatchBookmarks=true&timeoutSeconds=1"),
            200u);
  const auto events = w.read_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(str(events[0].at("type")), "BOOKMARK");
  EXPECT_EQ(str(events[0].at("object").at("kind")), "EndpointSlice");
  EXPECT_EQ(rv_of(events[0].at("object").as_object()), server.resource_version());
  w.read_events(100);
  EXPECT_TRUE(w.ended_cleanly()) << w.error().message();

  Client plain(server);
  ASSERT_EQ(plain.start_watch(std::string(kSlices) + "?watch=1&resourceVersion=" + server.resource_version() + "&timeoutSeconds=1"), 200u);
  EXPECT_TRUE(plain.read_events(100).empty());
  EXPECT_TRUE(plain.ended_cleanly());
  // The connection is still usable after the watch ended.
  EXPECT_EQ(plain.request(http::verb::get, kSlices).result_int(), 200);
  EXPECT_EQ(server.watch_requests(), 2u);
  EXPECT_EQ(server.open_watches(), 0u);
}

TEST(FakeApiServer, CompactionExpiresOldWatchesAndExactLists) {
  FakeApiServer server;
  const std::string old_rv = server.put_endpoint_slice(slice("a", "web", "10.0.0.1"));
  server.put_endpoint_slice(slice("a", "web", "10.0.0.2"));
  server.compact();
  const std::string current = server.resource_version();
  Client w(server);
  ASSERT_EQ(w.start_watch(std::string(kSlices) + "?watch=1&resourceVersion=" + old_rv), 200u);
  const auto events = w.read_events(2);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(json::serialize(events[0]),
            R"x({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: )x" +
                old_rv + " (" + current + R"x()","reason":"Expired","code":410}})x");
  EXPECT_TRUE(w.ended_cleanly());
  auto res = w.request(http::verb::get, std::string(kSlices) + "?limit=10&resourceVersion=" + old_rv);
  EXPECT_EQ(res.result_int(), 410);
  EXPECT_EQ(str(body_of(res).at("reason")), "Expired");
  // A watch from the compaction point itself is fine.
  Client ok(server);
  ASSERT_EQ(ok.start_watch(std::string(kSlices) + "?watch=1&timeoutSeconds=1&resourceVersion=" + current), 200u);
  EXPECT_TRUE(ok.read_events(5).empty());
  EXPECT_TRUE(ok.ended_cleanly());
}

TEST(FakeApiServer, DropMidEventLeavesAPartialLineThenTheConnectionEnds) {
  FakeApiServer server;
  Client w(server);
  ASSERT_EQ(w.start_watch(std::string(kSlices) + "?watch=1&resourceVersion=" + server.resource_version()), 200u);
  while (server.open_watches() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server.drop_connections(true);
  EXPECT_TRUE(w.read_events(1).empty());
  EXPECT_FALSE(w.ended_cleanly());
  EXPECT_TRUE(w.error());
  EXPECT_FALSE(w.partial().empty());
  EXPECT_EQ(w.partial().find('\n'), std::string::npos);
}

TEST(FakeApiServer, StopRefusesConnectsAndRestartServesTheSameStoreOnTheSamePort) {
  FakeApiServer server;
  server.put_endpoint_slice(slice("a", "web", "10.0.0.1"));
  const auto port = server.port();
  server.stop();
  EXPECT_THROW(Client{server}, boost::system::system_error);
  server.restart();
  EXPECT_EQ(server.port(), port);
  Client c(server);
  EXPECT_EQ(body_of(c.request(http::verb::get, kSlices)).at("items").as_array().size(), 1u);
  server.set_unavailable(true);
  EXPECT_EQ(c.request(http::verb::get, kSlices).result_int(), 503);
}

TEST(FakeApiServer, CreateUpdateWithOptimisticConcurrencyPatchAndDelete) {
  FakeApiServer server;
  Client c(server);
  const std::string lease_path = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
  const std::string lease = R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"wsteer"},"spec":{"holderIdentity":"a"}})";
  auto created = c.request(http::verb::post, lease_path, "test-token", lease);
  ASSERT_EQ(created.result_int(), 201);
  EXPECT_EQ(c.request(http::verb::post, lease_path, "test-token", lease).result_int(), 409);
  auto obj = body_of(created);
  const std::string stale = json::serialize(obj);
  obj["spec"].as_object()["holderIdentity"] = "b";
  EXPECT_EQ(c.request(http::verb::put, lease_path + "/wsteer", "test-token", json::serialize(obj)).result_int(), 200);
  auto conflict = c.request(http::verb::put, lease_path + "/wsteer", "test-token", stale);
  EXPECT_EQ(conflict.result_int(), 409);
  EXPECT_EQ(str(body_of(conflict).at("reason")), "Conflict");
  auto patched = c.request(http::verb::patch, lease_path + "/wsteer", "test-token", R"({"spec":{"holderIdentity":"c"}})",
                           "application/merge-patch+json");
  ASSERT_EQ(patched.result_int(), 200);
  EXPECT_EQ(str(body_of(patched).at("spec").at("holderIdentity")), "c");
  EXPECT_EQ(c.request(http::verb::delete_, lease_path + "/wsteer").result_int(), 200);
  EXPECT_EQ(c.request(http::verb::get, lease_path + "/wsteer").result_int(), 404);
  EXPECT_EQ(c.request(http::verb::get, "/apis/nope.k8s.io/v1/things").result_int(), 404);
}

TEST(FakeApiServer, ScaleSubresourceReadsAndWritesTheDeploymentsReplicas) {
  FakeApiServer server;
  server.apply("apps/v1", "deployments",
               json::parse(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}}}})")
                   .as_object());
  Client c(server);
  const std::string path = "/apis/apps/v1/namespaces/default/deployments/web/scale";
  auto scale = body_of(c.request(http::verb::get, path));
  EXPECT_EQ(str(scale.at("kind")), "Scale");
  EXPECT_EQ(str(scale.at("apiVersion")), "autoscaling/v1");
  EXPECT_EQ(scale.at("spec").at("replicas").as_int64(), 2);
  EXPECT_EQ(str(scale.at("status").at("selector")), "app=web");
  auto res = c.request(http::verb::patch, path, "test-token", R"({"spec":{"replicas":5}})", "application/merge-patch+json");
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(server.get("apps/v1", "deployments", "default", "web")->at("spec").at("replicas").as_int64(), 5);
  scale["spec"].as_object()["replicas"] = 1;  // stale resourceVersion
  EXPECT_EQ(c.request(http::verb::put, path, "test-token", json::serialize(scale)).result_int(), 409);
}


TEST(FakeApiServer, ResourceNamesLimitARuleToTheNamedObjects) {
  FakeApiServer server;
  for (const auto* name : {"web", "api"})
    server.apply("apps/v1", "deployments",
                 json::object{{"metadata", json::object{{"namespace", "default"}, {"name", name}}}, {"spec", json::object{{"replicas", 1}}}});
  server.allow("test-token", "get", "apps", "deployments/scale", "default", {"web"});
  server.allow("test-token", "list", "apps", "deployments", "default", {"web"});
  Client c(server);
  EXPECT_EQ(c.request(http::verb::get, "/apis/apps/v1/namespaces/default/deployments/web/scale").result_int(), 200);
  EXPECT_EQ(c.request(http::verb::get, "/apis/apps/v1/namespaces/default/deployments/api/scale").result_int(), 403);
  // As RBAC: a request without a name (a list, a create) never matches a rule with resourceNames.
  EXPECT_EQ(c.request(http::verb::get, "/apis/apps/v1/namespaces/default/deployments").result_int(), 403);
}

}  // namespace
}  // namespace wsteer::test
