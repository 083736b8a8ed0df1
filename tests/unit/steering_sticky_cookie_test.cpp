// Signed sticky cookies: valid ones steer, forged, stale or garbled ones never do (and never fail).
#include "steering/sticky_cookie.h"
#include "steering/steering.h"
#include "steering/steering_config.h"

#include <gtest/gtest.h>

namespace wsteer::steering {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

CookieConfig cookie_config() {
  CookieConfig c;
  c.name = "wsteer";
  c.secret = "0123456789abcdef-secret";
  return c;
}

TEST(StickyCookieCodec, RoundTripsBackendNamesOfAnyShape) {
  const StickyCookieCodec codec(cookie_config());
  const auto now = Clock::now();
  for (const std::string name : {"pod-a", "10.0.0.1:8080", "[2001:db8::1]:443", "ns/pod with space;=,\"", "x"}) {
    const auto value = codec.encode(name, now + 1h);
    EXPECT_EQ(value.find_first_of(";, \""), std::string::npos) << value;  // a plain cookie-value
    EXPECT_EQ(codec.decode(value, now), name);
  }
}

TEST(StickyCookieCodec, RejectsStaleCookies) {
  const StickyCookieCodec codec(cookie_config());
  const auto now = Clock::now();
  const auto value = codec.encode("pod-a", now + 10s);
  EXPECT_TRUE(codec.decode(value, now + 9s));
  EXPECT_FALSE(codec.decode(value, now + 10s));
  EXPECT_FALSE(codec.decode(codec.encode("pod-a", now - 1s), now));
}

TEST(StickyCookieCodec, RejectsForgeries) {
  const StickyCookieCodec codec(cookie_config());
  const auto now = Clock::now();
  const auto genuine = codec.encode("pod-a", now + 1h);
  const auto dot1 = genuine.find('.');
  const auto dot2 = genuine.find('.', dot1 + 1);
  const auto dot3 = genuine.find('.', dot2 + 1);

  // Another backend's name with pod-a's signature.
  const auto other = codec.encode("pod-b", now + 1h);
  const auto other_name = other.substr(dot1, other.find('.', dot1 + 1) - dot1);
  EXPECT_FALSE(codec.decode(genuine.substr(0, dot1) + other_name + genuine.substr(dot2), now));
  // A later expiry with the old signature.
  const auto later = std::to_string(std::chrono::duration_cast<std::chrono::seconds>((now + 24h).time_since_epoch()).count());
  EXPECT_FALSE(codec.decode(genuine.substr(0, dot2 + 1) + later + genuine.substr(dot3), now));
  // One flipped signature character, and every other value of the last one (its unused low bits
  // included: only the canonical encoding is accepted).
  auto flipped = genuine;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(codec.decode(flipped, now));
  for (const char c : std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")) {
    auto other_last = genuine;
    other_last.back() = c;
    if (c != genuine.back()) EXPECT_FALSE(codec.decode(other_last, now)) << other_last;
  }
  // Signed under another secret.
  auto other_config = cookie_config();
  other_config.secret = "another-secret-of-16+";
  EXPECT_FALSE(codec.decode(StickyCookieCodec(other_config).encode("pod-a", now + 1h), now));
}

// Only the spelling encode() writes verifies: the MAC signs the expiry as a number, so a leading
// zero (or sign) in its digits must not give a second string the same signature (a fuzzer finding).
TEST(StickyCookieCodec, AcceptsOnlyCanonicalExpiryDigits) {
  const StickyCookieCodec codec(cookie_config());
  const auto now = Clock::now();
  const auto genuine = codec.encode("pod-a", now + 1h);
  ASSERT_TRUE(codec.decode(genuine, now));
  const auto dot2 = genuine.find('.', genuine.find('.') + 1);
  for (const std::string prefix : {"0", "00", "+", "-0"})
    EXPECT_FALSE(codec.decode(genuine.substr(0, dot2 + 1) + prefix + genuine.substr(dot2 + 1), now)) << prefix;
}

TEST(StickyCookieCodec, IgnoresGarbage) {
  const StickyCookieCodec codec(cookie_config());
  const auto now = Clock::now();
  const auto genuine = codec.encode("pod-a", now + 1h);
  for (const std::string& garbage :
       {std::string{}, std::string("v1"), std::string("v1..."), std::string("v2") + genuine.substr(2), genuine + ".x",
        genuine.substr(0, genuine.size() - 1), genuine + "A", std::string("v1.!!!.1.AAAA"), std::string("v1.cG9k.x.AAAA"),
        std::string("v1.cG9k.99999999999999999999999.AAAA"), std::string(4096, '.'), std::string("\0\xff", 2)}) {
    EXPECT_FALSE(codec.decode(garbage, now)) << garbage;
  }
}

TEST(StickyCookieCodec, SetCookieCarriesTheConfiguredAttributes) {
  auto config = cookie_config();
  config.path = "/chat";
  config.max_age_seconds = 600;
  config.secure = true;
  config.http_only = false;
  config.same_site = "None";
  const StickyCookieCodec codec(config);
  const auto header = codec.set_cookie("pod-a", Clock::now());
  EXPECT_EQ(header.rfind("wsteer=v1.", 0), 0u) << header;
  EXPECT_NE(header.find("; Path=/chat; Max-Age=600; Secure; SameSite=None"), std::string::npos) << header;
  EXPECT_EQ(header.find("HttpOnly"), std::string::npos);

  const StickyCookieCodec defaults(cookie_config());
  EXPECT_NE(defaults.set_cookie("pod-a", Clock::now()).find("; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"),
            std::string::npos);
}

TEST(CookieConfigValidation, RejectsUnusableSettings) {
  const auto rejects = [](auto mutate) {
    auto c = cookie_config();
    mutate(c);
    return [&] {
      try {
        validate_cookie_config(c);
      } catch (const std::invalid_argument&) {
        return true;
      }
      return false;
    }();
  };
  EXPECT_FALSE(rejects([](CookieConfig&) {}));
  EXPECT_FALSE(rejects([](CookieConfig& c) { c = CookieConfig{}; }));  // off: nothing to check
  EXPECT_TRUE(rejects([](CookieConfig& c) { c.name = "bad name"; }));
  EXPECT_TRUE(rejects([](CookieConfig& c) { c.secret = "short"; }));
  EXPECT_TRUE(rejects([](CookieConfig& c) { c.path = "nope"; }));
  EXPECT_TRUE(rejects([](CookieConfig& c) { c.path = "/a;Domain=evil"; }));
  EXPECT_TRUE(rejects([](CookieConfig& c) { c.max_age_seconds = 0; }));
  EXPECT_TRUE(rejects([](CookieConfig& c) { c.same_site = "lax"; }));
  EXPECT_TRUE(rejects([](CookieConfig& c) { c.same_site = "None"; }));
  EXPECT_FALSE(rejects([](CookieConfig& c) { c.same_site = "None"; c.secure = true; }));
}

// Through the Steering interface, as the proxy sees it.
class StickySteering : public ::testing::Test {
 protected:
  void SetUp() override {
    SteeringConfig config;
    config.cookie = cookie_config();
    steering_ = make_steering(config);
    EndpointList list;
    for (int i = 0; i < 10; ++i)
      list.push_back({"pod-" + std::to_string(i), boost::asio::ip::make_address("10.0.0." + std::to_string(i + 1)), 80});
    steering_->update_endpoints(list);
  }

