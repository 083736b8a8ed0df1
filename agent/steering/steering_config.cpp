#include "steering/steering_config.h"

#include "steering/http_syntax.h"
#include "steering/key_policy.h"
#include "steering/maglev.h"
#include "steering/maglev_steering.h"
#include "steering/sticky_cookie.h"

#include "wsteer_abi.h"

#include <cmath>
#include <stdexcept>

namespace wsteer::steering {

std::vector<std::string> parse_hash_key_list(std::string_view comma_list) {
  std::vector<std::string> sources;
  while (true) {
    const auto comma = comma_list.find(',');
    if (const auto item = trim_ows(comma_list.substr(0, comma)); !item.empty())
      sources.push_back(parse_key_source(item).label);
    if (comma == std::string_view::npos) break;
    comma_list.remove_prefix(comma + 1);
  }
  if (sources.empty()) throw std::invalid_argument("hash key list is empty (e.g. --hash-key sec-websocket-key)");
  return sources;
}

void validate_steering_config(const SteeringConfig& config) {
  KeyPolicy{config.hash_key};  // throws on an empty list or a bad source
  if (!is_prime(config.maglev_size) || config.maglev_size > WSTEER_MAGLEV_MAX_SIZE)
    throw std::invalid_argument("maglev-size " + std::to_string(config.maglev_size) + " must be a prime <= " +
                                std::to_string(WSTEER_MAGLEV_MAX_SIZE) + " (e.g. 65537; keep it above 100 x backends)");
  // Below 1 the caps would add up to fewer connections than there are, and some connection
  // would find every backend over its cap.
  if (!std::isfinite(config.balance_factor) || config.balance_factor < 0 ||
      (config.balance_factor > 0 && config.balance_factor < 1))
    throw std::invalid_argument("balance-factor " + std::to_string(config.balance_factor) +
                                " must be 0 (bounded load off) or at least 1 (e.g. 1.25)");
  validate_cookie_config(config.cookie);
}

std::unique_ptr<Steering> make_steering(const SteeringConfig& config, std::shared_ptr<BackendIdPool> ids) {
  MaglevSteeringOptions options;
  options.ids = std::move(ids);
  return std::make_unique<MaglevSteering>(config, std::move(options));
}

}  // namespace wsteer::steering
