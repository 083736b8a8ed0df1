// Dead peers: a client or backend that vanishes without a FIN or a reset (its node lost power, a
// mobile client left coverage, a NAT forgot the mapping) must not keep a flow and its descriptors
// forever. TCP keepalive probes an idle connection; TCP_USER_TIMEOUT bounds how long sent bytes
// may stay unacknowledged (keepalive probes included, see tcp(7)). When either gives up, the
// socket reports ETIMEDOUT (EPOLLERR): a spliced flow then ends both sides (SplicedFlows), a
// userspace relay sees the error on its next read or write. docs/kernel-notes.md has the facts.
#pragma once

#include "proxy/proxy_config.h"

namespace wsteer::proxy {

// Sets SO_KEEPALIVE, TCP_KEEPIDLE/KEEPINTVL/KEEPCNT and TCP_USER_TIMEOUT on `fd` as `cfg` says
// (keepalive off when its idle time is 0; the kernel's user timeout when that is 0). Failures are
// logged at debug level: a socket that already died needs none of it.
void apply_tcp_liveness(int fd, const ProxyConfig& cfg);

}  // namespace wsteer::proxy
