// How an upload (stream --direction up) learns what the receiving side measured: the client sends
// the text message "stats" on /sink and the server answers, in order with the data before it,
// "bytes=B messages=M ns=T" (totals received so far and the server's monotonic clock). Two such
// replies bracket the measured window, so the rate is the receiver's bytes over the receiver's time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace wsteer::bench {

inline constexpr std::string_view kSinkStatsRequest = "stats";

struct SinkStats {
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  std::int64_t ns = 0;
};

inline std::string format_sink_stats(const SinkStats& s) {
  char buf[96];
  const int n = std::snprintf(buf, sizeof buf, "bytes=%llu messages=%llu ns=%lld", static_cast<unsigned long long>(s.bytes),
                              static_cast<unsigned long long>(s.messages), static_cast<long long>(s.ns));
  return std::string(buf, static_cast<std::size_t>(n));
}

inline std::optional<SinkStats> parse_sink_stats(std::string_view text) {
  const std::string copy(text);  // sscanf needs a terminated string
  unsigned long long bytes = 0, messages = 0;
  long long ns = 0;
  int used = 0;
  if (std::sscanf(copy.c_str(), "bytes=%llu messages=%llu ns=%lld%n", &bytes, &messages, &ns, &used) != 3 ||
      static_cast<std::size_t>(used) != copy.size())
    return std::nullopt;
  return SinkStats{bytes, messages, ns};
}

}  // namespace wsteer::bench
