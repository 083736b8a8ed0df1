#include "proxy/http_proxy.h"

#include "proxy/connection_counts.h"
#include "proxy/handshake_check.h"
#include "proxy/http_headers.h"
#include "proxy/read_deadline.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <random>
#include <string>

namespace wsteer::proxy {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using metrics::Result;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
// Each direction's body passes through one buffer of this size: the memory a request costs does
// not grow with its body (docs/http.md).
constexpr std::size_t kChunk = 64 * 1024;
constexpr std::uint32_t kBackendHeaderLimit = 64 * 1024;
// After an error answer to a client still sending its body, the agent reads and drops at most this
// much for at most kLingerTime before closing, so the close does not reset the connection (and
// destroy the answer) while the client's bytes are in flight.
constexpr std::size_t kLingerBytes = 8 * 1024 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(1);

using Head = http::request_parser<http::empty_body>;

// What went wrong with one request: its labels, and the status the agent answers with (unknown:
// none, the connection just closes).
struct Failure {
  Result result;
  const char* reason;
  http::status status = http::status::unknown;
};

Failure client_read_failure(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit) return {Result::rejected, "header_too_large", http::status::request_header_fields_too_large};
  if (ec == http::error::body_limit) return {Result::rejected, "body_too_large", http::status::payload_too_large};
  if (ec == beast::error::timeout) return {Result::rejected, "timeout", http::status::request_timeout};
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
    return {Result::aborted, "client_closed"};
  return {Result::rejected, "malformed", http::status::bad_request};
}

std::string code_class(unsigned status) { return std::to_string(status / 100) + "xx"; }

std::string describe(const tcp::endpoint& e) {
  return e.address().is_v6() ? "[" + e.address().to_string() + "]:" + std::to_string(e.port())
                             : e.address().to_string() + ":" + std::to_string(e.port());
}

// 128 random bits per client connection: the key a request is steered on when the key policy
// finds nothing in it (see HttpConnection::choose).
std::string connection_key() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(random()),
                static_cast<unsigned long long>(random()));
  return text;
}

// Counts the connection in wsteer_http_connections_active and ProxyContext::http_connections.
class HttpConnectionGuard {
 public:
  explicit HttpConnectionGuard(ProxyContext& ctx) : ctx_(ctx) {
    ctx_.http_connections++;
    ctx_.metrics.http_connections().Increment();
  }
  ~HttpConnectionGuard() {
    ctx_.http_connections--;
    ctx_.metrics.http_connections().Decrement();
  }
  HttpConnectionGuard(const HttpConnectionGuard&) = delete;
  HttpConnectionGuard& operator=(const HttpConnectionGuard&) = delete;

 private:
  ProxyContext& ctx_;
};

