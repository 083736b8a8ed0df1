// EndpointSliceSource against the in-process API server (real TLS, tokens, list + watch,
// bookmarks, compaction, dropped streams, outages): what a user of the agent would check, that
// the backend list follows the Service's EndpointSlices and survives the API server's faults.
#include "endpoints/endpoint_slice_source.h"
#include "harness/fake_apiserver.h"
#include "k8s/api_client.h"
#include "k8s/api_error.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/array.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace wsteer::steering {
void PrintTo(const Endpoint& e, std::ostream* out) {
  *out << e.name << "=" << e.address.to_string() << ":" << e.port << (e.draining ? " drain" : "");
}
}  // namespace wsteer::steering

namespace wsteer::endpoints {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using steering::Endpoint;
using steering::EndpointList;
using clock_type = std::chrono::steady_clock;

// A slice of Service "echo" in "default" with pods [first, first + count): pod-N at 10.1.N/250.N%250+1.
json::object slice(const std::string& name, int first, int count, const std::string& service = "echo") {
  json::array endpoints;
  for (int n = first; n < first + count; ++n) {
    const auto ip = "10.1." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 1);
    endpoints.push_back(json::object{
        {"addresses", json::array{ip}},
        {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}},
        {"targetRef", {{"kind", "Pod"}, {"namespace", "default"}, {"name", "pod-" + std::to_string(n)}}},
    });
  }
  return json::object{
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", {{"kubernetes.io/service-name", service}}}}},
      {"addressType", "IPv4"},
      {"endpoints", endpoints},
      {"ports", json::array{json::object{{"name", "web"}, {"port", 8080}, {"protocol", "TCP"}}}},
  };
}

std::vector<std::string> names(const EndpointList& list) {
  std::vector<std::string> out;
  for (const auto& e : list) out.push_back(e.name);
  return out;
}

std::vector<std::string> pods(int first, int count) {
  std::map<std::string, int> sorted;  // the source sorts by name
  for (int n = first; n < first + count; ++n) sorted["pod-" + std::to_string(n)] = n;
  std::vector<std::string> out;
  for (const auto& [name, n] : sorted) out.push_back(name);
  return out;
}

// Everything the source tells: deliveries (with their time) and observer calls.
class Recorder : public EndpointSliceObserver {
 public:
  void deliver(const EndpointList& list) {
    std::lock_guard lock(mu_);
    if (stopped_) ++after_stop_;
    lists_.push_back(list);
    times_.push_back(clock_type::now());
    cv_.notify_all();
  }
  void watch_event(std::string_view type) override {
    std::lock_guard lock(mu_);
    ++events_[std::string(type)];
    cv_.notify_all();
  }
  void relisted() override {
    std::lock_guard lock(mu_);
    ++relists_;
    cv_.notify_all();
  }
  void error(k8s::ApiErrorReason reason) override {
    std::lock_guard lock(mu_);
    ++errors_[reason];
    cv_.notify_all();
  }
  void synced() override {
    std::lock_guard lock(mu_);
    ++syncs_;
    cv_.notify_all();
  }

  // Waits until pred() (called under the lock) holds; false after `timeout`.
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }
  bool wait_for_names(const std::vector<std::string>& expected, std::chrono::milliseconds timeout = 10s) {
    return wait([&] { return !lists_.empty() && names(lists_.back()) == expected; }, timeout);
  }

  std::vector<EndpointList> lists() const {
    std::lock_guard lock(mu_);
    return lists_;
  }
  std::vector<std::vector<std::string>> name_lists() const {
    std::lock_guard lock(mu_);
    std::vector<std::vector<std::string>> out;
    for (const auto& l : lists_) out.push_back(names(l));
    return out;
  }
  clock_type::time_point last_time() const {
    std::lock_guard lock(mu_);
    return times_.back();
  }
  std::size_t deliveries() const {
    std::lock_guard lock(mu_);
    return lists_.size();
  }
  std::size_t events(const std::string& type) const {
    std::lock_guard lock(mu_);
    const auto it = events_.find(type);
    return it == events_.end() ? 0 : it->second;
  }
  std::size_t errors(k8s::ApiErrorReason reason) const {
    std::lock_guard lock(mu_);
    const auto it = errors_.find(reason);
    return it == errors_.end() ? 0 : it->second;
  }
  std::size_t relists() const {
    std::lock_guard lock(mu_);
    return relists_;
  }
  std::size_t syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
  }
  std::size_t syncs_unlocked() const { return syncs_; }    // inside wait() predicates
  std::size_t relists_unlocked() const { return relists_; }
  std::size_t errors_unlocked(k8s::ApiErrorReason reason) const {
    const auto it = errors_.find(reason);
    return it == errors_.end() ? 0 : it->second;
  }
  std::size_t deliveries_unlocked() const { return lists_.size(); }
  void mark_stopped() {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  std::size_t after_stop() const {
    std::lock_guard lock(mu_);
    return after_stop_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<EndpointList> lists_;
  std::vector<clock_type::time_point> times_;
  std::map<std::string, std::size_t> events_;
  std::map<k8s::ApiErrorReason, std::size_t> errors_;
  std::size_t relists_ = 0, syncs_ = 0, after_stop_ = 0;
  bool stopped_ = false;
};

// The source's log lines while it lives (spdlog's default logger, restored afterwards).
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)), previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& line : sink_->last_formatted())
      if (line.find("EndpointSlices of default/echo") != std::string::npos) out.push_back(line);
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

