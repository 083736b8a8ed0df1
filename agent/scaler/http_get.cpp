#include "scaler/http_get.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <stdexcept>

namespace wsteer::scaler {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
// A report lists every backend of every Service on one node: small, but not unbounded.
constexpr std::uint64_t kBodyLimit = 8u << 20;

std::string host_of(const tcp::endpoint& e) {
  return e.address().is_v6() ? "[" + e.address().to_string() + "]:" + std::to_string(e.port())
                             : e.address().to_string() + ":" + std::to_string(e.port());
}
}  // namespace

asio::awaitable<HttpReply> http_get(tcp::endpoint endpoint, std::string target, std::chrono::milliseconds timeout) {
  const auto what = "GET http://" + host_of(endpoint) + target;
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);  // one deadline for the whole exchange
  boost::system::error_code ec;
  co_await stream.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw std::runtime_error(what + ": connect: " + ec.message());

  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host_of(endpoint));
  req.set(http::field::user_agent, "wsteer-agent");
  req.set(http::field::accept, "application/json");
  req.keep_alive(false);
  co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw std::runtime_error(what + ": write: " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw std::runtime_error(what + ": read: " + (ec == beast::error::timeout ? "timed out" : ec.message()));
  co_return HttpReply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

asio::awaitable<FetchAll> http_get_all(std::vector<tcp::endpoint> endpoints, std::string target,
                                       std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto out = std::make_shared<FetchAll>();
  out->replies.resize(endpoints.size());
  out->errors.resize(endpoints.size());
  auto left = std::make_shared<std::size_t>(endpoints.size());
  // A latch on a single-threaded executor: the last request to finish cancels the wait.
  auto all_done = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    asio::co_spawn(ex, http_get(endpoints[i], target, timeout),
                   [out, left, all_done, i](std::exception_ptr error, HttpReply reply) {
                     if (!error) {
                       out->replies[i] = std::move(reply);
                     } else {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         out->errors[i] = e.what();
                       }
                     }
                     if (--*left == 0) all_done->cancel();
                   });
  }
  if (*left > 0) {
    boost::system::error_code ec;
    co_await all_done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return std::move(*out);
}

}  // namespace wsteer::scaler