// A connection to one backend, kept across requests that steer to it (keep-alive).
struct BackendConnection {
  BackendConnection(const asio::any_io_executor& ex, steering::Backend b) : stream(ex), backend(std::move(b)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  steering::Backend backend;
  std::optional<BackendLease> lease;
};

// Whether a kept backend connection can carry another request: nothing unread, and the backend
// has not closed it while it sat idle (a peek that would block means "open, quiet").
bool still_usable(BackendConnection& b) {
  if (b.buffer.size() > 0) return false;
  char byte;
  const auto n = ::recv(b.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

class HttpConnection {
 public:
  HttpConnection(ProxyContext& ctx, beast::tcp_stream& client, beast::flat_buffer& buffer, tcp::endpoint endpoint)
      : ctx_(ctx),
        cfg_(ctx.config),
        client_(client),
        buffer_(buffer),
        endpoint_(std::move(endpoint)),
        client_ip_(endpoint_.address().to_string()),
        client_name_(describe(endpoint_)),
        key_(connection_key()),
        chunk_(std::make_unique<char[]>(kChunk)) {}

  // (Beast's parsers cannot move: later heads live on the heap.)
  asio::awaitable<std::optional<steering::Request>> run(Head& first) {
    Head* head = &first;
    std::unique_ptr<Head> next;
    for (;;) {
      if (!co_await exchange(*head)) co_return std::nullopt;
      next = co_await read_next_head();
      if (!next) co_return std::nullopt;
      if (wants_upgrade(next->get())) {
        backend_.reset();  // the handshake path chooses and connects on its own
        co_return next->release();
      }
      head = next.get();
    }
  }

 private:
  // One request and its response. False: the client connection is done.
  asio::awaitable<bool> exchange(Head& head);
  asio::awaitable<std::unique_ptr<Head>> read_next_head();
  asio::awaitable<bool> connect(const steering::Choice& choice);
  // Counts and logs one request; answers with failure.status when it is known; returns false.
  asio::awaitable<bool> fail(const Failure& failure, const std::string& what, const std::string& detail,
                             bool linger = false);
  void record(Result result, std::string_view reason, std::string_view klass, const std::string& what,
              const std::string& detail);
  asio::awaitable<void> linger_close();

  ProxyContext& ctx_;
  const ProxyConfig& cfg_;
  beast::tcp_stream& client_;
  beast::flat_buffer& buffer_;
  const tcp::endpoint endpoint_;
  const std::string client_ip_;
  const std::string client_name_;
  const std::string key_;
  std::unique_ptr<char[]> chunk_;
  std::unique_ptr<BackendConnection> backend_;
};

void HttpConnection::record(Result result, std::string_view reason, std::string_view klass, const std::string& what,
                            const std::string& detail) {
  ctx_.metrics.http_request(result, reason, klass);
  ctx_.http_requests++;
  const auto level = result == Result::proxied                              ? spdlog::level::debug
                     : result == Result::rejected || result == Result::aborted ? spdlog::level::info
                                                                               : spdlog::level::warn;
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "http request {} reason={} status={} client={} {}{}{}", metrics::to_string(result), reason, klass,
              client_name_, what, detail.empty() ? "" : ": ", detail);
}

asio::awaitable<bool> HttpConnection::fail(const Failure& failure, const std::string& what, const std::string& detail,
                                           bool linger) {
  const bool answer = failure.status != http::status::unknown;
  record(failure.result, failure.reason, answer ? code_class(static_cast<unsigned>(failure.status)) : "none", what,
         detail);
  backend_.reset();
  if (answer) {
    auto response = make_error_response(failure.status, failure.reason);
    client_.expires_after(cfg_.handshake_timeout);
    auto [ec, _] = co_await http::async_write(client_, response, kUse);
    if (!ec && linger) co_await linger_close();
  }
  co_return false;
}

asio::awaitable<void> HttpConnection::linger_close() {
  boost::system::error_code ignored;
  client_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  client_.expires_after(kLingerTime);
  for (std::size_t dropped = 0; dropped < kLingerBytes;) {
    auto [ec, n] = co_await client_.async_read_some(asio::buffer(chunk_.get(), kChunk), kUse);
    if (ec) break;
    dropped += n;
  }
}

asio::awaitable<std::unique_ptr<Head>> HttpConnection::read_next_head() {
  // Idle between requests: wait up to http_idle_timeout for the first byte and close quietly
  // after (RFC 9112 9.6); from that byte on, the head has handshake_timeout like a first one.
  if (buffer_.size() == 0) {
    client_.expires_after(cfg_.http_idle_timeout);
    auto [ec, n] = co_await client_.async_read_some(buffer_.prepare(kChunk), kUse);
    if (ec) co_return nullptr;
    buffer_.commit(n);
  }
  auto head = std::make_unique<Head>();
  head->header_limit(static_cast<std::uint32_t>(cfg_.header_limit));
  head->body_limit(boost::none);  // judged in exchange(), against the declared length first
  client_.expires_never();
  ReadDeadline deadline(client_.socket(), cfg_.handshake_timeout);
  auto [ec, n] = co_await http::async_read_header(client_, buffer_, *head, kUse);
  if (deadline.expired()) ec = beast::error::timeout;
  if (ec) {
    co_await fail(client_read_failure(ec), "(request head)", ec.message());
    co_return nullptr;
  }
  ctx_.metrics.userspace_bytes(metrics::Direction::client_to_backend, n);
  co_return head;
}

asio::awaitable<bool> HttpConnection::connect(const steering::Choice& choice) {
  backend_.reset();
  for (const auto& candidate : choice.candidates) {
    auto conn = std::make_unique<BackendConnection>(client_.get_executor(), candidate);
    conn->stream.expires_after(cfg_.connect_timeout);
    auto [ec] = co_await conn->stream.async_connect(tcp::endpoint(candidate.address, candidate.port), kUse);
    if (!ec) {
      boost::system::error_code ignored;
      conn->stream.socket().set_option(tcp::no_delay(true), ignored);
      conn->lease.emplace(ctx_.steering, candidate.id);
      backend_ = std::move(conn);
      co_return true;
    }
    spdlog::warn("backend {} ({}:{}) connect failed: {}", candidate.name, candidate.address.to_string(), candidate.port,
                 ec.message());
    ctx_.steering.on_connect_failed(candidate.id);
  }
  co_return false;
}

asio::awaitable<bool> HttpConnection::exchange(Head& head) {
  const auto& in = head.get();
  const bool client_keep_alive = in.keep_alive();
  const unsigned client_version = in.version();
  const bool is_head = in.method() == http::verb::head;
  const std::string what = std::string(in.method_string()) + " " + std::string(in.target());
  const auto limit = cfg_.http_body_limit;

  if (declares_body_over(in, limit))
    co_return co_await fail({Result::rejected, "body_too_large", http::status::payload_too_large}, what,
                            std::string(in[http::field::content_length]) + " bytes declared, limit " +
                                std::to_string(limit), true);

  // Steering sees the head as a WebSocket handshake would show it. A request carries no
  // Sec-WebSocket-Key, so when the key policy finds nothing else the connection's own random key
  // stands in for it: a client without cookies is spread per connection, as WebSockets are, and
  // its requests on one connection stay on one backend.
  steering::Request probe = in;
  if (probe[http::field::sec_websocket_key].empty()) probe.set(http::field::sec_websocket_key, key_);
  const auto choice = ctx_.steering.choose(probe, endpoint_.address(), cfg_.max_tries);
  if (choice.result != steering::Choice::Result::ok) {
    const bool full = choice.result == steering::Choice::Result::all_full;
    co_return co_await fail({Result::unavailable, full ? "all_full" : "no_backends", http::status::service_unavailable},
                            what, "no eligible backend", true);
  }
  // Keep-alive towards the backend only while requests steer to it; otherwise choose again.
  if (!backend_ || backend_->backend.id != choice.candidates.front().id || !still_usable(*backend_)) {
    if (!co_await connect(choice))
      co_return co_await fail({Result::backend_error, "connect_failed", http::status::bad_gateway}, what,
                              "no backend reachable after " + std::to_string(choice.candidates.size()) + " tries", true);
  }
  auto& backend = *backend_;
  // The signed cookie goes on every response whose request did not already carry a valid one for
  // this backend: the first, and any after a forged, expired or stale cookie (backend gone).
  const bool cookie_current = choice.key_source == "sticky-cookie" && backend.backend.id == choice.candidates.front().id;
  const std::string where = what + " backend=" + backend.backend.name;

  // The request: its head rewritten for the next hop, then its body through one fixed buffer.
  http::request_parser<http::buffer_body> request{std::move(head)};
  request.body_limit(limit == 0 ? boost::optional<std::uint64_t>{} : boost::optional<std::uint64_t>{limit});
  auto& out = request.get();
  const bool wants_continue = expects_continue(out);
  strip_hop_by_hop(out);
  out.erase(http::field::expect);  // the agent answers "100 Continue" itself, below
  add_forwarded(out, client_ip_, cfg_.forwarded_proto);
  out.version(11);  // persistent towards the backend whatever the client speaks
  if (wants_continue && !request.is_done()) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    client_.expires_after(cfg_.handshake_timeout);
    co_await asio::async_write(client_, asio::buffer(kContinue), kUse);
  }
  http::request_serializer<http::buffer_body> request_writer{out};
  boost::system::error_code request_cut;  // the backend stopped taking the request
  auto& request_body = out.body();
  for (;;) {
    if (!request.is_done()) {
      request_body.data = chunk_.get();
      request_body.size = kChunk;
      client_.expires_never();
      ReadDeadline deadline(client_.socket(), cfg_.handshake_timeout);  // a body may stall no longer than a head takes
      auto [ec, n] = co_await http::async_read(client_, buffer_, request, kUse);
      if (ec == http::error::need_buffer) ec = {};
      if (deadline.expired()) ec = beast::error::timeout;
      if (ec) co_return co_await fail(client_read_failure(ec), where, "reading the request body: " + ec.message(), true);
      ctx_.metrics.userspace_bytes(metrics::Direction::client_to_backend, n);
      request_body.size = kChunk - request_body.size;
      request_body.data = chunk_.get();
      request_body.more = !request.is_done();
      // A zero-length piece would end a chunked body early: read more first.
      if (request_body.size == 0 && request_body.more) continue;
    } else {
      request_body.data = nullptr;
      request_body.size = 0;
      request_body.more = false;
    }
    backend.stream.expires_after(cfg_.handshake_timeout);
    auto [ec, _] = co_await http::async_write(backend.stream, request_writer, kUse);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      // The backend may have answered early (a 413 or 401 before reading an upload) and closed:
      // its answer, if it sent one, is still readable below and is relayed instead of a 502.
      request_cut = ec;
      break;
    }
    if (request_writer.is_done()) break;
  }