  // A request whose own key would land on some pod other than `avoid`.
  Request request_avoiding(const std::string& avoid, std::string cookie) {
    for (int i = 0;; ++i) {
      Request r{http::verb::get, "/", 11};
      r.set(http::field::sec_websocket_key, "key-" + std::to_string(i));
      if (steering_->choose(r, {}, 1).candidates.front().name == avoid) continue;
      if (!cookie.empty()) r.set(http::field::cookie, "other=1; wsteer=" + cookie);
      return r;
    }
  }

  Backend backend_named(const std::string& name) {
    for (const auto& s : steering_->snapshot())
      if (s.backend.name == name) return s.backend;
    throw std::runtime_error("no backend " + name);
  }

  std::string cookie_value_for(const std::string& name) {
    const auto header = *steering_->sticky_cookie(backend_named(name));
    return header.substr(header.find('=') + 1, header.find(';') - header.find('=') - 1);
  }

  std::unique_ptr<Steering> steering_;
};

TEST_F(StickySteering, ValidCookieSteersBackToItsBackend) {
  const auto r = request_avoiding("pod-3", cookie_value_for("pod-3"));
  const auto choice = steering_->choose(r, {}, 3);
  ASSERT_EQ(choice.result, Choice::Result::ok);
  EXPECT_EQ(choice.key_source, "sticky-cookie");
  ASSERT_EQ(choice.candidates.size(), 3u);
  EXPECT_EQ(choice.candidates[0].name, "pod-3");
  EXPECT_NE(choice.candidates[1].name, "pod-3");  // fallbacks come from the key, without repeats
  EXPECT_NE(choice.candidates[2].name, "pod-3");
}

TEST_F(StickySteering, ForgedStaleOrGarbledCookiesAreIgnored) {
  const StickyCookieCodec codec(cookie_config());
  auto wrong_secret = cookie_config();
  wrong_secret.secret = "not-the-agents-secret";
  for (const std::string& bad : {StickyCookieCodec(wrong_secret).encode("pod-3", Clock::now() + 1h),
                                codec.encode("pod-3", Clock::now() - 1s), std::string("v1.garbage"), std::string("pod-3")}) {
    const auto r = request_avoiding("pod-3", bad);
    const auto choice = steering_->choose(r, {}, 1);
    ASSERT_EQ(choice.result, Choice::Result::ok);
    EXPECT_EQ(choice.key_source, "sec-websocket-key");
    EXPECT_NE(choice.candidates[0].name, "pod-3");
  }
}

TEST_F(StickySteering, CookieForAnUnusableBackendFallsBackToHashing) {
  const auto cookie = cookie_value_for("pod-3");
  const auto r = request_avoiding("pod-3", cookie);
  steering_->set_draining("pod-3", true);
  EXPECT_NE(steering_->choose(r, {}, 1).candidates[0].name, "pod-3");
  steering_->set_draining("pod-3", false);
  steering_->set_healthy(backend_named("pod-3").id, false);
  EXPECT_NE(steering_->choose(r, {}, 1).candidates[0].name, "pod-3");
  steering_->set_healthy(backend_named("pod-3").id, true);
  EXPECT_EQ(steering_->choose(r, {}, 1).candidates[0].name, "pod-3");
}

TEST_F(StickySteering, CookieNamesTheBackendSoAnotherAgentHonoursIt) {
  // Another agent with the same secret but a different history: its ids differ, names do not.
  SteeringConfig config;
  config.cookie = cookie_config();
  auto other_agent = make_steering(config);
  EndpointList list = {{"pod-extra", boost::asio::ip::make_address("10.0.1.1"), 80}};
  other_agent->update_endpoints(list);
  for (int i = 9; i >= 0; --i)
    list.push_back({"pod-" + std::to_string(i), boost::asio::ip::make_address("10.0.0." + std::to_string(i + 1)), 80});
  other_agent->update_endpoints(list);
  list.erase(list.begin());
  other_agent->update_endpoints(list);

  const auto r = request_avoiding("pod-3", cookie_value_for("pod-3"));
  const auto choice = other_agent->choose(r, {}, 1);
  EXPECT_EQ(choice.candidates[0].name, "pod-3");
  EXPECT_NE(choice.candidates[0].id, backend_named("pod-3").id);
}

TEST(StickyCookiesOff, NoSetCookie) {
  auto steering = make_steering(SteeringConfig{});
  EXPECT_FALSE(steering->sticky_cookie(Backend{0, "pod-a", {}, 80}));
}

}  // namespace
}  // namespace wsteer::steering
