// check_upgrade against requests as they arrive on the wire, and the error responses.
#include "proxy/handshake_check.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace wsteer::proxy {
namespace {

namespace http = boost::beast::http;

// The RFC 6455 section 1.2 example, with a Host; cases below change one thing in it.
const std::string kRfcRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

// Parses the head only, as the proxy's parser sees it before any body.
http::request<http::empty_body> parse(const std::string& raw) {
  http::request_parser<http::empty_body> parser;
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(raw), ec);
  EXPECT_FALSE(ec) << ec.message() << "\n" << raw;
  EXPECT_TRUE(parser.is_header_done()) << raw;
  return parser.release();
}

struct Case {
  const char* name;
  std::string raw;
  http::status status;
  std::string label;  // empty for a good request
};

std::ostream& operator<<(std::ostream& out, const Case& c) { return out << c.name; }

class UpgradeTable : public testing::TestWithParam<Case> {};

TEST_P(UpgradeTable, GivesTheExpectedVerdict) {
  const auto& c = GetParam();
  const auto verdict = check_upgrade(parse(c.raw));
  EXPECT_EQ(verdict.status, c.status) << verdict.reason;
  EXPECT_EQ(verdict.label, c.label);
  EXPECT_EQ(verdict.ok(), c.status == http::status::ok);
  EXPECT_EQ(verdict.reason.empty(), verdict.ok());
}

const auto ok = http::status::ok;
const auto bad = http::status::bad_request;

INSTANTIATE_TEST_SUITE_P(
    Good, UpgradeTable,
    testing::Values(
        Case{"rfc_example", kRfcRequest, ok, ""},
        Case{"connection_list_firefox", replace(kRfcRequest, "Connection: Upgrade", "Connection: keep-alive, Upgrade"), ok, ""},
        Case{"tokens_any_case", replace(replace(kRfcRequest, "Upgrade: websocket", "Upgrade: WebSocket"),
                                        "Connection: Upgrade", "Connection: UPGRADE"), ok, ""},
        Case{"upgrade_among_others", replace(kRfcRequest, "Upgrade: websocket", "Upgrade: h2c, websocket"), ok, ""},
        Case{"connection_on_two_lines",
             replace(kRfcRequest, "Connection: Upgrade", "Connection: keep-alive\r\nConnection: upgrade"), ok, ""},
        Case{"zero_content_length", replace(kRfcRequest, "\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n"), ok, ""}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Bad, UpgradeTable,
    testing::Values(
        Case{"post", replace(kRfcRequest, "GET /chat", "POST /chat"), bad, "method"},
        Case{"http_1_0", replace(kRfcRequest, "HTTP/1.1", "HTTP/1.0"), bad, "http_version"},
        Case{"no_host", replace(kRfcRequest, "Host: server.example.com\r\n", ""), bad, "host"},
        Case{"plain_http", "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", bad, "not_upgrade"},
        Case{"upgrade_to_h2c", replace(kRfcRequest, "Upgrade: websocket", "Upgrade: h2c"), bad, "not_upgrade"},
        Case{"upgrade_lookalike", replace(kRfcRequest, "Upgrade: websocket", "Upgrade: websockets"), bad, "not_upgrade"},
        Case{"no_connection", replace(kRfcRequest, "Connection: Upgrade\r\n", ""), bad, "connection"},
        Case{"connection_keep_alive_only", replace(kRfcRequest, "Connection: Upgrade", "Connection: keep-alive"), bad,
             "connection"},
        Case{"content_length", replace(kRfcRequest, "\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n"), bad, "body"},
        Case{"chunked", replace(kRfcRequest, "\r\n\r\n", "\r\nTransfer-Encoding: chunked\r\n\r\n"), bad, "body"},
        Case{"no_version", replace(kRfcRequest, "Sec-WebSocket-Version: 13\r\n", ""), bad, "version"},
        Case{"version_8", replace(kRfcRequest, "Version: 13", "Version: 8"), http::status::upgrade_required, "version"},
        Case{"version_list", replace(kRfcRequest, "Version: 13", "Version: 13, 8"), http::status::upgrade_required,
             "version"},
        Case{"version_twice", replace(kRfcRequest, "Version: 13", "Version: 13\r\nSec-WebSocket-Version: 13"),
             http::status::upgrade_required, "version"},
        Case{"no_key", replace(kRfcRequest, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), bad, "key"},
        Case{"key_10_bytes", replace(kRfcRequest, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="), bad, "key"},
        Case{"key_17_bytes", replace(kRfcRequest, "dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAAAAA="), bad, "key"},
        Case{"key_unpadded", replace(kRfcRequest, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ"), bad, "key"},
        Case{"key_not_base64", replace(kRfcRequest, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ!=="), bad, "key"},
        Case{"key_twice", replace(kRfcRequest, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: "
                                  "dGhlIHNhbXBsZSBub25jZQ=="),
             bad, "key"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CheckUpgrade, PlainHttpIsToldItIsNotAnUpgrade) {
  const auto verdict = check_upgrade(parse("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"));
  EXPECT_EQ(verdict.reason, "not a WebSocket upgrade");
}

std::string wire(const http::response<http::string_body>& response) {
  std::ostringstream out;
  out << response;
  return out.str();
}

TEST(ErrorResponse, UpgradeRequiredNamesTheVersion) {
  const auto response = make_error_response(check_upgrade(parse(replace(kRfcRequest, "Version: 13", "Version: 8"))));
  EXPECT_EQ(response.result(), http::status::upgrade_required);
  EXPECT_EQ(response[http::field::sec_websocket_version], "13");
  EXPECT_EQ(response[http::field::connection], "close");
  EXPECT_EQ(response.body(), "Sec-WebSocket-Version must be 13\n");
  EXPECT_TRUE(wire(response).starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
}

TEST(ErrorResponse, ServiceUnavailableSaysWhenToRetry) {
  const auto response = make_error_response(http::status::service_unavailable, "no_backends");
  EXPECT_EQ(response[http::field::retry_after], "1");
  EXPECT_EQ(response[http::field::connection], "close");
  EXPECT_EQ(response.body(), "no_backends\n");
  EXPECT_EQ(response[http::field::content_length], "12");
}

TEST(ErrorResponse, ExtraFieldsAddAndReplace) {
  const auto response = make_error_response(http::status::service_unavailable, "draining",
                                            {{http::field::retry_after, "30"}, {http::field::server, "wsteer"}});
  EXPECT_EQ(response[http::field::retry_after], "30");
  EXPECT_EQ(response.count(http::field::retry_after), 1u);
  EXPECT_EQ(response[http::field::server], "wsteer");
}

TEST(ErrorResponse, EveryStatusClosesAndCarriesOnlyItsOwnHeaders) {
  for (const auto status : {http::status::bad_request, http::status::request_header_fields_too_large,
                            http::status::bad_gateway, http::status::gateway_timeout}) {
    const auto response = make_error_response(status, "why");
    SCOPED_TRACE(wire(response));
    EXPECT_EQ(response.result(), status);
    EXPECT_EQ(response.version(), 11u);
    EXPECT_FALSE(response.keep_alive());
    EXPECT_EQ(response[http::field::connection], "close");
    EXPECT_EQ(response[http::field::content_type], "text/plain; charset=utf-8");
    EXPECT_EQ(response.count(http::field::retry_after), 0u);
    EXPECT_EQ(response.count(http::field::sec_websocket_version), 0u);
  }
}

}  // namespace
}  // namespace wsteer::proxy
