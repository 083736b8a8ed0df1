// Sticky cookie values as a client may present them (agent/steering/sticky_cookie.*). Besides
// not crashing, a value that verifies must be exactly what encode() makes for the name and expiry
// it carries: any other spelling that verifies (a leading zero, a non-canonical base64 character)
// would be a second string carrying one signature. And any name round-trips through encode.
#include "steering/sticky_cookie.h"

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using wsteer::steering::CookieConfig;
using wsteer::steering::StickyCookieCodec;
using Clock = StickyCookieCodec::Clock;

// The seed corpus is signed with this secret (tests/fuzz/corpus/fuzz_sticky_cookie/README.md), so
// mutations start from cookies that verify.
StickyCookieCodec make_codec() {
  CookieConfig config;
  config.name = "wsteer";
  config.secret = "fuzzing-secret-0123456789abcdef";
  return StickyCookieCodec(config);
}

// The third dot-separated field, parsed as decode() does; only called on a value that verified.
std::int64_t expiry_of(std::string_view value) {
  for (int i = 0; i < 2; ++i) value.remove_prefix(value.find('.') + 1);
  value = value.substr(0, value.find('.'));
  std::int64_t expires = 0;
  std::from_chars(value.data(), value.data() + value.size(), expires);
  return expires;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const StickyCookieCodec codec = make_codec();
  const auto now = Clock::time_point(std::chrono::seconds(1'700'000'000));  // Nov 2023: seeds expire in 2100
  const std::string_view value(reinterpret_cast<const char*>(data), size);

  if (const auto name = codec.decode(value, now)) {
    const auto expires = Clock::time_point(std::chrono::seconds(expiry_of(value)));
    if (codec.encode(*name, expires) != value) std::abort();  // a second spelling verified
  }

  // The input as a backend name: what encode() makes must decode to it again.
  if (!value.empty()) {
    const auto cookie = codec.encode(value, now + std::chrono::hours(1));
    const auto back = codec.decode(cookie, now);
    if (!back || *back != value) std::abort();
    (void)codec.set_cookie(value, now);
  }
  return 0;
}
