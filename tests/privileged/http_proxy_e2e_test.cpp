// Plain HTTP/1.1 through the agent's WebSocket port (docs/http.md), end to end: real agent, real
// echo backends (demo/http_endpoints.h), Beast HTTP clients in the client namespace.
#include "demo/pattern.h"
#include "harness/agent_under_test.h"
#include "harness/netns.h"
#include "harness/privileges.h"
#include "harness/ws_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

namespace wsteer::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr std::uint64_t kBig = 50'000'000;  // bytes each way in the large-body test

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void add(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &len);
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      char two[3];
      std::snprintf(two, sizeof two, "%02x", digest[i]);
      out += two;
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

std::string pattern_sha(std::uint64_t n) {
  demo::Pattern p(n);
  Sha256 sha;
  for (std::uint64_t left = n; left > 0;) {
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(left, 64 * 1024));
    const auto piece = p.next(k);
    sha.add(piece.data(), k);
    left -= k;
  }
  return sha.hex();
}

// One client connection to the agent, for many requests (keep-alive).
struct Client {
  beast::tcp_stream stream;
  beast::flat_buffer buffer;

  static awaitable<std::unique_ptr<Client>> connect(const std::string& host) {
    // The executor first: GCC 12 destroys a temporary twice when a co_await sits inside its
    // initializer (ASan: use after free).
    auto ex = co_await asio::this_coro::executor;
    auto c = std::unique_ptr<Client>(new Client{beast::tcp_stream(ex), {}});
    co_await c->stream.async_connect(tcp::endpoint(asio::ip::make_address(host), AgentUnderTest::kPort), use_awaitable);
    co_return c;
  }
  awaitable<http::response<http::string_body>> get(const std::string& target, const Headers& headers = {}) {
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "wsteer.test");
    for (const auto& [k, v] : headers) req.set(k, v);
    co_await http::async_write(stream, req, use_awaitable);
    co_return co_await read();
  }
  awaitable<http::response<http::string_body>> read() {
    http::response_parser<http::string_body> p;
    p.body_limit(boost::none);
    co_await http::async_read(stream, buffer, p, use_awaitable);
    co_return p.release();
  }
};

// (GCC 12 cannot brace-initialise Headers from string literals inside a coroutine.)
Headers header(std::string name, std::string value) { return Headers{std::pair{std::move(name), std::move(value)}}; }

std::string cookie_of(const http::response<http::string_body>& res) {
  const auto v = std::string(res[http::field::set_cookie]);
  return v.substr(0, v.find(';'));
}

class HttpProxyE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    WSTEER_REQUIRE_PRIVILEGED();
    topology_ = std::make_unique<Topology>(3);
    backends_ = std::make_unique<Backends>(*topology_, dir_);
    secret_ = dir_.path() / "secret";
    std::ofstream(secret_) << "0123456789abcdef0123456789abcdef\n";
  }
  void TearDown() override {
    if (agent_ && HasFailure()) std::cerr << "---- agent log ----\n" << agent_->process().log();
    agent_.reset();
    backends_.reset();
    topology_.reset();
  }
  AgentUnderTest& start(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--sticky-cookie", "wsteer", "--cookie-secret-file", secret_.string()});
    agent_ = std::make_unique<AgentUnderTest>(*topology_, dir_, backends_->endpoints(), "splice", args);
    return *agent_;
  }
  void client(std::chrono::milliseconds limit, const std::function<awaitable<void>()>& task) {
    run_in_netns(topology_->client_ns(), limit, task);
  }
  double http_requests(const std::string& labels) {
    return agent_->metrics()["wsteer_http_requests_total{" + labels + "}"];
  }
  // Peak resident memory of the agent (VmHWM), in bytes.
  std::uint64_t agent_peak_rss() {
    std::ifstream status("/proc/" + std::to_string(agent_->process().pid()) + "/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    return 0;
  }

  TempDir dir_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<AgentUnderTest> agent_;
  std::filesystem::path secret_;
};

