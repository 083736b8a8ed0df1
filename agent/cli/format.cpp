#include "cli/format.h"

#include <boost/asio/ip/address_v6.hpp>

#include <cmath>
#include <cstdio>

namespace wsteer::cli {

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return text;
}

std::string human_duration(std::uint64_t s) {
  char text[32];
  if (s < 60) std::snprintf(text, sizeof(text), "%llus", static_cast<unsigned long long>(s));
  else if (s < 3600) std::snprintf(text, sizeof(text), "%llum%02llus", static_cast<unsigned long long>(s / 60), static_cast<unsigned long long>(s % 60));
  else if (s < 86400) std::snprintf(text, sizeof(text), "%lluh%02llum", static_cast<unsigned long long>(s / 3600), static_cast<unsigned long long>(s % 3600 / 60));
  else std::snprintf(text, sizeof(text), "%llud%02lluh", static_cast<unsigned long long>(s / 86400), static_cast<unsigned long long>(s % 86400 / 3600));
  return text;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%", fraction * 100);
  return text;
}

std::string address_text(const std::array<std::uint8_t, 16>& addr) {
  const boost::asio::ip::address_v6 v6(addr);
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  return v6.to_string();
}

std::string endpoint_text(const std::array<std::uint8_t, 16>& addr, std::uint16_t port) {
  const boost::asio::ip::address_v6 v6(addr);
  const auto host = address_text(addr);
  return (v6.is_v4_mapped() ? host : "[" + host + "]") + ":" + std::to_string(port);
}

std::string bar(double fraction, double max_fraction, std::size_t width) {
  if (max_fraction <= 0 || fraction <= 0) return {};
  const auto cells = static_cast<std::size_t>(std::lround(fraction / max_fraction * static_cast<double>(width)));
  return std::string(std::max<std::size_t>(cells, 1), '#');
}

}  // namespace wsteer::cli
