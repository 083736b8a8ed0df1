#include "harness/syn_flood.h"

#include "harness/netns.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace wsteer::test {
namespace {

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) acc += static_cast<std::uint32_t>(p[n - 1] << 8);
  return acc;
}

std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(~acc);
}

void put16(std::vector<std::uint8_t>& f, std::size_t at, std::uint16_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}

}  // namespace

Mac interface_mac(const std::string& netns, const std::string& interface) {
  NetnsGuard in(netns);
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  ifreq req{};
  std::strncpy(req.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  const int rc = ::ioctl(fd, SIOCGIFHWADDR, &req);
  ::close(fd);
  if (rc != 0) throw std::system_error(errno, std::generic_category(), "SIOCGIFHWADDR " + interface);
  Mac mac{};
  std::memcpy(mac.data(), req.ifr_hwaddr.sa_data, 6);
  return mac;
}

std::vector<std::uint8_t> build_frame(const FrameSpec& s) {
  const bool v6 = s.src_ip.find(':') != std::string::npos;
  std::vector<std::uint8_t> f;
  f.insert(f.end(), s.dst_mac.begin(), s.dst_mac.end());
  f.insert(f.end(), s.src_mac.begin(), s.src_mac.end());
  if (s.vlan) {
    f.insert(f.end(), {0x81, 0x00, static_cast<std::uint8_t>(s.vlan >> 8 & 0x0f), static_cast<std::uint8_t>(s.vlan)});
  }
  f.insert(f.end(), {static_cast<std::uint8_t>(v6 ? 0x86 : 0x08), static_cast<std::uint8_t>(v6 ? 0xdd : 0x00)});
  const std::size_t l3 = f.size();
  const std::size_t tcp_len = s.defect == FrameSpec::Defect::truncated_tcp ? 12 : 20;
  std::uint8_t src[16]{}, dst[16]{};
  if (inet_pton(v6 ? AF_INET6 : AF_INET, s.src_ip.c_str(), src) != 1 ||
      inet_pton(v6 ? AF_INET6 : AF_INET, s.dst_ip.c_str(), dst) != 1)
    throw std::invalid_argument("build_frame: bad address " + s.src_ip + " or " + s.dst_ip);
  std::size_t l4;
  if (v6) {
    f.resize(l3 + 40);
    f[l3] = 0x60;
    put16(f, l3 + 4, static_cast<std::uint16_t>(tcp_len));
    f[l3 + 6] = 6;  // TCP
    f[l3 + 7] = 64;
    std::memcpy(&f[l3 + 8], src, 16);
    std::memcpy(&f[l3 + 24], dst, 16);
    l4 = l3 + 40;
  } else {
    f.resize(l3 + 20);
    f[l3] = s.defect == FrameSpec::Defect::bad_ihl ? 0x43 : 0x45;  // IHL 3: shorter than the header itself
    put16(f, l3 + 2, static_cast<std::uint16_t>(20 + tcp_len));
    f[l3 + 8] = 64;
    f[l3 + 9] = 6;
    std::memcpy(&f[l3 + 12], src, 4);
    std::memcpy(&f[l3 + 16], dst, 4);
    put16(f, l3 + 10, fold(sum16(&f[l3], 20)));
    l4 = l3 + 20;
  }
  f.resize(l4 + tcp_len);
  put16(f, l4, s.src_port);
  put16(f, l4 + 2, s.dst_port);
  if (tcp_len >= 20) {
    f[l4 + 4] = 0x12;  // sequence number, any
    f[l4 + 12] = s.defect == FrameSpec::Defect::short_doff ? 0x30 : 0x50;  // doff 3 is below the minimum 5
    f[l4 + 13] = s.tcp_flags;
    put16(f, l4 + 14, 64240);
    // Pseudo-header checksum, so a frame that gets past XDP is a real SYN to the stack.
    std::uint32_t acc = sum16(src, v6 ? 16 : 4);
    acc = sum16(dst, v6 ? 16 : 4, acc);
    acc += 6 + static_cast<std::uint32_t>(tcp_len);
    put16(f, l4 + 16, fold(sum16(&f[l4], tcp_len, acc)));
  }
  if (f.size() < 60) f.resize(60);  // Ethernet minimum, as a NIC would pad
  return f;
}

FloodResult flood(const std::string& netns, const std::string& interface, FrameSpec spec, std::uint64_t count,
                  double max_seconds, bool spread_sources) {
  NetnsGuard in(netns);
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "AF_PACKET socket");
  const int one = 1;
  ::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));  // the generator, not the qdisc, is measured
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_ifindex = static_cast<int>(::if_nametoindex(interface.c_str()));
  addr.sll_halen = 6;
  std::memcpy(addr.sll_addr, spec.dst_mac.data(), 6);
  if (addr.sll_ifindex == 0) {
    ::close(fd);
    throw std::runtime_error("flood: no interface " + interface + " in " + netns);
  }
  // A pool of ready frames (distinct source ports, and sources if asked), sent round-robin: the
  // generator's cost per frame is the syscall's share, not building frames.
  constexpr std::size_t kBatch = 64, kPool = 4096;
  const std::string base_ip = spec.src_ip;
  std::vector<std::vector<std::uint8_t>> pool(kPool);
  for (std::size_t n = 0; n < kPool; ++n) {
    spec.src_port = static_cast<std::uint16_t>(1024 + n * 13 % 60000);
    if (spread_sources && base_ip.find(':') == std::string::npos)
      spec.src_ip = base_ip.substr(0, base_ip.rfind('.') + 1) + std::to_string(1 + n % 250);
    pool[n] = build_frame(spec);
  }
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  FloodResult result;
  const auto start = std::chrono::steady_clock::now();
  std::size_t next = 0;
  while (result.sent < count) {
    const std::size_t batch = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, count - result.sent));
    for (std::size_t i = 0; i < batch; ++i) {
      auto& frame = pool[(next + i) % kPool];
      iov[i] = {frame.data(), frame.size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &addr;
      msgs[i].msg_hdr.msg_namelen = sizeof(addr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(batch), 0);
    if (sent < 0) {
      if (errno == ENOBUFS || errno == EAGAIN) continue;
      const int err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "sendmmsg on " + interface);
    }
    next += static_cast<std::size_t>(sent);
    result.sent += static_cast<std::uint64_t>(sent);
    if ((result.sent & 0xfff) < kBatch &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > max_seconds)
      break;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  return result;
}

}  // namespace wsteer::test
