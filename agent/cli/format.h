// Small text formats of wsteerctl's tables: byte counts, ages, addresses, shares.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace wsteer::cli {

std::string human_bytes(std::uint64_t bytes);       // "512 B", "1.5 KiB", "3.2 GiB"
std::string human_duration(std::uint64_t seconds);  // "42s", "12m05s", "3h04m", "2d03h"
std::string percent(double fraction);               // "33.3%"
// A 16-byte address as the ABI stores it (IPv4 as ::ffff:a.b.c.d) in its usual text form.
std::string address_text(const std::array<std::uint8_t, 16>& addr);
// "10.0.0.1:9000", "[2001:db8::1]:9000".
std::string endpoint_text(const std::array<std::uint8_t, 16>& addr, std::uint16_t port);
// A bar of `width` cells scaled to fraction/max_fraction ("#####").
std::string bar(double fraction, double max_fraction, std::size_t width);

}  // namespace wsteer::cli
