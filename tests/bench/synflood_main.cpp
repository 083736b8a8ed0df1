// wsteer-synflood: sends hand-built SYN frames from an interface in a network namespace as fast
// as one core can (AF_PACKET, sendmmsg), for scripts/bench/xdp.sh. Prints one JSON line:
// {"sent":N,"seconds":S,"cpu_seconds":C} (C: its own user + system CPU, from getrusage).
//
//   wsteer-synflood NETNS IFACE DST_MAC SRC_IP DST_IP DST_PORT SECONDS
#include "harness/syn_flood.h"

#include <sys/resource.h>

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s NETNS IFACE DST_MAC SRC_IP DST_IP DST_PORT SECONDS\n", argv[0]);
    return 2;
  }
  try {
    using namespace wsteer::test;
    FrameSpec spec;
    spec.src_mac = interface_mac(argv[1], argv[2]);
    unsigned m[6];
    if (std::sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
      std::fprintf(stderr, "bad MAC address '%s'\n", argv[3]);
      return 2;
    }
    for (int i = 0; i < 6; ++i) spec.dst_mac[i] = static_cast<std::uint8_t>(m[i]);
    spec.src_ip = argv[4];
    spec.dst_ip = argv[5];
    spec.dst_port = static_cast<std::uint16_t>(std::stoul(argv[6]));
    const auto r = flood(argv[1], argv[2], spec, ~0ULL, std::stod(argv[7]));
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::printf("{\"sent\":%llu,\"seconds\":%.3f,\"cpu_seconds\":%.3f}\n", static_cast<unsigned long long>(r.sent),
                r.seconds, cpu);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wsteer-synflood: %s\n", e.what());
    return 1;
  }
}
