// The scaler's API I/O against the in-process test API server: the Lease store (404 absent, 409
// conflicts on create and on a stale update), two electors racing for one Lease through it, the
// scale subresource read and its conditional merge patch, and the agent-to-agent HTTP fetch.
#include "harness/fake_apiserver.h"
#include "k8s/api_client.h"
#include "scaler/api_lease_store.h"
#include "scaler/http_get.h"
#include "scaler/lease_election.h"
#include "scaler/scale_config.h"
#include "scaler/scale_subresource.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <thread>

namespace wsteer::scaler {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using wsteer::test::FakeApiServer;

std::shared_ptr<k8s::ApiClient> client_for(const FakeApiServer& server) {
  k8s::ClusterConfig c;
  c.server = server.url();
  c.host = "127.0.0.1";
  c.port = std::to_string(server.port());
  c.ca_pem = server.ca_pem();
  c.token = "test-token";
  c.origin = "test";
  return std::make_shared<k8s::ApiClient>(c);
}

template <class T>
T run(asio::awaitable<T> task) {
  asio::io_context io;
  auto result = asio::co_spawn(io, std::move(task), asio::use_future);
  io.run();
  return result.get();
}

LeaseRecord record(const std::string& holder) { return {holder, 15, "2026-12-03T08:00:00.000000Z", "2026-12-03T08:00:00.000000Z", 0}; }

TEST(ApiLeaseStore, AbsentCreateConflictUpdate) {
  FakeApiServer server;
  ApiLeaseStore store(client_for(server), "wsteer", "wsteer-scaler.deployment.demo.chat", 5s);
  EXPECT_FALSE(run(store.get())) << "a Lease that does not exist is absent, not an error";

  EXPECT_EQ(run(store.create(make_lease("wsteer", "wsteer-scaler.deployment.demo.chat", record("a")))), WriteOutcome::ok);
  EXPECT_EQ(run(store.create(make_lease("wsteer", "wsteer-scaler.deployment.demo.chat", record("b")))), WriteOutcome::conflict)
      << "a second create loses";

  const auto read = run(store.get());
  ASSERT_TRUE(read);
  EXPECT_EQ(read_lease_record(read->object).holder_identity, "a");
  EXPECT_EQ(run(store.update(make_lease("wsteer", "wsteer-scaler.deployment.demo.chat", record("b")), read->resource_version)),
            WriteOutcome::ok);
  EXPECT_EQ(run(store.update(make_lease("wsteer", "wsteer-scaler.deployment.demo.chat", record("c")), read->resource_version)),
            WriteOutcome::conflict)
      << "an update from a stale resourceVersion loses";
  EXPECT_EQ(read_lease_record(run(store.get())->object).holder_identity, "b");
}

TEST(ApiLeaseStore, OtherFailuresThrow) {
  FakeApiServer server;
  server.allow("test-token", "get", "discovery.k8s.io", "endpointslices");  // RBAC on: no lease rights
  ApiLeaseStore store(client_for(server), "wsteer", "x", 5s);
  try {
    run(store.get());
    ADD_FAILURE() << "expected a 403";
  } catch (const k8s::ApiError& e) {
    EXPECT_EQ(e.reason(), k8s::ApiErrorReason::forbidden) << e.what();
  }
}

TEST(ApiLeaseStore, TwoElectorsOneLeader) {
  FakeApiServer server;
  auto client = client_for(server);
  LeaseElectionConfig ca{"wsteer", "lease", "agent-a"}, cb{"wsteer", "lease", "agent-b"};
  LeaseElector a(ca), b(cb);
  ApiLeaseStore store(client, "wsteer", "lease", 5s);
  const auto ra = run(a.run_round(store, ElectionTime::now()));
  const auto rb = run(b.run_round(store, ElectionTime::now()));
  EXPECT_TRUE(ra.leader);
  EXPECT_EQ(ra.outcome, RoundOutcome::created);
  EXPECT_FALSE(rb.leader);
  EXPECT_EQ(rb.outcome, RoundOutcome::held_by_other);
  EXPECT_EQ(rb.holder, "agent-a");
  // Released on shutdown: the other takes it at its next round.
  EXPECT_TRUE(run(a.release(store, ElectionTime::now())));
  const auto rb2 = run(b.run_round(store, ElectionTime::now()));
  EXPECT_TRUE(rb2.leader) << to_string(rb2.outcome);
}

TEST(ScaleSubresource, ConditionalMergePatch) {
  FakeApiServer server;
  auto client = client_for(server);
  server.apply("apps/v1", "deployments",
               json::object{{"metadata", json::object{{"name", "chat"}, {"namespace", "demo"}}}, {"spec", json::object{{"replicas", 2}}}});
  const ScaleTarget target{TargetKind::deployment, "chat"};
  const auto state = read_scale(run(client->get(target.scale_path("demo"), 5s)));
  EXPECT_EQ(state.spec_replicas, 2);

  run(client->send(boost::beast::http::verb::patch, target.scale_path("demo"), scale_patch(5, state.resource_version),
                   "application/merge-patch+json", 5s));
  EXPECT_EQ(server.get("apps/v1", "deployments", "demo", "chat")->at("spec").at("replicas").to_number<int>(), 5);
  try {  // the same resourceVersion again: the Scale changed since it was read
    run(client->send(boost::beast::http::verb::patch, target.scale_path("demo"), scale_patch(7, state.resource_version),
                     "application/merge-patch+json", 5s));
    ADD_FAILURE() << "expected a 409";
  } catch (const k8s::ApiError& e) {
    EXPECT_EQ(e.reason(), k8s::ApiErrorReason::conflict) << e.what();
  }
  EXPECT_EQ(server.get("apps/v1", "deployments", "demo", "chat")->at("spec").at("replicas").to_number<int>(), 5);
}

TEST(HttpGetAll, RepliesAndFailuresPerEndpoint) {
  // One endpoint answers, one refuses (nothing listens), all within the deadline.
  asio::io_context server_io;
  asio::ip::tcp::acceptor acceptor(server_io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto good = acceptor.local_endpoint();
  asio::ip::tcp::acceptor closed(server_io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto refused = closed.local_endpoint();
  closed.close();
  std::thread serve([&] {
    auto socket = acceptor.accept();
    char buf[1024];
    socket.read_some(asio::buffer(buf));
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    asio::write(socket, asio::buffer(reply));
  });
  const auto all = run(http_get_all({good, refused}, "/v1/connections", 2s));
  serve.join();
  ASSERT_EQ(all.replies.size(), 2u);
  ASSERT_TRUE(all.replies[0]);
  EXPECT_EQ(all.replies[0]->status, 200);
  EXPECT_EQ(all.replies[0]->body, "{}");
  EXPECT_FALSE(all.replies[1]);
  EXPECT_NE(all.errors[1].find("connect"), std::string::npos) << all.errors[1];
}

}  // namespace
}  // namespace wsteer::scaler
