#include "steering/request_cookies.h"

#include "steering/http_syntax.h"

namespace wsteer::steering {

std::optional<std::string_view> find_request_cookie(const Request& request, std::string_view name) {
  // Clients should send one Cookie header, but proxies that split them are common enough.
  for (auto [it, end] = request.equal_range(boost::beast::http::field::cookie); it != end; ++it) {
    std::string_view rest = it->value();
    while (!rest.empty()) {
      const auto semicolon = rest.find(';');
      const auto pair = trim_ows(rest.substr(0, semicolon));
      rest = semicolon == std::string_view::npos ? std::string_view{} : rest.substr(semicolon + 1);
      const auto equals = pair.find('=');
      if (equals == std::string_view::npos || trim_ows(pair.substr(0, equals)) != name) continue;
      auto value = trim_ows(pair.substr(equals + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace wsteer::steering
