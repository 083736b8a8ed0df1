// Two bits of RFC 9110 syntax shared by the key policy and the cookie code.
#pragma once

#include <algorithm>
#include <string_view>

namespace wsteer::steering {

// token: what header names and cookie names are made of.
inline bool is_http_token(std::string_view s) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

// Strips optional whitespace (spaces and tabs) from both ends.
inline std::string_view trim_ows(std::string_view s) {
  constexpr std::string_view kSpace = " \t";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

}  // namespace wsteer::steering
