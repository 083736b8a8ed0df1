// A plain-HTTP GET between agents on their metrics ports (/v1/connections, /v1/scaling): the
// scaling leader collects every node's report, followers ask the leader for KEDA's answer.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace wsteer::scaler {

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET http://ENDPOINT/TARGET; connect, write and read must finish within `timeout`. Throws
// std::runtime_error naming the endpoint and what failed (any status is a reply, not an error).
boost::asio::awaitable<HttpReply> http_get(boost::asio::ip::tcp::endpoint endpoint, std::string target,
                                           std::chrono::milliseconds timeout);

// The same GET to every endpoint at once; one slot per endpoint, empty where the request failed
// (the reason is in `errors`, same index). Returns when all have answered or failed.
struct FetchAll {
  std::vector<std::optional<HttpReply>> replies;
  std::vector<std::string> errors;
};
boost::asio::awaitable<FetchAll> http_get_all(std::vector<boost::asio::ip::tcp::endpoint> endpoints, std::string target,
                                              std::chrono::milliseconds timeout);

}  // namespace wsteer::scaler
