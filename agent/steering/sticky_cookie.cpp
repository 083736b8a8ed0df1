#include "steering/sticky_cookie.h"

#include "steering/http_syntax.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>

namespace wsteer::steering {

namespace {

// Value layout: "v1.<base64url(backend name)>.<expiry, unix seconds>.<base64url(HMAC)>". The
// version prefix lets a later format coexist with cookies already in browsers.
constexpr std::string_view kVersion = "v1";
constexpr std::size_t kMinSecretBytes = 16;
constexpr std::size_t kMacBytes = 32;  // SHA-256

// base64url without padding (RFC 4648 section 5): cookie-safe, and dots stay free as separators.
std::string base64url_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string padded(text);
  for (char& c : padded) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/' || c == '=') return std::nullopt;  // standard alphabet: not ours
  }
  const std::size_t padding = (4 - padded.size() % 4) % 4;
  padded.append(padding, '=');
  std::string out(padded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);  // EVP_DecodeBlock counts padding as zero bytes
  // Canonical only (RFC 4648 section 3.5): the last character's unused bits must be zero, or two
  // cookie strings would carry one signature (a flipped last character would still verify).
  if (base64url_encode(out) != text) return std::nullopt;
  return out;
}

// Splits "a.b.c.d" into exactly four parts.
std::optional<std::array<std::string_view, 4>> split_fields(std::string_view value) {
  std::array<std::string_view, 4> fields;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto dot = value.find('.');
    if ((dot == std::string_view::npos) != (i + 1 == fields.size())) return std::nullopt;
    fields[i] = value.substr(0, dot);
    value = dot == std::string_view::npos ? std::string_view{} : value.substr(dot + 1);
  }
  return fields;
}

}  // namespace

void validate_cookie_config(const CookieConfig& config) {
  if (config.name.empty()) return;
  const auto fail = [](const std::string& why) { throw std::invalid_argument("sticky cookie: " + why); };
  if (!is_http_token(config.name)) fail("name '" + config.name + "' is not a valid cookie name (token characters only)");
  if (config.secret.size() < kMinSecretBytes)
    fail("secret must be at least " + std::to_string(kMinSecretBytes) + " bytes (--cookie-secret-file)");
  if (config.path.empty() || config.path.front() != '/' ||
      std::any_of(config.path.begin(), config.path.end(), [](char c) { return c == ';' || c < 0x20 || c == 0x7f; }))
    fail("path '" + config.path + "' must start with '/' and contain no ';' or control characters");
  if (config.max_age_seconds == 0) fail("max-age must be at least 1 second");
  if (config.same_site != "Strict" && config.same_site != "Lax" && config.same_site != "None")
    fail("SameSite '" + config.same_site + "' must be Strict, Lax or None");
  if (config.same_site == "None" && !config.secure) fail("SameSite=None requires Secure (browsers drop the cookie otherwise)");
}

StickyCookieCodec::StickyCookieCodec(CookieConfig config) : config_(std::move(config)) {
  if (config_.name.empty()) throw std::invalid_argument("sticky cookie: name is empty");
  validate_cookie_config(config_);
}

std::string StickyCookieCodec::mac(std::string_view backend_name, std::int64_t expires_unix) const {
  // Length-prefixed fields: no two (name, expiry) pairs sign the same bytes.
  std::string message(kVersion);
  message += '\n' + std::to_string(backend_name.size()) + ':';
  message += backend_name;
  message += '\n' + std::to_string(expires_unix);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), config_.secret.data(), static_cast<int>(config_.secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(), &length);
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string StickyCookieCodec::encode(std::string_view backend_name, Clock::time_point expires) const {
  const auto expires_unix = std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count();
  std::string value(kVersion);
  value += '.' + base64url_encode(backend_name);
  value += '.' + std::to_string(expires_unix);
  value += '.' + base64url_encode(mac(backend_name, expires_unix));
  return value;
}

std::optional<std::string> StickyCookieCodec::decode(std::string_view value, Clock::time_point now) const {
  const auto fields = split_fields(value);
  if (!fields || (*fields)[0] != kVersion) return std::nullopt;
  auto backend_name = base64url_decode((*fields)[1]);
  const auto expires_text = (*fields)[2];
  std::int64_t expires_unix = 0;
  const auto [end, ec] = std::from_chars(expires_text.data(), expires_text.data() + expires_text.size(), expires_unix);
  if (!backend_name || backend_name->empty() || ec != std::errc{} || end != expires_text.data() + expires_text.size())
    return std::nullopt;
  // Canonical digits only, as encode() writes them: the MAC signs the number, so "0123" would
  // verify like "123" and one signature would carry two cookie strings (found by fuzz_sticky_cookie).
  if (std::to_string(expires_unix) != expires_text) return std::nullopt;
  const auto presented_mac = base64url_decode((*fields)[3]);
  if (!presented_mac || presented_mac->size() != kMacBytes) return std::nullopt;
  const auto expected_mac = mac(*backend_name, expires_unix);
  // Constant time: the comparison must not tell a forger how many leading bytes were right.
  if (CRYPTO_memcmp(presented_mac->data(), expected_mac.data(), kMacBytes) != 0) return std::nullopt;
  if (std::chrono::seconds(expires_unix) <= now.time_since_epoch()) return std::nullopt;
  return backend_name;
}

std::string StickyCookieCodec::set_cookie(std::string_view backend_name, Clock::time_point now) const {
  const auto max_age = std::chrono::seconds(config_.max_age_seconds);
  std::string header = config_.name + '=' + encode(backend_name, now + max_age);
  header += "; Path=" + config_.path;
  header += "; Max-Age=" + std::to_string(config_.max_age_seconds);
  if (config_.secure) header += "; Secure";
  if (config_.http_only) header += "; HttpOnly";
  header += "; SameSite=" + config_.same_site;
  return header;
}

}  // namespace wsteer::steering
