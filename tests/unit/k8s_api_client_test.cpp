// The Kubernetes API client against the in-process test API server: what a caller sees for each
// outcome of a GET or a watch (the reason a metric carries, the message a human reads).
#include "k8s/api_client.h"

#include "harness/fake_apiserver.h"
#include "harness/test_ca.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace wsteer::k8s {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using wsteer::test::FakeApiServer;
using wsteer::test::FakeApiServerOptions;

constexpr const char* kSlices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";

json::object slice(const std::string& name, const std::string& ip) {
  return json::parse(R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"namespace":"default","name":")" +
                     name + R"(","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[{"addresses":[")" +
                     ip + R"("]}],"ports":[{"port":8080}]})")
      .as_object();
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

ClusterConfig config_for(const FakeApiServer& server, const std::string& token = "test-token") {
  ClusterConfig c;
  c.server = server.url();
  c.host = "127.0.0.1";
  c.port = std::to_string(server.port());
  c.ca_pem = server.ca_pem();
  c.token = token;
  c.origin = "/test/kubeconfig";
  return c;
}

// Drives one coroutine (and whatever it spawned) to completion on a local io_context.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  auto result = asio::co_spawn(io, std::move(task), asio::use_future);
  io.run();
  io.restart();
  return result.get();
}
template <class T>
T run(asio::awaitable<T> task) {
  asio::io_context io;
  return run(io, std::move(task));
}