class EndpointSliceSourceTest : public testing::Test {
 protected:
  explicit EndpointSliceSourceTest(test::FakeApiServerOptions options = {}) : server_(std::move(options)) {
    // A fresh fake store is at resourceVersion 0, which a watch reads as "any version" (the
    // current state as synthetic ADDED events, no history). A real cluster is never at 0.
    server_.put_endpoint_slice(slice("unrelated", 900, 1, "other"));
  }

  std::shared_ptr<k8s::ApiClient> client() {
    k8s::ClusterConfig config;
    config.server = server_.url();
    config.host = "127.0.0.1";
    config.port = std::to_string(server_.port());
    config.ca_pem = server_.ca_pem();
    config.token = "test-token";
    config.ns = "default";
    config.origin = "test";
    return std::make_shared<k8s::ApiClient>(std::move(config));
  }

  EndpointSliceSourceOptions options() {
    EndpointSliceSourceOptions o;
    o.ns = "default";
    o.service = "echo";
    o.port = "web";
    o.watch_timeout = 1s;
    o.request_timeout = 2000ms;
    o.backoff_initial = 20ms;
    o.backoff_max = 200ms;
    return o;
  }

  void start(EndpointSliceSourceOptions o) {
    source_ = std::make_unique<EndpointSliceSource>(client(), std::move(o),
                                                    [this](const EndpointList& l) { recorder_.deliver(l); }, &recorder_);
    source_->start();
  }
  void start() { start(options()); }

  // The server outlives the source: members are destroyed in reverse order.
  test::FakeApiServer server_;
  Recorder recorder_;
  std::unique_ptr<EndpointSliceSource> source_;
};

TEST_F(EndpointSliceSourceTest, FirstListIsDeliveredEvenWhenEmptyAndMarksSynced) {
  server_.put_endpoint_slice(slice("other-1", 0, 3, "other"));  // another Service: not ours
  start();
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.deliveries_unlocked() == 1 && recorder_.syncs_unlocked() >= 1; }));
  EXPECT_TRUE(recorder_.lists()[0].empty());
  EXPECT_TRUE(source_->synced());
  EXPECT_EQ(server_.list_requests(), 1u);
  EXPECT_EQ(recorder_.relists(), 0u);
}

TEST_F(EndpointSliceSourceTest, FirstListFollowsContinuePagesAndHasEverySlice) {
  for (int s = 0; s < 5; ++s) server_.put_endpoint_slice(slice("echo-" + std::to_string(s), s * 2, 2));
  auto o = options();
  o.page_size = 2;
  start(o);
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 10)));
  EXPECT_EQ(recorder_.deliveries(), 1u);  // one list, one delivery, however many pages
  EXPECT_EQ(server_.list_requests(), 3u);
  const auto e = recorder_.lists().back().front();
  EXPECT_EQ(e, (Endpoint{"pod-0", boost::asio::ip::make_address("10.1.0.1"), 8080, 1, false, 0}));
}

