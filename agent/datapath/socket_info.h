// Facts about a TCP socket the flow lifecycle needs, read through getsockopt/ioctl.
#pragma once

#include <cstdint>
#include <optional>

namespace wsteer::datapath {

std::optional<std::uint64_t> socket_cookie(int fd);
// Bytes this socket has accepted into its TCP send path so far (acked + still queued), up to a
// per-socket constant (the SYN). Compare two readings to see what was written in between.
std::optional<std::uint64_t> tcp_bytes_written(int fd);
// Bytes of this socket's stream its receiver has acknowledged (tcpi_bytes_acked).
std::optional<std::uint64_t> tcp_bytes_acked(int fd);
// Sets SO_RCVLOWAT to 1: the kernel calls the socket's data-ready hook, which pushes bytes that
// arrived before the socket joined the sockhash through the verdict.
bool kick(int fd);

}  // namespace wsteer::datapath