TEST_F(HttpProxyE2E, KeepAliveReusesOneBackendConnectionAndPipeliningAnswersInOrder) {
  auto& agent = start();
  client(30s, [&]() -> awaitable<void> {
    auto c = co_await Client::connect(agent.host());
    std::set<std::string> backends, backend_conns;
    for (int i = 0; i < 50; ++i) {
      auto res = co_await c->get("/whoami");
      EXPECT_EQ(res.result_int(), 200);
      EXPECT_TRUE(res.keep_alive());
      backends.insert(std::string(res["X-Wsteer-Backend"]));
      backend_conns.insert(std::string(res["X-Backend-Conn"]));
    }
    EXPECT_EQ(backends.size(), 1u) << "one client connection, no cookie sent: one backend";
    EXPECT_EQ(backend_conns.size(), 1u) << "50 requests should share one backend connection";

    // Five requests in one write: five answers, in order, the last one closing.
    std::string burst;
    for (int i = 1; i <= 5; ++i)
      burst += "GET /download/" + std::to_string(i * 8) + " HTTP/1.1\r\nHost: x\r\n" + (i == 5 ? "Connection: close\r\n" : "") + "\r\n";
    co_await asio::async_write(c->stream, asio::buffer(burst), use_awaitable);
    for (int i = 1; i <= 5; ++i) {
      auto res = co_await c->read();
      EXPECT_EQ(res.body().size(), static_cast<std::size_t>(i * 8)) << "answer " << i << " out of order";
      EXPECT_EQ(res.body(), demo::Pattern(i * 8).next(i * 8));
    }
    auto [ec, n] = co_await c->stream.async_read_some(c->buffer.prepare(1), kTuple);
    EXPECT_EQ(ec, asio::error::eof) << "Connection: close was not honoured";
  });
  EXPECT_EQ(http_requests(R"(code_class="2xx",reason="none",result="proxied")"), 55);
}

TEST_F(HttpProxyE2E, HopByHopHeadersAreStrippedAndForwardedForAppended) {
  auto& agent = start();
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await Client::connect(agent.host());
    Headers sent;
    for (const auto& [k, v] : std::map<std::string, std::string>{{"X-Forwarded-For", "192.0.2.7"},
                                                                   {"Connection", "keep-alive, X-Secret"},
                                                                   {"X-Secret", "hop"},
                                                                   {"Keep-Alive", "timeout=5"},
                                                                   {"Proxy-Authorization", "Basic Zm9vOmJhcg=="},
                                                                   {"TE", "trailers"},
                                                                   {"X-Kept", "yes"}})
      sent.emplace_back(k, v);
    auto res = co_await c->get("/headers", sent);
    const auto& seen = res.body();
    EXPECT_NE(seen.find("X-Forwarded-For: 192.0.2.7, 10.77.1.2\r\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("X-Forwarded-Proto: http\r\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("X-Kept: yes\r\n"), std::string::npos) << seen;
    for (const char* gone : {"X-Secret", "Keep-Alive", "Proxy-Authorization", "TE:", "Connection"})
      EXPECT_EQ(seen.find(gone), std::string::npos) << gone << " reached the backend:\n" << seen;
  });
}