  // The response head; interim 1xx answers (100 Continue, 103) are dropped: the client got its
  // own 100 above.
  std::optional<http::response_parser<http::buffer_body>> response;
  for (;;) {
    response.emplace();
    response->header_limit(kBackendHeaderLimit);
    response->body_limit(boost::none);
    if (is_head) response->skip(true);
    backend.stream.expires_after(cfg_.http_response_timeout);
    auto [ec, n] = co_await http::async_read_header(backend.stream, backend.buffer, *response, kUse);
    if (ec == beast::error::timeout)
      co_return co_await fail({Result::backend_error, "timeout", http::status::gateway_timeout}, where,
                              "no response head within the response timeout");
    if (ec)
      co_return co_await fail({Result::backend_error, "bad_response", http::status::bad_gateway}, where,
                              request_cut ? "sending the request: " + request_cut.message()
                                          : "reading the response head: " + ec.message(),
                              !request.is_done());
    ctx_.metrics.userspace_bytes(metrics::Direction::backend_to_client, n);
    const auto status = response->get().result_int();
    if (status == 101)
      co_return co_await fail({Result::backend_error, "bad_response", http::status::bad_gateway}, where,
                              "101 to a request without Upgrade");
    if (status >= 200) break;
  }

  auto& reply = response->get();
  const auto status = reply.result_int();
  const bool backend_keep_alive = reply.keep_alive();
  // A body that ends only when the backend closes cannot be followed by another response.
  const bool until_close = !response->is_done() && !response->chunked() && !response->content_length();
  bool keep = client_keep_alive && !until_close && !request_cut;
  strip_hop_by_hop(reply);
  if (!cookie_current)
    if (auto cookie = ctx_.steering.sticky_cookie(backend.backend)) reply.insert(http::field::set_cookie, *cookie);
  if (client_version < 11 && response->chunked()) {
    reply.chunked(false);  // HTTP/1.0 cannot read chunks: the body ends with the connection
    keep = false;
  }
  reply.version(11);
  reply.keep_alive(keep);
  if (keep && client_version < 11) reply.set(http::field::connection, "keep-alive");

