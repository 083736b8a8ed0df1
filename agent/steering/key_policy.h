// Which part of an Upgrade request the Maglev key is taken from, as the operator chose with
// --hash-key (e.g. "query:room,cookie:session,sec-websocket-key"): the first source present wins.
#pragma once

#include "steering/steering.h"

#include <boost/asio/ip/address.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsteer::steering {

struct KeySource {
  enum class Kind { sec_websocket_key, client_ip, header, query, path, path_segment, cookie };
  Kind kind = Kind::sec_websocket_key;
  std::string argument;     // header, query parameter or cookie name
  std::size_t segment = 0;  // path-segment:N, 0-based: "/rooms/42" has segment 0 "rooms", 1 "42"
  std::string label;        // canonical text, e.g. "query:room"; reported as Choice::key_source
};

// Parses one source ("sec-websocket-key", "client-ip", "header:NAME", "query:NAME", "path",
// "path-segment:N", "cookie:NAME"). Throws std::invalid_argument naming the bad source.
KeySource parse_key_source(std::string_view text);

// The key's value for one source, or nothing when the request does not carry it.
std::optional<std::string> extract_key(const KeySource& source, const Request& request,
                                       const boost::asio::ip::address& client);

struct HashKey {
  std::string value;
  std::string source;  // the label of the source that decided
};

class KeyPolicy {
 public:
  // Throws std::invalid_argument on an empty list or a bad source.
  explicit KeyPolicy(const std::vector<std::string>& sources);

  // The first configured source present in the request. When none is, the connection is spread
  // on its own Sec-WebSocket-Key (or, lacking even that, the client address), so a request
  // without the room id still lands somewhere rather than failing.
  HashKey key_for(const Request& request, const boost::asio::ip::address& client) const;

 private:
  std::vector<KeySource> sources_;
};

}  // namespace wsteer::steering
