// The one error type of the Kubernetes client: what went wrong, in a word a metric can carry
// (wsteer_k8s_errors_total{reason}) and a sentence a human can act on.
#pragma once

#include <stdexcept>
#include <string>

namespace wsteer::k8s {

enum class ApiErrorReason {
  connect,       // resolve or TCP connect failed, or the connection dropped
  tls,           // handshake failed: wrong CA, bad certificate, protocol
  timeout,       // a request or watch read deadline passed
  unauthorized,  // 401: token expired, rotated or wrong
  forbidden,     // 403: RBAC
  not_found,     // 404
  gone,          // 410 (HTTP, or an ERROR watch event with code 410): resourceVersion too old
  conflict,      // 409: a write lost to a concurrent one (stale resourceVersion) or the object exists
  server,        // 429, 5xx, or any other unexpected status
  decode,        // a body or watch line that is not the JSON we expect
};

// "connect", "tls", ... (the metric label value).
const char* to_string(ApiErrorReason reason);

class ApiError : public std::runtime_error {
 public:
  ApiError(ApiErrorReason reason, const std::string& message, int http_status = 0)
      : std::runtime_error(message), reason_(reason), http_status_(http_status) {}
  ApiErrorReason reason() const { return reason_; }
  int http_status() const { return http_status_; }  // 0 when none

 private:
  ApiErrorReason reason_;
  int http_status_;
};

}  // namespace wsteer::k8s
