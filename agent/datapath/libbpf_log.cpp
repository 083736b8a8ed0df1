#include "datapath/libbpf_log.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

namespace wsteer::datapath {
namespace {

spdlog::level::level_enum level_of(libbpf_print_level level) {
  switch (level) {
    case LIBBPF_WARN: return spdlog::level::warn;
    case LIBBPF_INFO: return spdlog::level::info;
    default: return spdlog::level::debug;
  }
}

int print(libbpf_print_level level, const char* format, va_list args) {
  const auto spd_level = level_of(level);
  if (!spdlog::default_logger_raw()->should_log(spd_level)) return 0;
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string text(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<std::size_t>(n));
  // libbpf ends its lines with '\n' (and a verifier log is many lines): one record per call.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (!text.empty()) spdlog::log(spd_level, "{}", text);
  return n;
}

}  // namespace

void route_libbpf_log_to_spdlog() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(print); });
}

}  // namespace wsteer::datapath
