#include "datapath/xdp_cidr.h"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace wsteer::datapath {
namespace asio = boost::asio;

Cidr parse_cidr(const std::string& text) {
  const auto slash = text.find('/');
  const std::string host = text.substr(0, slash);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec || host.empty()) throw std::invalid_argument("'" + text + "' is not a CIDR (expected e.g. 10.0.0.0/8 or 2001:db8::/32)");
  Cidr c;
  c.v6 = address.is_v6();
  if (c.v6) {
    const auto b = address.to_v6().to_bytes();
    std::memcpy(c.addr.data(), b.data(), 16);
  } else {
    const auto b = address.to_v4().to_bytes();
    std::memcpy(c.addr.data(), b.data(), 4);
  }
  const unsigned max = c.v6 ? 128 : 32;
  unsigned prefix = max;
  if (slash != std::string::npos) {
    const std::string bits = text.substr(slash + 1);
    const auto [end, err] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (bits.empty() || err != std::errc() || end != bits.data() + bits.size() || prefix > max)
      throw std::invalid_argument("'" + text + "': prefix length must be 0.." + std::to_string(max));
  }
  c.prefix = static_cast<std::uint8_t>(prefix);
  // Refuse host bits: the trie would silently ignore them, and the operator meant something.
  for (unsigned bit = prefix; bit < max; ++bit) {
    if (c.addr[bit / 8] & (0x80u >> (bit % 8))) {
      Cidr masked = c;
      for (unsigned b = prefix; b < max; ++b) masked.addr[b / 8] &= static_cast<std::uint8_t>(~(0x80u >> (b % 8)));
      throw std::invalid_argument("'" + text + "' has host bits set (did you mean " + to_string(masked) + "?)");
    }
  }
  return c;
}

std::string to_string(const Cidr& c) {
  if (c.v6) return asio::ip::address_v6(c.addr).to_string() + "/" + std::to_string(c.prefix);
  return asio::ip::address_v4({c.addr[0], c.addr[1], c.addr[2], c.addr[3]}).to_string() + "/" +
         std::to_string(c.prefix);
}

wsteer_xdp_lpm4 lpm4_key(const Cidr& c) {
  if (c.v6) throw std::invalid_argument("lpm4_key: " + to_string(c) + " is IPv6");
  wsteer_xdp_lpm4 key{};
  key.prefixlen = c.prefix;
  std::memcpy(key.addr, c.addr.data(), 4);
  return key;
}

wsteer_xdp_lpm6 lpm6_key(const Cidr& c) {
  if (!c.v6) throw std::invalid_argument("lpm6_key: " + to_string(c) + " is IPv4");
  wsteer_xdp_lpm6 key{};
  key.prefixlen = c.prefix;
  std::memcpy(key.addr, c.addr.data(), 16);
  return key;
}

Cidr cidr_of(const wsteer_xdp_lpm4& key) {
  Cidr c;
  std::memcpy(c.addr.data(), key.addr, 4);
  c.prefix = static_cast<std::uint8_t>(key.prefixlen);
  return c;
}

Cidr cidr_of(const wsteer_xdp_lpm6& key) {
  Cidr c;
  c.v6 = true;
  std::memcpy(c.addr.data(), key.addr, 16);
  c.prefix = static_cast<std::uint8_t>(key.prefixlen);
  return c;
}

wsteer_xdp_source source_of(const asio::ip::address& address) {
  wsteer_xdp_source s{};
  asio::ip::address_v6 v6;
  if (address.is_v4()) v6 = asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4());
  else v6 = address.to_v6();
  const auto bytes = v6.to_bytes();
  std::memcpy(s.addr, bytes.data(), 16);
  if (!v6.is_v4_mapped()) std::memset(s.addr + 8, 0, 8);  // the /64
  return s;
}

std::string to_string(const wsteer_xdp_source& s) {
  asio::ip::address_v6::bytes_type bytes{};
  std::memcpy(bytes.data(), s.addr, 16);
  const asio::ip::address_v6 v6(bytes);
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  return v6.to_string() + "/64";
}

}  // namespace wsteer::datapath