TEST_F(HttpProxyE2E, FiftyMegabytesEachWayChunkedAndSizedWithBoundedMemory) {
  auto& agent = start({"--http-body-limit", "100000000"});
  const auto expected = pattern_sha(kBig);
  const auto rss_before = agent_peak_rss();
  client(120s, [&]() -> awaitable<void> {
    auto c = co_await Client::connect(agent.host());
    for (const bool chunked : {false, true}) {
      // Up: Pattern(kBig) to /sink, which answers "BYTES SHA256".
      http::request<http::buffer_body> req{http::verb::post, "/sink", 11};
      req.set(http::field::host, "x");
      if (chunked) req.chunked(true);
      else req.content_length(kBig);
      req.body().data = nullptr;
      req.body().more = true;
      http::request_serializer<http::buffer_body> sr{req};
      co_await http::async_write_header(c->stream, sr, use_awaitable);
      demo::Pattern pattern(kBig);
      for (std::uint64_t left = kBig; left > 0;) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(left, 256 * 1024));
        auto piece = pattern.next(k);
        req.body().data = piece.data();
        req.body().size = k;
        auto [ec, n] = co_await http::async_write(c->stream, sr, kTuple);
        if (ec && ec != http::error::need_buffer) throw boost::system::system_error(ec);
        left -= k;
      }
      req.body().data = nullptr;
      req.body().more = false;
      co_await http::async_write(c->stream, sr, use_awaitable);
      auto res = co_await c->read();
      EXPECT_EQ(res.body(), std::to_string(kBig) + " " + expected) << (chunked ? "chunked" : "sized") << " upload";

      // Down: Pattern(kBig) from /download, read through a fixed buffer and hashed.
      http::request<http::empty_body> get{http::verb::get, "/download/" + std::to_string(kBig) + (chunked ? "?chunked" : ""), 11};
      get.set(http::field::host, "x");
      co_await http::async_write(c->stream, get, use_awaitable);
      http::response_parser<http::buffer_body> p;
      p.body_limit(boost::none);
      co_await http::async_read_header(c->stream, c->buffer, p, use_awaitable);
      EXPECT_EQ(p.chunked(), chunked);
      Sha256 sha;
      std::uint64_t total = 0;
      std::vector<char> buf(64 * 1024);
      while (!p.is_done()) {
        p.get().body().data = buf.data();
        p.get().body().size = buf.size();
        auto [ec, n] = co_await http::async_read(c->stream, c->buffer, p, kTuple);
        if (ec && ec != http::error::need_buffer) throw boost::system::system_error(ec);
        const auto got = buf.size() - p.get().body().size;
        sha.add(buf.data(), got);
        total += got;
      }
      EXPECT_EQ(total, kBig);
      EXPECT_EQ(sha.hex(), expected) << (chunked ? "chunked" : "sized") << " download";
    }
  });
  const auto rss_after = agent_peak_rss();
  std::cout << "agent peak RSS " << rss_before / 1024 << " KiB before, " << rss_after / 1024 << " KiB after 200 MB\n";
  EXPECT_LT(rss_after, rss_before + 16u * 1024 * 1024) << "the agent's memory grew with the bodies";
}

TEST_F(HttpProxyE2E, LimitsAndTimeoutsAnswerWithTheirStatus) {
  auto& agent = start({"--http-body-limit", "1000000", "--handshake-timeout", "1", "--http-response-timeout", "1"});
  client(30s, [&]() -> awaitable<void> {
    {  // 413 on the declared length, before any backend is bothered
      auto c = co_await Client::connect(agent.host());
      co_await asio::async_write(c->stream, asio::buffer(std::string(
          "POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")), use_awaitable);
      EXPECT_EQ((co_await c->read()).result_int(), 413);
    }
    {  // 413 for a chunked body that grows past the limit
      auto c = co_await Client::connect(agent.host());
      std::string body = "POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
      const std::string piece(100000, 'a');
      for (int i = 0; i < 11; ++i) body += "186a0\r\n" + piece + "\r\n";
      auto [ec, n] = co_await asio::async_write(c->stream, asio::buffer(body), kTuple);
      EXPECT_EQ((co_await c->read()).result_int(), 413);
    }
    {  // 431 on a later request of a keep-alive connection (the first one's is the handshake path's)
      auto c = co_await Client::connect(agent.host());
      EXPECT_EQ((co_await c->get("/whoami")).result_int(), 200);
      EXPECT_EQ((co_await c->get("/whoami", header("X-Big", std::string(20000, 'h')))).result_int(), 431);
    }
    {  // 408: a body that stalls
      auto c = co_await Client::connect(agent.host());
      co_await asio::async_write(c->stream, asio::buffer(std::string(
          "POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")), use_awaitable);
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_EQ((co_await c->read()).result_int(), 408);
      EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    }
    {  // 408: a later request head that stalls
      auto c = co_await Client::connect(agent.host());
      EXPECT_EQ((co_await c->get("/whoami")).result_int(), 200);
      co_await asio::async_write(c->stream, asio::buffer(std::string("GET /whoami HTTP/1.1\r\nHo")), use_awaitable);
      EXPECT_EQ((co_await c->read()).result_int(), 408);
    }
    {  // 504: the backend takes longer than --http-response-timeout
      auto c = co_await Client::connect(agent.host());
      EXPECT_EQ((co_await c->get("/slow/3000")).result_int(), 504);
    }
    {  // 400: a malformed later request
      auto c = co_await Client::connect(agent.host());
      EXPECT_EQ((co_await c->get("/whoami")).result_int(), 200);
      co_await asio::async_write(c->stream, asio::buffer(std::string("GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")), use_awaitable);
      EXPECT_EQ((co_await c->read()).result_int(), 400);
    }
  });
  EXPECT_EQ(http_requests(R"(code_class="4xx",reason="body_too_large",result="rejected")"), 2);
  EXPECT_EQ(http_requests(R"(code_class="4xx",reason="header_too_large",result="rejected")"), 1);
  EXPECT_EQ(http_requests(R"(code_class="4xx",reason="timeout",result="rejected")"), 2);
  EXPECT_EQ(http_requests(R"(code_class="5xx",reason="timeout",result="backend_error")"), 1);
  EXPECT_EQ(http_requests(R"(code_class="4xx",reason="malformed",result="rejected")"), 1);
}