TEST_F(EndpointSliceSourceTest, AddScaleAndDeleteAreDeliveredInOrder) {
  start();
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.deliveries_unlocked() == 1; }));
  server_.put_endpoint_slice(slice("echo-a", 0, 1));  // add
  server_.put_endpoint_slice(slice("echo-a", 0, 3));  // scale up
  server_.put_endpoint_slice(slice("echo-b", 3, 2));  // a second slice
  server_.put_endpoint_slice(slice("echo-a", 0, 3));  // no-op update: no event, no delivery
  server_.delete_endpoint_slice("default", "echo-a");
  server_.put_endpoint_slice(slice("echo-b", 4, 1));  // scale down
  ASSERT_TRUE(recorder_.wait_for_names(pods(4, 1)));
  EXPECT_EQ(recorder_.name_lists(), (std::vector<std::vector<std::string>>{
                                        {}, pods(0, 1), pods(0, 3), pods(0, 5), pods(3, 2), pods(4, 1)}));
  EXPECT_EQ(recorder_.events("ADDED"), 2u);
  EXPECT_EQ(recorder_.events("MODIFIED"), 2u);
  EXPECT_EQ(recorder_.events("DELETED"), 1u);
  EXPECT_EQ(server_.list_requests(), 1u);
}

// A change landing between the list and the watch request (here: made from the first
// on_change, which runs before the watch starts) arrives with the watch's replay at once, not
// when the watch is next renewed.
TEST_F(EndpointSliceSourceTest, ChangeBetweenListAndWatchArrivesAtOnce) {
  auto o = options();
  o.watch_timeout = 30s;
  source_ = std::make_unique<EndpointSliceSource>(
      client(), o,
      [this](const EndpointList& l) {
        if (recorder_.deliveries() == 0) server_.put_endpoint_slice(slice("echo-a", 0, 2));
        recorder_.deliver(l);
      },
      &recorder_);
  const auto t0 = clock_type::now();
  source_->start();
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 2), 10s));
  EXPECT_LT(recorder_.last_time() - t0, 2s);
  EXPECT_EQ(recorder_.deliveries(), 2u);
  EXPECT_EQ(server_.list_requests(), 1u);
}

TEST_F(EndpointSliceSourceTest, ExpiredWatchIsRenewedFromTheLastVersionWithoutRelisting) {
  start();  // watch_timeout 1 s: the server ends each watch after about a second
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.deliveries_unlocked() == 1; }));
  const auto deadline = clock_type::now() + 10s;
  while (server_.watch_requests() < 3 && clock_type::now() < deadline) std::this_thread::sleep_for(50ms);
  ASSERT_GE(server_.watch_requests(), 3u);
  server_.put_endpoint_slice(slice("echo-a", 0, 2));
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 2)));
  EXPECT_EQ(server_.list_requests(), 1u);
  EXPECT_EQ(recorder_.relists(), 0u);
  EXPECT_EQ(recorder_.errors(k8s::ApiErrorReason::connect) + recorder_.errors(k8s::ApiErrorReason::timeout), 0u);
  // Every renewed watch asked for the version it had reached, never for a fresh start.
  for (const auto& r : server_.requests())
    if (r.find("watch=true") != std::string::npos) {
      EXPECT_NE(r.find("allowWatchBookmarks=true"), std::string::npos) << r;
      EXPECT_NE(r.find("resourceVersion="), std::string::npos) << r;
      EXPECT_EQ(r.find("resourceVersion=&"), std::string::npos) << r;
      EXPECT_NE(r.find("labelSelector=kubernetes.io%2Fservice-name%3Decho"), std::string::npos) << r;
    }
}

class WithBookmarks : public EndpointSliceSourceTest {
 protected:
  static test::FakeApiServerOptions bookmarks() {
    test::FakeApiServerOptions o;
    o.bookmark_interval = 100ms;
    return o;
  }
  WithBookmarks() : EndpointSliceSourceTest(bookmarks()) {}
};

TEST_F(WithBookmarks, BookmarksSyncButDeliverNothing) {
  server_.put_endpoint_slice(slice("echo-a", 0, 2));
  start();
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 2)));
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.syncs_unlocked() >= 4; }));
  EXPECT_GE(recorder_.events("BOOKMARK"), 3u);
  EXPECT_EQ(recorder_.deliveries(), 1u);
}

