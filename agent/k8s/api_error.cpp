#include "k8s/api_error.h"
#include "k8s/status_error.h"

#include <boost/json/parse.hpp>

namespace wsteer::k8s {

const char* to_string(ApiErrorReason reason) {
  switch (reason) {
    case ApiErrorReason::connect: return "connect";
    case ApiErrorReason::tls: return "tls";
    case ApiErrorReason::timeout: return "timeout";
    case ApiErrorReason::unauthorized: return "unauthorized";
    case ApiErrorReason::forbidden: return "forbidden";
    case ApiErrorReason::not_found: return "not_found";
    case ApiErrorReason::gone: return "gone";
    case ApiErrorReason::conflict: return "conflict";
    case ApiErrorReason::server: return "server";
    case ApiErrorReason::decode: return "decode";
  }
  return "unknown";
}

ApiErrorReason reason_for_status(int status) {
  switch (status) {
    case 401: return ApiErrorReason::unauthorized;
    case 403: return ApiErrorReason::forbidden;
    case 404: return ApiErrorReason::not_found;
    case 409: return ApiErrorReason::conflict;
    case 410: return ApiErrorReason::gone;
    default: return ApiErrorReason::server;  // 429, 5xx and anything else we did not ask for
  }
}

std::string status_message(std::string_view body) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return "";
  const auto& obj = value.get_object();
  const auto* kind = obj.if_contains("kind");
  const auto* message = obj.if_contains("message");
  if (!kind || !kind->is_string() || kind->get_string() != "Status" || !message || !message->is_string()) return "";
  return std::string(message->get_string());
}

ApiError error_from_response(int status, std::string_view reason_phrase, std::string_view body, const std::string& what) {
  std::string message = what + ": HTTP " + std::to_string(status);
  if (!reason_phrase.empty()) message += " " + std::string(reason_phrase);
  if (const auto server_says = status_message(body); !server_says.empty()) message += ": " + server_says;
  return ApiError(reason_for_status(status), message, status);
}

}  // namespace wsteer::k8s