TEST_F(HttpProxyE2E, ABackendAnsweringBeforeTheWholeUploadIsRelayed) {
  auto& agent = start();
  client(20s, [&]() -> awaitable<void> {
    // Shared with the writer below, which may still be pending when this coroutine ends.
    std::shared_ptr<Client> c = co_await Client::connect(agent.host());
    auto body = std::make_shared<std::string>(32 * 1024 * 1024, 'u');  // far more than the socket buffers hold
    const std::string head = "POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body->size()) + "\r\n\r\n";
    co_await asio::async_write(c->stream, asio::buffer(head), use_awaitable);
    // Send the body while reading the answer: the agent must not wait for all of it.
    auto written = std::make_shared<bool>(false);
    // The executor first, in a statement of its own: with the co_await in co_spawn's arguments,
    // GCC 12 destroys the lambda temporary twice (ASan: the shared `written` freed while in use).
    const auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(
        ex,
        [c, body, written]() -> awaitable<void> {
          co_await asio::async_write(c->stream, asio::buffer(*body), kTuple);
          *written = true;
        },
        asio::detached);
    auto res = co_await c->read();
    EXPECT_EQ(res.result_int(), 413) << res;
    EXPECT_FALSE(res["X-Wsteer-Backend"].empty()) << "the backend's own answer, not the agent's";
    EXPECT_FALSE(res.keep_alive());
    // End the writer before this io_context goes away (a pending operation would outlive it).
    c->stream.socket().close();
    asio::steady_timer tick(co_await asio::this_coro::executor);
    for (int i = 0; i < 500 && !*written; ++i) {
      tick.expires_after(10ms);
      co_await tick.async_wait(use_awaitable);
    }
    EXPECT_TRUE(*written);
  });
}

TEST_F(HttpProxyE2E, NoBackendIs503AndARefusingOneIs502) {
  auto& agent = start();
  agent.write_endpoints("");
  std::this_thread::sleep_for(700ms);
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await Client::connect(agent.host());
    EXPECT_EQ((co_await c->get("/whoami")).result_int(), 503);
  });
  agent.write_endpoints("refused " + topology_->backend_address(0) + ":9001\n");
  std::this_thread::sleep_for(700ms);
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await Client::connect(agent.host());
    EXPECT_EQ((co_await c->get("/whoami")).result_int(), 502);
  });
}

TEST_F(HttpProxyE2E, BackendClosingMidResponseClosesTheClientWithoutHanging) {
  auto& agent = start();
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await Client::connect(agent.host());
    co_await asio::async_write(c->stream, asio::buffer(std::string("GET /cut/1000000 HTTP/1.1\r\nHost: x\r\n\r\n")), use_awaitable);
    http::response_parser<http::string_body> p;
    p.body_limit(boost::none);
    c->stream.expires_after(5s);
    auto [ec, n] = co_await http::async_read(c->stream, c->buffer, p, kTuple);
    EXPECT_EQ(ec, http::error::partial_message) << ec.message();
    EXPECT_EQ(p.get().body().size(), 1000000u);
  });
  EXPECT_EQ(http_requests(R"(code_class="none",reason="backend_closed",result="aborted")"), 1);
}

