// Every key source: parsing, extraction from a request, precedence and fallback.
#include "steering/key_policy.h"
#include "steering/request_cookies.h"
#include "steering/steering_config.h"

#include <gtest/gtest.h>

namespace wsteer::steering {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::make_address;

Request request(std::string target) { return Request{http::verb::get, target, 11}; }

std::optional<std::string> extract(std::string_view source, const Request& r,
                                   const boost::asio::ip::address& client = make_address("192.0.2.7")) {
  return extract_key(parse_key_source(source), r, client);
}

TEST(KeySourceParsing, AcceptsEveryKnownSource) {
  EXPECT_EQ(parse_key_source("sec-websocket-key").kind, KeySource::Kind::sec_websocket_key);
  EXPECT_EQ(parse_key_source("client-ip").kind, KeySource::Kind::client_ip);
  EXPECT_EQ(parse_key_source("path").kind, KeySource::Kind::path);
  const auto header = parse_key_source("header:X-Room");
  EXPECT_EQ(header.kind, KeySource::Kind::header);
  EXPECT_EQ(header.argument, "X-Room");
  const auto query = parse_key_source(" query:room ");
  EXPECT_EQ(query.kind, KeySource::Kind::query);
  EXPECT_EQ(query.argument, "room");
  EXPECT_EQ(query.label, "query:room");
  const auto segment = parse_key_source("path-segment:2");
  EXPECT_EQ(segment.kind, KeySource::Kind::path_segment);
  EXPECT_EQ(segment.segment, 2u);
  EXPECT_EQ(parse_key_source("cookie:session").kind, KeySource::Kind::cookie);
}

TEST(KeySourceParsing, RejectsBadSourcesWithTheirText) {
  for (const char* bad : {"", "bogus", "header:", "header:bad name", "query:", "cookie:a;b", "path-segment:",
                          "path-segment:-1", "path-segment:x", "path:1", "client-ip:1", "sec-websocket-key:x"}) {
    try {
      parse_key_source(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(HashKeyList, SplitsTrimsAndValidates) {
  EXPECT_EQ(parse_hash_key_list("query:room, cookie:wsteer ,sec-websocket-key"),
            (std::vector<std::string>{"query:room", "cookie:wsteer", "sec-websocket-key"}));
  EXPECT_THROW(parse_hash_key_list(""), std::invalid_argument);
  EXPECT_THROW(parse_hash_key_list(" , "), std::invalid_argument);
  EXPECT_THROW(parse_hash_key_list("query:room,nope"), std::invalid_argument);
}

TEST(KeyExtraction, SecWebSocketKey) {
  auto r = request("/");
  EXPECT_FALSE(extract("sec-websocket-key", r));
  r.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(extract("sec-websocket-key", r), "dGhlIHNhbXBsZSBub25jZQ==");
}

TEST(KeyExtraction, ClientIpHashesV4MappedAddressesAsV4) {
  const auto r = request("/");
  EXPECT_EQ(extract("client-ip", r, make_address("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(extract("client-ip", r, make_address("::ffff:192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(extract("client-ip", r, make_address("2001:db8::1")), "2001:db8::1");
}

TEST(KeyExtraction, HeaderIsCaseInsensitiveAndEmptyMeansAbsent) {
  auto r = request("/");
  EXPECT_FALSE(extract("header:X-Room", r));
  r.set("x-room", "");
  EXPECT_FALSE(extract("header:X-Room", r));
  r.set("x-room", "lobby");
  EXPECT_EQ(extract("header:X-Room", r), "lobby");
}

TEST(KeyExtraction, QueryParameterIsDecoded) {
  EXPECT_EQ(extract("query:room", request("/ws?user=1&room=42")), "42");
  EXPECT_EQ(extract("query:room", request("/ws?room=a%2Fb")), "a/b");
  EXPECT_EQ(extract("query:room", request("/ws?room=a%2Fb")), extract("query:room", request("/ws?room=a/b")));
  EXPECT_EQ(extract("query:room", request("http://example.com/ws?room=7")), "7");
  EXPECT_FALSE(extract("query:room", request("/ws?rooms=1")));
  EXPECT_FALSE(extract("query:room", request("/ws?room")));
  EXPECT_FALSE(extract("query:room", request("/ws?room=")));
  EXPECT_FALSE(extract("query:room", request("/ws")));
  EXPECT_FALSE(extract("query:room", request("not a target")));
}

// An empty query followed by a fragment made Boost.URL 1.81's params() run off the end (a stack
// overflow: one request crashed the agent when a query source was configured). fuzz_handshake.
TEST(KeyExtraction, EmptyQueryBeforeAFragmentIsJustAbsent) {
  for (const char* target : {"/a?#b", "/a?#", "?#", "/rooms/42?#room=lobby", "http://h/a?#room=1"})
    EXPECT_FALSE(extract("query:room", request(target))) << target;
  EXPECT_EQ(extract("query:room", request("/a?room=1#frag")), "1");
  EXPECT_EQ(extract("path-segment:1", request("/rooms/42?#x")), "42");
  EXPECT_EQ(extract("path", request("/rooms/42?#x")), "/rooms/42");
}

// The query is split by hand (Boost.URL 1.81's own parsers crash on the above): same meaning.
TEST(KeyExtraction, QueryDecodingMatchesFormEncoding) {
  EXPECT_EQ(extract("query:room", request("/ws?room=a+b%20c")), "a b c");
  EXPECT_EQ(extract("query:room", request("/ws?r%6Fom=5")), "5");     // the name is decoded too
  EXPECT_FALSE(extract("query:room", request("/ws?Room=5")));         // and compared exactly
  EXPECT_EQ(extract("query:room", request("/ws?room=1&room=2")), "1");  // the first wins
  EXPECT_FALSE(extract("query:room", request("/ws?room&room=2")));     // even without a value
  EXPECT_EQ(extract("query:room", request("/ws?&&room=%41%2f")), "A/");
  EXPECT_FALSE(extract("query:room", request("/ws?room=%4")));
}

TEST(KeyExtraction, PathAndPathSegments) {
  const auto r = request("/rooms/42/ws?x=1");
  EXPECT_EQ(extract("path", r), "/rooms/42/ws");
  EXPECT_EQ(extract("path-segment:0", r), "rooms");
  EXPECT_EQ(extract("path-segment:1", r), "42");
  EXPECT_EQ(extract("path-segment:2", r), "ws");
  EXPECT_FALSE(extract("path-segment:3", r));
  EXPECT_EQ(extract("path-segment:1", request("/rooms/a%20b")), "a b");
}

TEST(KeyExtraction, CookieAmongOthersAndAcrossHeaders) {
  auto r = request("/");
  EXPECT_FALSE(extract("cookie:session", r));
  r.insert(http::field::cookie, "theme=dark; sessionx=no");
  EXPECT_FALSE(extract("cookie:session", r));
  r.insert(http::field::cookie, "a=1;  session = abc/def== ; b=2");
  EXPECT_EQ(extract("cookie:session", r), "abc/def==");
  auto quoted = request("/");
  quoted.insert(http::field::cookie, "session=\"q\"");
  EXPECT_EQ(extract("cookie:session", quoted), "q");
  auto empty = request("/");
  empty.insert(http::field::cookie, "session=");
  EXPECT_FALSE(extract("cookie:session", empty));
}

TEST(RequestCookies, NamesAreCaseSensitiveAndFirstWins) {
  auto r = request("/");
  r.insert(http::field::cookie, "Session=upper; session=first; session=second");
  EXPECT_EQ(find_request_cookie(r, "session"), "first");
  EXPECT_EQ(find_request_cookie(r, "Session"), "upper");
  EXPECT_FALSE(find_request_cookie(r, "SESSION"));
}

TEST(KeyPolicy, FirstPresentSourceWins) {
  const KeyPolicy policy({"query:room", "cookie:team", "sec-websocket-key"});
  auto r = request("/ws?room=9");
  r.set(http::field::sec_websocket_key, "k");
  r.insert(http::field::cookie, "team=blue");
  auto key = policy.key_for(r, make_address("192.0.2.1"));
  EXPECT_EQ(key.source, "query:room");
  EXPECT_EQ(key.value, "9");

  r.target("/ws");
  key = policy.key_for(r, make_address("192.0.2.1"));
  EXPECT_EQ(key.source, "cookie:team");
  EXPECT_EQ(key.value, "blue");

  r.erase(http::field::cookie);
  key = policy.key_for(r, make_address("192.0.2.1"));
  EXPECT_EQ(key.source, "sec-websocket-key");
}

TEST(KeyPolicy, FallsBackToTheWebSocketKeyThenTheClient) {
  const KeyPolicy policy({"query:room"});
  auto r = request("/ws");
  r.set(http::field::sec_websocket_key, "k");
  EXPECT_EQ(policy.key_for(r, make_address("192.0.2.1")).source, "fallback:sec-websocket-key");
  r.erase(http::field::sec_websocket_key);
  const auto key = policy.key_for(r, make_address("192.0.2.1"));
  EXPECT_EQ(key.source, "fallback:client-ip");
  EXPECT_EQ(key.value, "192.0.2.1");
}

TEST(KeyPolicy, RejectsAnEmptyList) { EXPECT_THROW(KeyPolicy({}), std::invalid_argument); }

}  // namespace
}  // namespace wsteer::steering
