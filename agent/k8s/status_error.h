// Private to the k8s client: turning a non-200 response into an ApiError.
#pragma once

#include "k8s/api_error.h"

#include <string>
#include <string_view>

namespace wsteer::k8s {

// 401 unauthorized, 403 forbidden, 404 not_found, 409 conflict, 410 gone, anything else server.
ApiErrorReason reason_for_status(int status);

// The `message` of a Kubernetes Status body ({"kind":"Status",...,"message":"..."}), or "" when the
// body is not one.
std::string status_message(std::string_view body);

// "<what>: HTTP 403 Forbidden: <Status.message>", with the reason and the status.
ApiError error_from_response(int status, std::string_view reason_phrase, std::string_view body, const std::string& what);

}  // namespace wsteer::k8s
