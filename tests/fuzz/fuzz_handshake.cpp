// The handshake path on raw client bytes, as agent/proxy/session.cpp runs it: Beast's request
// parser reads the head (same header limit as the agent's default), then the plain-HTTP header
// rules, check_upgrade, every key policy, and the steering's choice with sticky cookies on.
// Nothing may crash, leak or trip UBSan; a valid upgrade must always get a backend.
#include "proxy/handshake_check.h"
#include "proxy/http_headers.h"
#include "steering/key_policy.h"
#include "steering/steering.h"
#include "steering/steering_config.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using namespace wsteer;

constexpr std::size_t kHeaderLimit = 8192;  // proxy::ProxyConfig's default header_limit

// Every kind of key source, each once, plus the fallbacks after them.
const std::vector<std::string> kSources = {"cookie:session", "header:x-room", "query:room", "path-segment:1",
                                           "path", "client-ip", "sec-websocket-key"};

std::unique_ptr<steering::Steering> make_fuzz_steering() {
  steering::SteeringConfig config;
  config.hash_key = kSources;
  config.cookie.name = "wsteer";
  config.cookie.secret = "fuzzing-secret-0123456789abcdef";
  config.maglev_size = 1009;  // prime, > 100 x backends, small so the table builds fast
  config.balance_factor = 1.25;
  auto s = steering::make_steering(config);
  steering::EndpointList endpoints;
  for (int i = 0; i < 3; ++i)
    endpoints.push_back({"pod-" + std::to_string(i), net::ip::make_address("10.0.0." + std::to_string(i + 10)),
                         8080, 1, false, 0});
  s->update_endpoints(endpoints);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const steering::KeyPolicy policy(kSources);
  static const auto steer = make_fuzz_steering();
  static const std::vector<net::ip::address> clients = {
      net::ip::make_address("192.0.2.7"), net::ip::make_address("2001:db8::7"),
      net::ip::make_address("::ffff:192.0.2.7"), net::ip::address_v4::any()};

  // As async_read_header: feed until the head is complete, an error, or the bytes run out.
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(boost::none);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_header_done()) {
    const auto n = parser.put(net::buffer(data + used, size - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  if (ec || !parser.is_header_done()) return 0;

  // The plain-HTTP rules read and rewrite the head (a copy: the upgrade path sees the original).
  http::fields fields = parser.get().base();
  (void)proxy::wants_upgrade(fields);
  (void)proxy::declared_length(fields);
  (void)proxy::declares_body_over(fields, 1024);
  (void)proxy::expects_continue(fields);
  proxy::strip_hop_by_hop(fields);
  proxy::add_forwarded(fields, "192.0.2.7", "http");

  const steering::Request request = parser.release();
  const auto verdict = proxy::check_upgrade(request);
  (void)proxy::make_error_response(verdict);

  for (const auto& client : clients) {
    for (const auto& text : kSources) (void)steering::extract_key(steering::parse_key_source(text), request, client);
    const auto key = policy.key_for(request, client);
    if (key.value.empty() && !client.is_unspecified()) std::abort();  // the fallback always has a key
    const auto choice = steer->choose(request, client, 3);
    // Three active backends, nothing full: every request, valid or not, must land somewhere.
    if (choice.result != steering::Choice::Result::ok || choice.candidates.empty()) std::abort();
  }
  return 0;
}
