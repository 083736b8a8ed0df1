#include "k8s/api_client.h"

#include "k8s/status_error.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

namespace wsteer::k8s {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Stream = ssl::stream<beast::tcp_stream>;

// A list of every EndpointSlice of a big cluster still fits; a runaway body does not.
constexpr std::uint64_t kBodyLimit = 256ull << 20;

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string bearer_token(const ClusterConfig& config) {
  if (config.token_file.empty()) return config.token;
  // Read every time: kubelet rewrites a bound service-account token before it expires.
  std::ifstream in(config.token_file, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (!in || token.empty())
    throw ApiError(ApiErrorReason::unauthorized, "cannot read the bearer token from " + config.token_file.string() +
                                                     " (" + config.origin + ")");
  return token;
}

// What the handshake's verify callback learned, for a message that says why TLS failed.
struct VerifyNote {
  std::string why;
};

// One request's connection: resolve, TCP, TLS (SNI, peer and host name verified), all within the
// stream's current deadline.
class Connection {
 public:
  Connection(asio::any_io_executor ex, ssl::context& ctx, const ClusterConfig& config)
      : config_(config), stream_(ex, ctx), note_(std::make_shared<VerifyNote>()) {}

  Stream& stream() { return stream_; }
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  // `what` prefixes every error message ("GET /api/v1/... on https://...").
  asio::awaitable<void> open(Clock::time_point deadline, const std::string& what) {
    auto ex = co_await asio::this_coro::executor;
    boost::system::error_code ec;

    // The resolver is not covered by the stream's timer: a timer of its own cancels it.
    auto resolver = std::make_shared<tcp::resolver>(ex);
    asio::steady_timer resolve_timer(ex, deadline);
    resolve_timer.async_wait([resolver](boost::system::error_code e) {
      if (!e) resolver->cancel();
    });
    const auto endpoints =
        co_await resolver->async_resolve(config_.host, config_.port, asio::redirect_error(asio::use_awaitable, ec));
    resolve_timer.cancel();
    if (ec) fail_io(ec, deadline, ApiErrorReason::connect, what + ": cannot resolve " + config_.host);

    tcp().expires_at(deadline);
    co_await tcp().async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) fail_io(ec, deadline, ApiErrorReason::connect, what + ": cannot connect");

    if (!is_ip_literal(config_.host) && !SSL_set_tlsext_host_name(stream_.native_handle(), config_.host.c_str()))
      throw ApiError(ApiErrorReason::tls, what + ": cannot set the TLS server name " + config_.host);
    stream_.set_verify_callback([check = ssl::host_name_verification(config_.host), note = note_,
                                 host = config_.host](bool preverified, ssl::verify_context& ctx) {
      const bool ok = check(preverified, ctx);
      if (!preverified && note->why.empty())
        note->why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.native_handle()));
      else if (preverified && !ok && note->why.empty())
        note->why = "its certificate is not valid for " + host;
      return ok;
    });
    co_await stream_.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (Clock::now() >= deadline || ec == beast::error::timeout)
        throw ApiError(ApiErrorReason::timeout, what + ": TLS handshake timed out");
      if (!note_->why.empty() || SSL_get_verify_result(stream_.native_handle()) != X509_V_OK)
        throw ApiError(ApiErrorReason::tls, what + ": the server's certificate did not verify against the CA from " +
                                                config_.origin + " (" +
                                                (note_->why.empty() ? ec.message() : note_->why) + ")");
      const bool tls_level = ec.category() == asio::error::get_ssl_category() || ec == ssl::error::stream_truncated;
      throw ApiError(tls_level ? ApiErrorReason::tls : ApiErrorReason::connect, what + ": TLS handshake failed: " + ec.message());
    }
  }

  // An I/O error as the reason it is: past the deadline a timeout, else `otherwise`.
  [[noreturn]] static void fail_io(const boost::system::error_code& ec, Clock::time_point deadline, ApiErrorReason otherwise,
                                   const std::string& message) {
    if (ec == beast::error::timeout || Clock::now() >= deadline)
      throw ApiError(ApiErrorReason::timeout, message + ": timed out");
    throw ApiError(otherwise, message + ": " + ec.message());
  }

 private:
  const ClusterConfig& config_;
  Stream stream_;
  std::shared_ptr<VerifyNote> note_;
};

http::request<http::empty_body> make_request(const ClusterConfig& config, const std::string& target) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  const bool v6 = config.host.find(':') != std::string::npos;
  req.set(http::field::host, (v6 ? "[" + config.host + "]" : config.host) + ":" + config.port);
  req.set(http::field::user_agent, "wsteer-agent");
  req.set(http::field::accept, "application/json");
  if (const auto token = bearer_token(config); !token.empty()) req.set(http::field::authorization, "Bearer " + token);
  return req;
}

}  // namespace

struct ApiClient::Impl {
  ssl::context tls{ssl::context::tls_client};
};

ApiClient::ApiClient(ClusterConfig config) : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  auto& tls = impl_->tls;
  try {
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    // Only the cluster's CA: never the system trust store.
    tls.add_certificate_authority(asio::buffer(config_.ca_pem));
    tls.set_verify_mode(ssl::verify_peer);
  } catch (const boost::system::system_error& e) {
    throw ApiError(ApiErrorReason::tls, "the CA from " + config_.origin + " is not a usable PEM certificate: " + e.code().message());
  }
  if (!config_.client_cert_pem.empty()) {
    try {
      tls.use_certificate_chain(asio::buffer(config_.client_cert_pem));
      tls.use_private_key(asio::buffer(config_.client_key_pem), ssl::context::pem);
    } catch (const boost::system::system_error& e) {
      throw ApiError(ApiErrorReason::tls,
                     "the client certificate or key from " + config_.origin + " is unusable: " + e.code().message());
    }
  }
}

