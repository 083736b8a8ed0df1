// Boost.Beast 1.81 draws every client Sec-WebSocket-Key from a ChaCha generator whose block
// counter advances only once per 16 blocks (chacha.hpp: input[12] = ctr_ / 16), so each run of
// 16 blocks repeats: 188 distinct keys in 3,000 handshakes. wsteer hashes that key, so a client
// built on Beast would see a skewed spread that browsers never produce. Before a handshake,
// burn the rest of the repeating run so the key starts a fresh one.
#pragma once

#include <boost/beast/websocket/detail/prng.hpp>

namespace wsteer::demo {

inline void fresh_beast_client_key() {
  auto prng = boost::beast::websocket::detail::make_prng(true);
  for (int i = 0; i < 16 * 16; ++i) prng();  // 16 blocks of 16 words
}

}  // namespace wsteer::demo
