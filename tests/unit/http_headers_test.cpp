// The plain-HTTP proxy's header rules (proxy/http_headers.h): hop-by-hop fields per RFC 9110
// 7.6.1, X-Forwarded-For/-Proto, and what a head says before its body is read.
#include "proxy/http_headers.h"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>

#include <sstream>

namespace wsteer::proxy {
namespace {

namespace http = boost::beast::http;

http::request<http::empty_body> parse(const std::string& text) {
  http::request_parser<http::empty_body> p;
  p.body_limit(boost::none);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(text), ec);
  EXPECT_TRUE(!ec || ec == http::error::need_more) << ec.message();
  EXPECT_TRUE(p.is_header_done());
  return p.release();
}

std::string dump(const HttpFields& f) {
  std::ostringstream out;
  for (const auto& field : f) out << field.name_string() << ": " << field.value() << "\n";
  return out.str();
}

TEST(HttpHeaders, StripsHopByHopFieldsAndThoseConnectionNames) {
  auto req = parse(
      "POST /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Private\r\nConnection: x-other\r\n"
      "X-Private: 1\r\nX-Other: 2\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
      "Proxy-Authorization: Basic eA==\r\nTE: trailers\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\n"
      "Transfer-Encoding: chunked\r\nX-Kept: yes\r\nCookie: a=b\r\n\r\n");
  strip_hop_by_hop(req);
  EXPECT_EQ(dump(req), "Host: h\nTransfer-Encoding: chunked\nX-Kept: yes\nCookie: a=b\n");
}

TEST(HttpHeaders, AConnectionHeaderCannotRemoveTheBodyFraming) {
  auto req = parse("POST /x HTTP/1.1\r\nHost: h\r\nConnection: content-length, transfer-encoding\r\nContent-Length: 3\r\n\r\n");
  strip_hop_by_hop(req);
  EXPECT_EQ(req[http::field::content_length], "3");
  EXPECT_EQ(req.count(http::field::connection), 0u);
}

TEST(HttpHeaders, ForwardedForAppendsAndFoldsEarlierHops) {
  auto fresh = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  add_forwarded(fresh, "10.0.0.9", "http");
  EXPECT_EQ(fresh["X-Forwarded-For"], "10.0.0.9");
  EXPECT_EQ(fresh["X-Forwarded-Proto"], "http");

  auto chained = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1, 192.0.2.2\r\n"
                       "X-Forwarded-For: 192.0.2.3\r\nX-Forwarded-Proto: gopher\r\n\r\n");
  add_forwarded(chained, "2001:db8::1", "https");
  EXPECT_EQ(chained.count("X-Forwarded-For"), 1u);
  EXPECT_EQ(chained["X-Forwarded-For"], "192.0.2.1, 192.0.2.2, 192.0.2.3, 2001:db8::1");
  EXPECT_EQ(chained["X-Forwarded-Proto"], "https") << "the client does not get to choose the scheme";
}

TEST(HttpHeaders, WhatTheHeadSays) {
  EXPECT_FALSE(wants_upgrade(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n")));
  EXPECT_TRUE(wants_upgrade(parse("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")));
  EXPECT_TRUE(wants_upgrade(parse("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n")));

  EXPECT_EQ(declared_length(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 70000000\r\n\r\n")), 70000000u);
  EXPECT_EQ(declared_length(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")), std::nullopt);
  EXPECT_EQ(declared_length(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n")), std::nullopt);

  const auto big = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000001\r\n\r\n");
  EXPECT_TRUE(declares_body_over(big, 1000000));
  EXPECT_FALSE(declares_body_over(big, 1000001)) << "exactly the limit is allowed";
  EXPECT_FALSE(declares_body_over(big, 0)) << "0 means no limit";
  EXPECT_FALSE(declares_body_over(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"), 1))
      << "a chunked body is checked while it streams";

  EXPECT_TRUE(expects_continue(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")));
  EXPECT_FALSE(expects_continue(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n")));
}

}  // namespace
}  // namespace wsteer::proxy
