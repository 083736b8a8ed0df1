// Signed sticky cookies: the 101 carries a cookie naming the backend the connection landed on,
// and a returning client presenting it goes back there, through any agent on any node. The
// cookie names the backend by name (ids are local to an agent), carries its expiry, and is
// signed with HMAC-SHA256 under the operator's secret, so a client cannot pick its backend.
#pragma once

#include "steering/steering_config.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wsteer::steering {

// Throws std::invalid_argument with a clear message unless the cookie settings are usable
// (an empty name means cookies are off, and then nothing else is checked).
void validate_cookie_config(const CookieConfig& config);

class StickyCookieCodec {
 public:
  using Clock = std::chrono::system_clock;  // wall clock: expiries are compared across nodes

  // `config.name` must be non-empty; throws std::invalid_argument like validate_cookie_config.
  explicit StickyCookieCodec(CookieConfig config);

  const std::string& name() const { return config_.name; }

  // The cookie value for `backend_name`, valid until `expires`.
  std::string encode(std::string_view backend_name, Clock::time_point expires) const;

  // The backend a cookie value names, or nothing when it is garbled, forged or expired at `now`.
  std::optional<std::string> decode(std::string_view value, Clock::time_point now) const;

  // The complete Set-Cookie header value, e.g. "wsteer=v1....; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax".
  std::string set_cookie(std::string_view backend_name, Clock::time_point now) const;

 private:
  std::string mac(std::string_view backend_name, std::int64_t expires_unix) const;

  CookieConfig config_;
};

}  // namespace wsteer::steering