TEST_F(EndpointSliceSourceTest, DroppedStreamsMidEventLoseNoEventAndApplyNoneTwice) {
  start();
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.deliveries_unlocked() == 1; }));
  // Put i writes slice echo-(i % 3) with pods [0, i): the union grows by one pod per put.
  for (int i = 1; i <= 12; ++i) {
    server_.put_endpoint_slice(slice("echo-" + std::to_string(i % 3), 0, i));
    if (i % 2 == 0) server_.drop_connections(true);  // half a line, then the TCP connection is gone
    if (i % 4 == 0) std::this_thread::sleep_for(30ms);
  }
  server_.drop_connections(true);
  // Pods [0, 12) are all in echo-0 (the last put, i = 12); the others hold fewer.
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 12)));
  const auto lists = recorder_.name_lists();
  // Puts i = 1, 2 ... each add pod i-1 to the union, so every delivery after the first adds
  // exactly one pod: nothing skipped, nothing applied twice (no two equal deliveries in a row).
  ASSERT_EQ(lists.size(), 13u);
  for (std::size_t i = 0; i < lists.size(); ++i) EXPECT_EQ(lists[i], pods(0, static_cast<int>(i))) << i;
  EXPECT_EQ(server_.list_requests(), 1u);  // resumed from the last version, never relisted
  EXPECT_GE(server_.watch_requests(), 2u);
  EXPECT_GE(recorder_.errors(k8s::ApiErrorReason::connect), 1u);  // the drops were seen as such
}

TEST_F(EndpointSliceSourceTest, WhileTheServerIsDownTheLastListStaysThenItConverges) {
  server_.put_endpoint_slice(slice("echo-a", 0, 3));
  start();
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 3)));
  server_.stop();
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.errors_unlocked(k8s::ApiErrorReason::connect) >= 3; }));
  server_.put_endpoint_slice(slice("echo-a", 0, 5));
  server_.put_endpoint_slice(slice("echo-b", 10, 1));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(recorder_.deliveries(), 1u);  // nothing cleared, nothing invented while down
  server_.restart();
  std::vector<std::string> expected = pods(0, 5);
  expected.push_back("pod-10");
  std::sort(expected.begin(), expected.end());
  ASSERT_TRUE(recorder_.wait_for_names(expected));
  EXPECT_EQ(recorder_.relists(), 0u);  // history was still there: the watch resumed
  EXPECT_EQ(server_.list_requests(), 1u);
}

TEST_F(EndpointSliceSourceTest, ServiceUnavailableBacksOffAndKeepsTheList) {
  server_.put_endpoint_slice(slice("echo-a", 0, 2));
  start();
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 2)));
  server_.set_unavailable(true);
  server_.drop_connections(false);
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.errors_unlocked(k8s::ApiErrorReason::server) >= 3; }));
  EXPECT_EQ(recorder_.deliveries(), 1u);
  server_.set_unavailable(false);
  server_.put_endpoint_slice(slice("echo-a", 0, 4));
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 4)));
}

TEST_F(EndpointSliceSourceTest, CompactionDuringAnOutageRelistsToTheRightSet) {
  server_.put_endpoint_slice(slice("echo-a", 0, 3));
  server_.put_endpoint_slice(slice("echo-b", 3, 3));
  start();
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 6)));
  server_.stop();
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.errors_unlocked(k8s::ApiErrorReason::connect) >= 1; }));
  server_.delete_endpoint_slice("default", "echo-a");
  server_.put_endpoint_slice(slice("echo-b", 3, 4));
  server_.put_endpoint_slice(slice("echo-c", 20, 1));
  server_.compact();  // the watch's version is now too old: ERROR 410, then a relist
  server_.restart();
  std::vector<std::string> expected = pods(3, 4);
  expected.push_back("pod-20");
  std::sort(expected.begin(), expected.end());
  ASSERT_TRUE(recorder_.wait_for_names(expected));
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.relists_unlocked() == 1; }));
  EXPECT_EQ(server_.list_requests(), 2u);
  EXPECT_GE(recorder_.events("ERROR"), 1u);
  // The relist is one change: from the list before the outage straight to the final one.
  EXPECT_EQ(recorder_.deliveries(), 2u);

  // And the source goes on watching from the relist's version.
  server_.put_endpoint_slice(slice("echo-c", 20, 2));
  expected.push_back("pod-21");
  std::sort(expected.begin(), expected.end());
  ASSERT_TRUE(recorder_.wait_for_names(expected));
  EXPECT_EQ(recorder_.relists(), 1u);
}

TEST_F(EndpointSliceSourceTest, UnauthorizedIsCountedAndRetriedUntilTheTokenWorks) {
  server_.set_tokens({"someone-else"});
  server_.put_endpoint_slice(slice("echo-a", 0, 2));
  start();
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.errors_unlocked(k8s::ApiErrorReason::unauthorized) >= 3; }));
  EXPECT_EQ(recorder_.deliveries(), 0u);
  EXPECT_FALSE(source_->synced());
  server_.set_tokens({"test-token"});
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 2)));
  EXPECT_TRUE(source_->synced());
}

