// What the operator chooses about steering (flags and YAML keys of the same names).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wsteer::steering {

struct CookieConfig {
  std::string name;             // empty: sticky cookies off
  std::string secret;           // HMAC-SHA256 key (from --cookie-secret-file or WSTEER_COOKIE_SECRET)
  std::string path = "/";
  std::uint32_t max_age_seconds = 3600;
  bool secure = false;
  bool http_only = true;
  std::string same_site = "Lax";  // Strict | Lax | None
};

struct SteeringConfig {
  // Key sources tried in order, first present wins: "sec-websocket-key", "client-ip",
  // "header:NAME", "query:NAME", "path", "path-segment:N", "cookie:NAME".
  std::vector<std::string> hash_key = {"sec-websocket-key"};
  CookieConfig cookie;
  double balance_factor = 0;  // 0: bounded load off; else e.g. 1.25
  std::uint32_t maglev_size = 65537;  // prime, > 100 x backends
  std::uint64_t seed = 0x77737465657221ULL;  // same on every node so agents agree
};

// Parses the --hash-key flag value, e.g. "query:room, sec-websocket-key": comma-separated
// sources, blanks ignored, each checked. Throws std::invalid_argument on an unknown or malformed
// source or an empty list.
std::vector<std::string> parse_hash_key_list(std::string_view comma_list);

// Throws std::invalid_argument with a clear message when `config` cannot work: unknown key
// source, table size not prime or above WSTEER_MAGLEV_MAX_SIZE, balance factor in (0, 1), or
// unusable cookie settings (bad name, short secret, SameSite=None without Secure, ...).
void validate_steering_config(const SteeringConfig& config);

class Steering;
class BackendIdPool;
// Builds the production steering (Maglev + key policies + cookies + bounded load + states).
// Throws std::invalid_argument with a clear message on a bad config (unknown key source,
// non-prime table size, ...). `ids`: the agent's node-wide backend id pool (one per agent, shared
// by every Service it balances); null gives the steering a pool of its own.
std::unique_ptr<Steering> make_steering(const SteeringConfig& config, std::shared_ptr<BackendIdPool> ids = nullptr);

}  // namespace wsteer::steering
