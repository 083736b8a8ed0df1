#include "demo/http_endpoints.h"

#include "demo/pattern.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <openssl/evp.h>

#include <atomic>
#include <charconv>
#include <memory>
#include <sstream>

namespace wsteer::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunk = 64 * 1024;  // a multiple of 8: Pattern's chunks stay consistent

using Head = http::request_parser<http::empty_body>;
std::atomic<unsigned long> connections{0};

std::uint64_t number_after(std::string_view target, std::string_view prefix) {
  std::uint64_t n = 0;
  auto text = target.substr(prefix.size());
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

struct Context {
  tcp::socket& socket;
  beast::flat_buffer& buffer;
  std::string name;
  std::string conn;
};

template <class Body>
void stamp(http::response<Body>& res, const Context& c, bool keep_alive) {
  res.set("X-Wsteer-Backend", c.name);
  res.set("X-Backend-Conn", c.conn);
  res.keep_alive(keep_alive);
}

asio::awaitable<bool> send_text(Context& c, http::status status, std::string body, bool keep_alive) {
  http::response<http::string_body> res{status, 11};
  stamp(res, c, keep_alive);
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(c.socket, res, kUse);
  co_return !ec && keep_alive;
}

// Reads the rest of the body through a fixed buffer, handing each piece to `piece`.
template <class Piece>
asio::awaitable<bool> read_body(Context& c, http::request_parser<http::buffer_body>& p, Piece&& piece) {
  std::vector<char> chunk(kChunk);
  while (!p.is_done()) {
    p.get().body().data = chunk.data();
    p.get().body().size = chunk.size();
    auto [ec, n] = co_await http::async_read(c.socket, c.buffer, p, kUse);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return false;
    const std::size_t got = chunk.size() - p.get().body().size;
    if (got > 0 && !co_await piece(chunk.data(), got)) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> sink(Context& c, http::request_parser<http::buffer_body>& p, bool keep_alive) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
  std::uint64_t total = 0;
  const bool ok = co_await read_body(c, p, [&](const char* data, std::size_t n) -> asio::awaitable<bool> {
    EVP_DigestUpdate(md.get(), data, n);
    total += n;
    co_return true;
  });
  if (!ok) co_return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(md.get(), digest, &len);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", digest[i]);
    hex += two;
  }
  co_return co_await send_text(c, http::status::ok, std::to_string(total) + " " + hex, keep_alive);
}

// The body back as it arrives: the response head goes out first, then each piece.
asio::awaitable<bool> echo(Context& c, http::request_parser<http::buffer_body>& p, bool keep_alive) {
  http::response<http::buffer_body> res{http::status::ok, 11};
  stamp(res, c, keep_alive);
  if (auto length = p.content_length()) res.content_length(*length);
  else res.chunked(true);
  res.body().data = nullptr;
  res.body().more = true;
  http::response_serializer<http::buffer_body> sr{res};
  auto [hec, hn] = co_await http::async_write_header(c.socket, sr, kUse);
  if (hec) co_return false;
  const bool ok = co_await read_body(c, p, [&](const char* data, std::size_t n) -> asio::awaitable<bool> {
    res.body().data = const_cast<char*>(data);
    res.body().size = n;
    res.body().more = true;
    auto [ec, wn] = co_await http::async_write(c.socket, sr, kUse);
    co_return !ec || ec == http::error::need_buffer;
  });
  if (!ok) co_return false;
  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = false;
  auto [ec, n] = co_await http::async_write(c.socket, sr, kUse);
  co_return !ec && keep_alive;
}

// N bytes of Pattern(N); `declared` may be larger than what is sent (then the connection closes).
asio::awaitable<bool> download(Context& c, std::uint64_t sent, std::uint64_t declared, bool chunked, bool keep_alive) {
  http::response<http::buffer_body> res{http::status::ok, 11};
  stamp(res, c, keep_alive && sent == declared);
  if (chunked) res.chunked(true);
  else res.content_length(declared);
  res.body().data = nullptr;
  res.body().more = true;
  http::response_serializer<http::buffer_body> sr{res};
  auto [hec, hn] = co_await http::async_write_header(c.socket, sr, kUse);
  if (hec) co_return false;
  Pattern pattern(sent);
  for (std::uint64_t left = sent; left > 0;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kChunk));
    std::string piece = pattern.next(n);
    res.body().data = piece.data();
    res.body().size = n;
    res.body().more = true;
    auto [ec, wn] = co_await http::async_write(c.socket, sr, kUse);
    if (ec && ec != http::error::need_buffer) co_return false;
    left -= n;
  }
  if (sent != declared) {  // the crash: nothing more, the connection just ends
    boost::system::error_code ignored;
    c.socket.close(ignored);
    co_return false;
  }
  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = false;
  auto [ec, n] = co_await http::async_write(c.socket, sr, kUse);
  co_return !ec && keep_alive;
}

// One request. False: the connection is done.
asio::awaitable<bool> serve_one(Context& c, Head& head) {
  const bool keep_alive = head.get().keep_alive();
  const std::string target(head.get().target());
  const auto method = head.get().method();
  std::ostringstream text;
  text << head.get().base();
  http::request_parser<http::buffer_body> p{std::move(head)};
  p.body_limit(boost::none);
  const bool body_method = method == http::verb::post || method == http::verb::put;
  if (body_method && target == "/echo") co_return co_await echo(c, p, keep_alive);
  if (body_method && target == "/sink") co_return co_await sink(c, p, keep_alive);
  if (body_method && target == "/refuse") {  // answers before reading the body, then closes
    co_await send_text(c, http::status::payload_too_large, "refused unread\n", false);
    boost::system::error_code ignored;
    c.socket.close(ignored);
    co_return false;
  }
  // Every other handler ignores a body: read and drop it, so the next request parses.
  if (!co_await read_body(c, p, [](const char*, std::size_t) -> asio::awaitable<bool> { co_return true; }))
    co_return false;
  if (target == "/whoami") co_return co_await send_text(c, http::status::ok, c.name, keep_alive);
  if (target == "/headers") {
    co_return co_await send_text(c, http::status::ok, text.str(), keep_alive);
  }
  if (target.starts_with("/download/")) {
    const auto n = number_after(target, "/download/");
    co_return co_await download(c, n, n, target.ends_with("?chunked"), keep_alive);
  }
  if (target.starts_with("/cut/")) {
    const auto n = number_after(target, "/cut/");
    co_return co_await download(c, n, 2 * n, false, keep_alive);
  }
  if (target.starts_with("/slow/")) {
    asio::steady_timer timer(c.socket.get_executor());
    timer.expires_after(std::chrono::milliseconds(number_after(target, "/slow/")));
    co_await timer.async_wait(kUse);
    co_return co_await send_text(c, http::status::ok, "slow", keep_alive);
  }
  co_return co_await send_text(c, http::status::not_found, "no such endpoint\n", keep_alive);
}

}  // namespace

asio::awaitable<void> serve_plain_http(tcp::socket& socket, beast::flat_buffer& buffer, Head& first, std::string name) {
  Context c{socket, buffer, std::move(name), std::to_string(++connections)};
  Head* head = &first;
  std::unique_ptr<Head> next;
  while (co_await serve_one(c, *head)) {
    next = std::make_unique<Head>();
    next->body_limit(boost::none);
    auto [ec, n] = co_await http::async_read_header(socket, buffer, *next, kUse);
    if (ec) co_return;
    head = next.get();
  }
}

}  // namespace wsteer::demo