TEST_F(HttpProxyE2E, CookieKeepsPlainRequestsAndTheUpgradeOnOneBackendAndTheUpgradeIsSpliced) {
  auto& agent = start();
  client(30s, [&]() -> awaitable<void> {
    // Without cookies, each connection is spread on its own.
    std::map<std::string, int> spread;
    std::string cookie, home;
    for (int i = 0; i < 60; ++i) {
      auto c = co_await Client::connect(agent.host());
      auto res = co_await c->get("/whoami");
      spread[res.body()]++;
      EXPECT_NE(std::string(res[http::field::set_cookie]).find("HttpOnly; SameSite=Lax"), std::string::npos);
      if (cookie.empty()) cookie = cookie_of(res), home = res.body();
    }
    EXPECT_EQ(spread.size(), 3u) << "connections without cookies should spread over every backend";

    // With the cookie: plain requests on new connections, then the upgrade on the last one.
    auto c = co_await Client::connect(agent.host());
    for (int i = 0; i < 10; ++i) {
      auto res = co_await c->get("/whoami", header("Cookie", "io=abc; " + cookie));
      EXPECT_EQ(res.body(), home);
      EXPECT_TRUE(res[http::field::set_cookie].empty()) << "a valid cookie needs no new one";
    }
    Ws ws(std::move(c->stream));
    websocket::response_type upgrade;
    ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& r) { r.set(http::field::cookie, cookie); }));
    co_await ws.async_handshake(upgrade, agent.host(), "/socket", use_awaitable);
    EXPECT_EQ(upgrade["X-Wsteer-Backend"], home) << "the upgrade left the backend of the plain requests";
    EXPECT_EQ(co_await round_trip(ws, "after plain requests"), "after plain requests");
    EXPECT_EQ(co_await round_trip(ws, "whoami"), home);
    co_await ws.async_close(websocket::close_code::normal, use_awaitable);

    // A forged cookie falls back to the key policy and gets a fresh, valid one.
    auto f = co_await Client::connect(agent.host());
    auto forged = co_await f->get("/whoami", header("Cookie", cookie + "x"));
    EXPECT_EQ(forged.result_int(), 200);
    EXPECT_FALSE(forged[http::field::set_cookie].empty()) << "a forged cookie must be replaced";
  });
  // A plain-HTTP connection is counted when it ends: the agent may see the last one close only
  // after the client has gone on.
  const char* http_total = R"(wsteer_connections_total{reason="none",result="http"})";
  auto m = agent.metrics();
  for (int i = 0; i < 40 && m.at(http_total) < 61; ++i) {
    std::this_thread::sleep_for(50ms);
    m = agent.metrics();
  }
  EXPECT_EQ(m.at(R"(wsteer_connections_total{reason="none",result="spliced"})"), 1) << "the upgrade was not spliced";
  EXPECT_GE(m.at(http_total), 61);

  // A stale cookie (its backend left the list) lands elsewhere and is replaced.
  client(10s, [&]() -> awaitable<void> {
    auto c = co_await Client::connect(agent.host());
    auto res = co_await c->get("/whoami");
    const auto cookie = cookie_of(res);
    const auto gone = res.body();
    std::string list;
    for (int i = 0; i < 3; ++i)
      if ("b" + std::to_string(i) != gone) list += "b" + std::to_string(i) + " " + topology_->backend_address(i) + ":9000\n";
    agent.write_endpoints(list);
    co_await [] () -> awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, 800ms);
      co_await t.async_wait(use_awaitable);
    }();
    auto again = co_await Client::connect(agent.host());
    auto moved = co_await again->get("/whoami", header("Cookie", cookie));
    EXPECT_EQ(moved.result_int(), 200);
    EXPECT_NE(moved.body(), gone);
    EXPECT_FALSE(moved[http::field::set_cookie].empty()) << "a stale cookie must be replaced";
    auto home = co_await again->get("/whoami", header("Cookie", cookie_of(moved)));
    EXPECT_EQ(home.body(), moved.body());
  });
}

}  // namespace
}  // namespace wsteer::test
