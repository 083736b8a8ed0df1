// Settings of the proxy path (flags and YAML keys of the agent).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace wsteer::proxy {

enum class DatapathMode { splice, userspace };

struct ProxyConfig {
  DatapathMode datapath = DatapathMode::splice;
  std::chrono::milliseconds handshake_timeout{10'000};  // whole client request (slowloris guard)
  std::chrono::milliseconds connect_timeout{3'000};     // per backend attempt
  std::chrono::milliseconds backend_response_timeout{10'000};
  std::size_t max_tries = 3;                            // backends tried before 502
  std::size_t header_limit = 16 * 1024;                 // larger request headers get 431
  std::string forwarded_proto = "http";                 // X-Forwarded-Proto
  // Backpressure: per spliced flow and direction, the bytes redirected but not yet acknowledged by
  // the reader beyond which the verdict holds the sender's bytes (its TCP window closes). 0: none.
  std::uint64_t splice_buffer_limit = 4 * 1024 * 1024;
  // Plain HTTP (proxy/http_proxy.cpp, docs/http.md). A request head must arrive within
  // handshake_timeout, and a body may stall no longer than that between reads (408 either way).
  std::chrono::milliseconds http_idle_timeout{60'000};      // keep-alive wait for the next request
  std::chrono::milliseconds http_response_timeout{60'000};  // backend's response head (504); above
                                                            // socket.io's long-poll (25 s ping)
  std::uint64_t http_body_limit = 64 * 1024 * 1024;         // larger request bodies get 413; 0: none
  // Dead peers (proxy/tcp_liveness.h), on the client's and the backend's socket: keepalive probes
  // after this much idle time (0: no keepalive), every interval, `count` of them; sent bytes (probes
  // included) unacknowledged this long end the connection (0: the kernel's ~15 min retransmissions).
  std::chrono::seconds tcp_keepalive_idle{60};
  std::chrono::seconds tcp_keepalive_interval{10};
  unsigned tcp_keepalive_count = 6;
  std::chrono::milliseconds tcp_user_timeout{120'000};
};

}  // namespace wsteer::proxy