// Operators read these lines: one per failure reason (not one per retry), "still failing" when
// the reason changes, "recovered" once it works again.
TEST_F(EndpointSliceSourceTest, LogsOneLinePerFailureReasonThenRecovered) {
  LogCapture logs;

  server_.set_tokens({"someone-else"});
  server_.put_endpoint_slice(slice("echo-a", 0, 1));
  start();
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.errors_unlocked(k8s::ApiErrorReason::unauthorized) >= 3; }));
  server_.stop();
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.errors_unlocked(k8s::ApiErrorReason::connect) >= 3; }));
  server_.set_tokens({"test-token"});
  server_.restart();
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 1)));
  source_->stop();

  const auto lines = logs.lines();
  std::string all;
  for (const auto& line : lines) all += line;
  ASSERT_EQ(lines.size(), 4u) << all;
  EXPECT_NE(lines[0].find("(unauthorized); retrying with backoff, no list yet"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("still failing"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("still failing: "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("(connect)"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("listed 1 slice(s), 1 endpoint(s)"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("recovered after"), std::string::npos) << lines[3];
}

// A slice the agent cannot use (its port is missing) is said once in the log, not dropped
// silently, and the slices that are fine still count.
TEST_F(EndpointSliceSourceTest, UnusableSlicesAreLoggedWhenTheProblemsChange) {
  LogCapture logs;
  server_.put_endpoint_slice(slice("echo-a", 0, 2));
  auto wrong_port = slice("echo-b", 5, 1);
  wrong_port["ports"] = json::array{json::object{{"name", "grpc"}, {"port", 9000}, {"protocol", "TCP"}}};
  server_.put_endpoint_slice(wrong_port);
  start();
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 2)));
  server_.put_endpoint_slice(slice("echo-a", 0, 3));  // same problem: not logged again
  ASSERT_TRUE(recorder_.wait_for_names(pods(0, 3)));
  server_.put_endpoint_slice(slice("echo-b", 5, 1));  // fixed
  ASSERT_TRUE(recorder_.wait_for_names({"pod-0", "pod-1", "pod-2", "pod-5"}));
  source_->stop();

  std::size_t problem_lines = 0, fixed_lines = 0;
  for (const auto& line : logs.lines()) {
    if (line.find("EndpointSlice echo-b: no TCP port named \"web\" (has: grpc 9000)") != std::string::npos) ++problem_lines;
    if (line.find("every slice is usable again") != std::string::npos) ++fixed_lines;
  }
  EXPECT_EQ(problem_lines, 1u);
  EXPECT_EQ(fixed_lines, 1u);
}

// A continue token from before a compaction gets 410: the list starts again from the first page
// and still ends with every slice (the API server compacts every few minutes; a big Service's
// list can span a compaction).
TEST_F(EndpointSliceSourceTest, ListContinueExpiredByCompactionStartsTheListAgain) {
  for (int s = 0; s < 30; ++s) server_.put_endpoint_slice(slice("echo-" + std::to_string(s), s, 1));
  std::atomic<bool> churn{true};
  std::thread compactor([&] {
    // Writes (to another Service) and compactions while the pages are read.
    for (int i = 0; churn && i < 300; ++i) {
      server_.put_endpoint_slice(slice("unrelated", 900, 1 + i % 2, "other"));
      server_.compact();
      std::this_thread::sleep_for(1ms);
    }
  });
  auto o = options();
  o.page_size = 1;
  start(o);
  const bool listed = recorder_.wait_for_names(pods(0, 30), 30s);  // 30 TLS requests a try: slow under valgrind
  churn = false;
  compactor.join();
  ASSERT_TRUE(listed);
  EXPECT_EQ(recorder_.deliveries(), 1u);
  // Before the first watch: a page with a continue token, and later a first page again.
  bool saw_continue = false, restarted = false;
  for (const auto& r : server_.requests()) {
    if (r.find("watch=true") != std::string::npos) break;
    if (r.find("endpointslices") == std::string::npos) continue;
    if (r.find("continue=") != std::string::npos) saw_continue = true;
    else if (saw_continue) restarted = true;
  }
  EXPECT_TRUE(restarted);
  EXPECT_EQ(source_->synced(), true);
}

TEST_F(EndpointSliceSourceTest, StopEndsPromptlyDuringABlockedWatchAndNothingIsDeliveredAfter) {
  auto o = options();
  o.watch_timeout = 60s;  // the watch would block for a minute
  start(o);
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.deliveries_unlocked() == 1; }));
  const auto deadline = clock_type::now() + 5s;
  while (server_.open_watches() == 0 && clock_type::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(server_.open_watches(), 1u);
  std::this_thread::sleep_for(100ms);
  const auto t0 = clock_type::now();
  source_->stop();
  const auto took = clock_type::now() - t0;
  recorder_.mark_stopped();
  EXPECT_LT(took, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  server_.put_endpoint_slice(slice("echo-a", 0, 2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(recorder_.after_stop(), 0u);
  source_->stop();  // idempotent
  // The connection was closed with the source, not left to the server's timeout.
  const auto closed_by = clock_type::now() + 3s;
  while (server_.open_watches() != 0 && clock_type::now() < closed_by) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server_.open_watches(), 0u);
}

TEST_F(EndpointSliceSourceTest, StopEndsPromptlyDuringABlockedList) {
  // A server that accepts TCP connections and never answers: the TLS handshake of the list
  // hangs until request_timeout (a minute here).
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  k8s::ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
  config.host = "127.0.0.1";
  config.port = std::to_string(silent.local_endpoint().port());
  config.ca_pem = server_.ca_pem();
  config.token = "test-token";
  auto o = options();
  o.request_timeout = 60s;
  source_ = std::make_unique<EndpointSliceSource>(std::make_shared<k8s::ApiClient>(config), o,
                                                  [this](const EndpointList& l) { recorder_.deliver(l); }, &recorder_);
  source_->start();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(recorder_.deliveries(), 0u);
  const auto t0 = clock_type::now();
  source_->stop();
  const auto took = clock_type::now() - t0;
  EXPECT_LT(took, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(recorder_.errors(k8s::ApiErrorReason::timeout), 0u);  // it was still waiting, not failing
}

TEST_F(EndpointSliceSourceTest, StopWhileBackingOffIsPromptToo) {
  server_.set_tokens({"someone-else"});
  auto o = options();
  o.backoff_initial = 5s;
  o.backoff_max = 10s;
  start(o);
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.errors_unlocked(k8s::ApiErrorReason::unauthorized) >= 1; }));
  const auto t0 = clock_type::now();
  source_->stop();
  EXPECT_LT(clock_type::now() - t0, 1s);
}