  http::response_serializer<http::buffer_body> response_writer{reply};
  auto& response_body = reply.body();
  bool started = false;
  for (;;) {
    if (!response->is_done()) {
      response_body.data = chunk_.get();
      response_body.size = kChunk;
      backend.stream.expires_after(cfg_.http_response_timeout);
      auto [ec, n] = co_await http::async_read(backend.stream, backend.buffer, *response, kUse);
      if (ec == http::error::need_buffer) ec = {};
      if (ec && started && response_body.size < kChunk) {
        // Forward what this read parsed before the backend failed: the client gets every byte
        // the backend sent.
        response_body.size = kChunk - response_body.size;
        response_body.data = chunk_.get();
        response_body.more = true;
        client_.expires_after(cfg_.http_response_timeout);
        co_await http::async_write(client_, response_writer, kUse);
      }
      if (ec) {
        // Nothing reached the client yet: it can still be told. Otherwise closing is the only
        // honest signal: the body is short of its length, or lacks the last chunk.
        if (!started)
          co_return co_await fail({Result::backend_error, "bad_response", http::status::bad_gateway}, where,
                                  "reading the response body: " + ec.message());
        co_return co_await fail({Result::aborted, "backend_closed"}, where, "response cut short: " + ec.message());
      }
      ctx_.metrics.userspace_bytes(metrics::Direction::backend_to_client, n);
      response_body.size = kChunk - response_body.size;
      response_body.data = chunk_.get();
      response_body.more = !response->is_done();
      if (response_body.size == 0 && response_body.more) continue;
    } else {
      response_body.data = nullptr;
      response_body.size = 0;
      response_body.more = false;
    }
    client_.expires_after(cfg_.http_response_timeout);
    auto [ec, _] = co_await http::async_write(client_, response_writer, kUse);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return co_await fail({Result::aborted, "client_closed"}, where, "writing the response: " + ec.message());
    started = true;
    if (response_writer.is_done()) break;
  }

  record(Result::proxied, "none", code_class(status), where,
         request_cut ? "answered before the whole request was sent" : std::string{});
  if (!backend_keep_alive || until_close || request_cut) backend_.reset();
  if (request_cut && !request.is_done()) {
    co_await linger_close();  // the client may still be sending the body the backend refused
    co_return false;
  }
  if (!keep) {
    boost::system::error_code ignored;
    client_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return false;
  }
  co_return true;
}

}  // namespace

asio::awaitable<std::optional<steering::Request>> serve_http(ProxyContext& ctx, beast::tcp_stream& client,
                                                             beast::flat_buffer& buffer, Head& first,
                                                             tcp::endpoint client_endpoint) {
  HttpConnectionGuard guard(ctx);
  HttpConnection connection(ctx, client, buffer, client_endpoint);
  auto upgrade = co_await connection.run(first);
  if (!upgrade) {
    ctx.metrics.connection(Result::http, "none");
    spdlog::debug("connection http reason=none client={}", describe(client_endpoint));
  }
  co_return upgrade;
}

}  // namespace wsteer::proxy