ApiClient::~ApiClient() = default;

namespace {

// One request and its whole response within `deadline`; returns the parsed body of a 200/201.
template <class Body>
asio::awaitable<json::object> exchange(Connection& conn, const http::request<Body>& req, Clock::time_point deadline,
                                       const std::string& what) {
  co_await conn.open(deadline, what);
  boost::system::error_code ec;
  conn.tcp().expires_at(deadline);
  co_await http::async_write(conn.stream(), req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) Connection::fail_io(ec, deadline, ApiErrorReason::connect, what + ": sending the request failed");

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  co_await http::async_read(conn.stream(), buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) Connection::fail_io(ec, deadline, ApiErrorReason::connect, what + ": reading the response failed");

  const auto& res = parser.get();
  if (res.result_int() != 200 && res.result_int() != 201)
    throw error_from_response(res.result_int(), res.reason(), res.body(), what);
  auto value = json::parse(res.body(), ec);
  if (ec || !value.is_object())
    throw ApiError(ApiErrorReason::decode, what + ": the body is not a JSON object" + (ec ? ": " + ec.message() : ""),
                   res.result_int());
  co_return std::move(value.get_object());
}

}  // namespace

asio::awaitable<json::object> ApiClient::get(std::string target, std::chrono::milliseconds timeout) {
  const std::string what = "GET " + target + " on " + config_.server;
  const auto req = make_request(config_, target);
  Connection conn(co_await asio::this_coro::executor, impl_->tls, config_);
  co_return co_await exchange(conn, req, Clock::now() + timeout, what);
}

asio::awaitable<json::object> ApiClient::send(http::verb verb, std::string target, json::object body,
                                              std::string content_type, std::chrono::milliseconds timeout) {
  const std::string what = std::string(http::to_string(verb)) + " " + target + " on " + config_.server;
  const auto head = make_request(config_, target);
  http::request<http::string_body> req{verb, target, 11};
  for (const auto& field : head) req.set(field.name_string(), field.value());
  req.set(http::field::content_type, content_type);
  req.body() = json::serialize(body);
  req.prepare_payload();
  Connection conn(co_await asio::this_coro::executor, impl_->tls, config_);
  co_return co_await exchange(conn, req, Clock::now() + timeout, what);
}

asio::awaitable<void> ApiClient::watch(std::string target, std::chrono::milliseconds idle,
                                       std::function<void(const json::object& event)> on_event) {
  const std::string what = "watch " + target + " on " + config_.server;
  const auto req = make_request(config_, target);
  Connection conn(co_await asio::this_coro::executor, impl_->tls, config_);
  co_await conn.open(Clock::now() + idle, what);

  boost::system::error_code ec;
  auto deadline = Clock::now() + idle;
  conn.tcp().expires_at(deadline);
  co_await http::async_write(conn.stream(), req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) Connection::fail_io(ec, deadline, ApiErrorReason::connect, what + ": sending the request failed");

  // Chunks are appended to `pending` as they arrive; only the text up to the last '\n' is an
  // event. The parser keeps no body of its own for chunked replies (the callback consumes it).
  std::string pending;
  auto on_chunk = [&pending](std::uint64_t, std::string_view body, boost::system::error_code&) {
    pending.append(body);
    return body.size();
  };
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);  // a watch lasts as long as the server lets it
  parser.on_chunk_body(on_chunk);

  deadline = Clock::now() + idle;
  conn.tcp().expires_at(deadline);
  co_await http::async_read_header(conn.stream(), buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) Connection::fail_io(ec, deadline, ApiErrorReason::connect, what + ": reading the response failed");

  if (parser.get().result_int() != 200) {
    parser.body_limit(kBodyLimit);
    co_await http::async_read(conn.stream(), buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) Connection::fail_io(ec, deadline, ApiErrorReason::connect, what + ": reading the response failed");
    const auto& res = parser.get();
    throw error_from_response(res.result_int(), res.reason(), pending + res.body(), what);
  }

  auto deliver = [&](std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    boost::system::error_code jec;
    auto value = json::parse(line, jec);
    if (jec || !value.is_object())
      throw ApiError(ApiErrorReason::decode, what + ": a watch line is not a JSON object: " +
                                                 std::string(line.substr(0, 200)), 200);
    on_event(value.get_object());
  };

  for (;;) {
    // A non-chunked reply (not what kube-apiserver sends) lands in the body: treat it the same.
    if (auto& body = parser.get().body(); !body.empty()) {
      pending += body;
      body.clear();
    }
    std::size_t start = 0;
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      deliver(std::string_view(pending).substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
    if (parser.is_done()) {
      deliver(pending);  // the body ended cleanly: whatever is left is a whole (last) line
      co_return;
    }
    deadline = Clock::now() + idle;
    conn.tcp().expires_at(deadline);
    co_await http::async_read_some(conn.stream(), buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout || (ec && Clock::now() >= deadline))
      throw ApiError(ApiErrorReason::timeout,
                     what + ": no data for " + std::to_string(idle.count()) + " ms");
    if (ec) throw ApiError(ApiErrorReason::connect, what + ": the stream ended before its last chunk: " + ec.message());
  }
}

}  // namespace wsteer::k8s