TEST_F(EndpointSliceSourceTest, ThousandEndpointsInTenSlicesArriveQuickly) {
  auto o = options();
  o.watch_timeout = 5s;
  start(o);
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.deliveries_unlocked() == 1; }));
  const auto t0 = clock_type::now();
  for (int s = 0; s < 10; ++s) server_.put_endpoint_slice(slice("echo-" + std::to_string(s), s * 100, 100));
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.deliveries_unlocked() >= 1 + 10; }));
  const auto all = recorder_.lists().back();
  ASSERT_EQ(all.size(), 1000u);
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(recorder_.last_time() - t0);
  std::printf("1000 endpoints in 10 slices: first put_endpoint_slice to the on_change with all 1000: %.1f ms\n",
              took.count() / 1000.0);
  EXPECT_LT(took, 2s);

  // One pod of the 1000 changes: one event, one delivery.
  auto changed = slice("echo-7", 700, 100);
  changed["endpoints"].as_array()[0].as_object()["conditions"] =
      json::object{{"ready", false}, {"serving", true}, {"terminating", true}};
  const auto t1 = clock_type::now();
  server_.put_endpoint_slice(changed);
  ASSERT_TRUE(recorder_.wait([&] { return recorder_.deliveries_unlocked() == 12; }));
  const auto one = std::chrono::duration_cast<std::chrono::microseconds>(recorder_.last_time() - t1);
  std::printf("one endpoint of 1000 starts draining: put_endpoint_slice to on_change: %.1f ms\n", one.count() / 1000.0);
  EXPECT_LT(one, 2s);
  std::size_t draining = 0;
  const auto last = recorder_.lists().back();
  for (const auto& e : last) draining += e.draining;
  EXPECT_EQ(draining, 1u);
}

}  // namespace
}  // namespace wsteer::endpoints