// The ApiError a task ends with; a failed expectation when it ends otherwise.
template <class T>
ApiError error_of(asio::awaitable<T> task) {
  try {
    run(std::move(task));
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an ApiError";
  return ApiError(ApiErrorReason::decode, "no error");
}

// Polls `ready` every 5 ms (for at most 5 s) on the test's io_context, then runs `then`.
asio::awaitable<void> when(std::function<bool()> ready, std::function<void()> then) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < 1000 && !ready(); ++i) {
    timer.expires_after(5ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  then();
}

TEST(K8sApiClient, GetReturnsTheParsedListAndSendsTheTokenAndHeaders) {
  FakeApiServer server;
  server.put_endpoint_slice(slice("web-a", "10.0.0.1"));
  server.put_endpoint_slice(slice("web-b", "10.0.0.2"));
  ApiClient client(config_for(server));
  const auto list = run(client.get(std::string(kSlices) + "?labelSelector=kubernetes.io%2Fservice-name%3Dweb", 5s));
  EXPECT_EQ(str(list.at("kind")), "EndpointSliceList");
  ASSERT_EQ(list.at("items").as_array().size(), 2u);
  EXPECT_EQ(str(list.at("items").at(0).at("metadata").at("name")), "web-a");
  EXPECT_EQ(str(list.at("items").at(1).at("metadata").at("name")), "web-b");
  EXPECT_EQ(str(list.at("metadata").at("resourceVersion")), server.resource_version());
  EXPECT_EQ(server.seen_tokens(), std::vector<std::string>{"test-token"});
  EXPECT_EQ(server.list_requests(), 1u);
}

TEST(K8sApiClient, ADnsNameIsVerifiedAgainstTheCertificate) {
  FakeApiServer server;
  auto config = config_for(server);
  config.host = "localhost";  // a SAN of the test server's certificate; sent as SNI
  ApiClient client(config);
  EXPECT_EQ(str(run(client.get(kSlices, 5s)).at("kind")), "EndpointSliceList");
}

TEST(K8sApiClient, WrongTokenIsUnauthorized) {
  FakeApiServer server;
  ApiClient client(config_for(server, "nope"));
  const auto e = error_of(client.get(kSlices, 5s));
  EXPECT_EQ(e.reason(), ApiErrorReason::unauthorized);
  EXPECT_EQ(e.http_status(), 401);
  EXPECT_STREQ(to_string(e.reason()), "unauthorized");
  EXPECT_NE(std::string(e.what()).find(kSlices), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("401"), std::string::npos) << e.what();
}

TEST(K8sApiClient, RbacDenialIsForbiddenAndQuotesTheServer) {
  FakeApiServer server;
  server.allow("test-token", "watch", "discovery.k8s.io", "endpointslices", "default");
  ApiClient client(config_for(server));
  const auto e = error_of(client.get(kSlices, 5s));
  EXPECT_EQ(e.reason(), ApiErrorReason::forbidden);
  EXPECT_EQ(e.http_status(), 403);
  EXPECT_NE(std::string(e.what()).find("User \"system:serviceaccount:default:test-token\" cannot list resource "
                                       "\"endpointslices\" in API group \"discovery.k8s.io\" in the namespace \"default\""),
            std::string::npos)
      << e.what();
}

TEST(K8sApiClient, MissingObjectIsNotFound) {
  FakeApiServer server;
  ApiClient client(config_for(server));
  const auto e = error_of(client.get(std::string(kSlices) + "/absent", 5s));
  EXPECT_EQ(e.reason(), ApiErrorReason::not_found);
  EXPECT_EQ(e.http_status(), 404);
  EXPECT_NE(std::string(e.what()).find("\"absent\" not found"), std::string::npos) << e.what();
}

TEST(K8sApiClient, UnavailableServerIsAServerError) {
  FakeApiServer server;
  server.set_unavailable(true);
  ApiClient client(config_for(server));
  const auto e = error_of(client.get(kSlices, 5s));
  EXPECT_EQ(e.reason(), ApiErrorReason::server);
  EXPECT_EQ(e.http_status(), 503);
  EXPECT_NE(std::string(e.what()).find("the server is currently unable to handle the request"), std::string::npos) << e.what();
}

TEST(K8sApiClient, AServerSignedByAnotherCaFailsTls) {
  FakeApiServer server;
  auto config = config_for(server);
  config.ca_pem = wsteer::test::make_test_pki({"127.0.0.1"}, {"localhost"}).ca_cert_pem;
  ApiClient client(config);
  const auto e = error_of(client.get(kSlices, 5s));
  EXPECT_EQ(e.reason(), ApiErrorReason::tls) << e.what();
  EXPECT_NE(std::string(e.what()).find("the server's certificate did not verify against the CA from /test/kubeconfig"),
            std::string::npos)
      << e.what();
  EXPECT_TRUE(server.seen_tokens().empty());  // the token never left the client
}

TEST(K8sApiClient, UnusableCaIsRefusedAtConstruction) {
  FakeApiServer server;
  auto config = config_for(server);
  config.ca_pem = "not a certificate";
  try {
    ApiClient client(config);
    ADD_FAILURE() << "a garbage CA was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.reason(), ApiErrorReason::tls);
    EXPECT_NE(std::string(e.what()).find("/test/kubeconfig"), std::string::npos) << e.what();
  }
}

TEST(K8sApiClient, AClientCertificateIsLoadedAndAMismatchedKeyRefused) {
  FakeApiServer server;
  const auto mine = wsteer::test::make_test_pki({"127.0.0.1"}, {}, "wsteer-agent");
  auto config = config_for(server);
  config.client_cert_pem = mine.server_cert_pem;
  config.client_key_pem = mine.server_key_pem;
  {
    ApiClient client(config);  // the test server does not ask for it: it loads and the handshake still works
    EXPECT_EQ(str(run(client.get(kSlices, 5s)).at("kind")), "EndpointSliceList");
  }
  config.client_key_pem = wsteer::test::make_test_pki({"127.0.0.1"}, {}).server_key_pem;
  try {
    ApiClient client(config);
    ADD_FAILURE() << "a key that does not match the certificate was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.reason(), ApiErrorReason::tls);
    EXPECT_NE(std::string(e.what()).find("client certificate or key from /test/kubeconfig"), std::string::npos) << e.what();
  }
}

TEST(K8sApiClient, StoppedServerIsAConnectError) {
  FakeApiServer server;
  server.stop();
  ApiClient client(config_for(server));
  const auto e = error_of(client.get(kSlices, 5s));
  EXPECT_EQ(e.reason(), ApiErrorReason::connect) << e.what();
  EXPECT_NE(std::string(e.what()).find(server.url()), std::string::npos) << e.what();
}

TEST(K8sApiClient, ARequestThatDoesNotFinishInTimeTimesOut) {
  // A listener that never answers: the kernel completes the TCP handshake, TLS then waits forever.
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  FakeApiServer server;  // only for its CA
  auto config = config_for(server);
  config.port = std::to_string(silent.local_endpoint().port());
  ApiClient client(config);
  const auto start = std::chrono::steady_clock::now();
  const auto e = error_of(client.get(kSlices, 300ms));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(e.reason(), ApiErrorReason::timeout) << e.what();
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(K8sApiClient, TheTokenFileIsReadAgainForEveryRequest) {
  FakeApiServerOptions options;
  options.tokens = {"token-1", "token-2"};
  FakeApiServer server(options);
  char tmpl[] = "/tmp/wsteer-k8s-token-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  auto config = config_for(server, "");
  config.token_file = dir / "token";
  std::ofstream(config.token_file) << "token-1\n";
  ApiClient client(config);
  run(client.get(kSlices, 5s));
  std::ofstream(config.token_file, std::ios::trunc) << "token-2\n";  // kubelet rotated it
  run(client.get(kSlices, 5s));
  EXPECT_EQ(server.seen_tokens(), (std::vector<std::string>{"token-1", "token-2"}));
  std::filesystem::remove(config.token_file);
  const auto e = error_of(client.get(kSlices, 5s));
  EXPECT_EQ(e.reason(), ApiErrorReason::unauthorized);
  EXPECT_NE(std::string(e.what()).find(config.token_file.string()), std::string::npos) << e.what();
  std::filesystem::remove_all(dir);
}

// ---- watch ----

TEST(K8sApiClient, WatchDeliversEventsInOrderAndReturnsWhenTheServerEndsTheStream) {
  FakeApiServer server;
  server.put_endpoint_slice(slice("a", "10.0.0.1"));
  const std::string rv = server.resource_version();
  server.put_endpoint_slice(slice("b", "10.0.0.2"));
  server.put_endpoint_slice(slice("a", "10.0.0.3"));
  server.delete_endpoint_slice("default", "b");
  ApiClient client(config_for(server));
  std::vector<json::object> events;
  const auto start = std::chrono::steady_clock::now();
  run(client.watch(std::string(kSlices) + "?watch=true&resourceVersion=" + rv + "&timeoutSeconds=1", 5s,
                   [&](const json::object& e) { events.push_back(e); }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(str(events[0].at("type")), "ADDED");
  EXPECT_EQ(str(events[0].at("object").at("metadata").at("name")), "b");
  EXPECT_EQ(str(events[1].at("type")), "MODIFIED");
  EXPECT_EQ(str(events[1].at("object").at("endpoints").at(0).at("addresses").at(0)), "10.0.0.3");
  EXPECT_EQ(str(events[2].at("type")), "DELETED");
  EXPECT_EQ(str(events[2].at("object").at("metadata").at("name")), "b");
  EXPECT_EQ(server.watch_requests(), 1u);
}

TEST(K8sApiClient, WatchDeliversLiveEventsAndBookmarks) {
  FakeApiServerOptions options;
  options.bookmark_interval = 100ms;
  FakeApiServer server(options);
  ApiClient client(config_for(server));
  std::vector<std::string> types;
  asio::io_context io;
  asio::co_spawn(io, when([&] { return server.open_watches() == 1; }, [&] { server.put_endpoint_slice(slice("a", "10.0.0.1")); }),
                 asio::detached);
  run(io, client.watch(std::string(kSlices) + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=" +
                           server.resource_version(),
                       5s, [&](const json::object& e) { types.push_back(str(e.at("type"))); }));
  EXPECT_NE(std::find(types.begin(), types.end(), "ADDED"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "BOOKMARK"), types.end());
}

TEST(K8sApiClient, ADroppedWatchIsAConnectErrorAndTheHalfEventIsNotDelivered) {
  FakeApiServer server;
  ApiClient client(config_for(server));
  std::vector<json::object> events;
  asio::io_context io;
  // One whole event, then the server drops the stream after half of the next line.
  asio::co_spawn(io,
                 when([&] { return server.open_watches() == 1; },
                      [&] { server.put_endpoint_slice(slice("a", "10.0.0.1")); }),
                 asio::detached);
  asio::co_spawn(io, when([&] { return events.size() == 1; }, [&] { server.drop_connections(true); }), asio::detached);
  try {
    run(io, client.watch(std::string(kSlices) + "?watch=1&resourceVersion=" + server.resource_version(), 5s,
                         [&](const json::object& e) { events.push_back(e); }));
    ADD_FAILURE() << "the watch ended without an error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.reason(), ApiErrorReason::connect) << e.what();
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(str(events[0].at("type")), "ADDED");
}

TEST(K8sApiClient, AWatchFromACompactedVersionDeliversTheErrorEvent) {
  FakeApiServer server;
  const std::string old_rv = server.put_endpoint_slice(slice("a", "10.0.0.1"));
  server.put_endpoint_slice(slice("a", "10.0.0.2"));
  server.compact();
  ApiClient client(config_for(server));
  std::vector<json::object> events;
  run(client.watch(std::string(kSlices) + "?watch=1&resourceVersion=" + old_rv, 5s,
                   [&](const json::object& e) { events.push_back(e); }));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(str(events[0].at("type")), "ERROR");
  EXPECT_EQ(events[0].at("object").at("code").as_int64(), 410);
  EXPECT_EQ(str(events[0].at("object").at("reason")), "Expired");
}

TEST(K8sApiClient, AnIdleWatchTimesOut) {
  FakeApiServer server;
  ApiClient client(config_for(server));
  const auto start = std::chrono::steady_clock::now();
  const auto e = error_of(client.watch(std::string(kSlices) + "?watch=1&resourceVersion=" + server.resource_version(), 300ms,
                                       [](const json::object&) { ADD_FAILURE() << "no event expected"; }));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(e.reason(), ApiErrorReason::timeout) << e.what();
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(K8sApiClient, AWatchRefusedByTheServerThrowsWithItsStatus) {
  FakeApiServer server;
  server.allow("test-token", "list", "discovery.k8s.io", "endpointslices", "default");
  ApiClient client(config_for(server));
  const auto e = error_of(client.watch(std::string(kSlices) + "?watch=1", 5s, [](const json::object&) {}));
  EXPECT_EQ(e.reason(), ApiErrorReason::forbidden);
  EXPECT_EQ(e.http_status(), 403);
  EXPECT_NE(std::string(e.what()).find("cannot watch resource \"endpointslices\""), std::string::npos) << e.what();
}

TEST(K8sApiClient, AnExceptionFromTheCallbackEndsTheWatchUnchanged) {
  FakeApiServer server;
  server.put_endpoint_slice(slice("a", "10.0.0.1"));
  ApiClient client(config_for(server));
  EXPECT_THROW(run(client.watch(std::string(kSlices) + "?watch=1&resourceVersion=0&timeoutSeconds=5", 5s,
                                [](const json::object&) { throw std::logic_error("caller gave up"); })),
               std::logic_error);
}

}  // namespace
}  // namespace wsteer::k8s
