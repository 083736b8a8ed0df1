// A small Kubernetes API client on Boost.Beast + OpenSSL + Boost.JSON: GET a resource or a list,
// and follow a watch stream event by event. Coroutines on the caller's executor, one TLS
// connection per request (a watch keeps its own for as long as it lasts). The bearer token is
// read again before every request, so a rotated service-account token is picked up.
#pragma once

#include "k8s/api_error.h"
#include "k8s/cluster_config.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace wsteer::k8s {

class ApiClient {
 public:
  // Builds the TLS context (verify the server against config.ca_pem, host name checked, client
  // certificate when configured). Throws ApiError{tls} when the CA or key material is unusable.
  explicit ApiClient(ClusterConfig config);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  const ClusterConfig& config() const { return config_; }

  // GET `target` ("/apis/discovery.k8s.io/v1/namespaces/NS/endpointslices?labelSelector=...").
  // Returns the parsed body of a 200. Any other outcome throws ApiError with the reason, the
  // HTTP status and a message quoting the server's Status.message when it sent one.
  // The whole request (connect, TLS, write, read) must finish within `timeout`.
  boost::asio::awaitable<boost::json::object> get(std::string target, std::chrono::milliseconds timeout);

  // A write: POST (create), PUT (update) or PATCH of `target` with a JSON body sent as
  // `content_type` ("application/json", "application/merge-patch+json"). Returns the parsed body
  // of a 200 or 201; anything else throws ApiError as get() does (a 409 has reason conflict, so a
  // write that lost to a concurrent one can be told apart).
  boost::asio::awaitable<boost::json::object> send(boost::beast::http::verb verb, std::string target,
                                                   boost::json::object body, std::string content_type,
                                                   std::chrono::milliseconds timeout);

  // GET `target` with watch=true already in it; calls on_event(event) for every complete line of
  // the stream ({"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": {...}}), in order, on
  // the caller's executor. Returns when the server ends the stream cleanly (timeoutSeconds
  // passed). Throws ApiError when the response is not 200, when no byte arrives for `idle`,
  // when the connection drops (a half-received line is discarded, never delivered) or a line is
  // not JSON. An exception thrown by on_event ends the watch and propagates unchanged.
  boost::asio::awaitable<void> watch(std::string target, std::chrono::milliseconds idle,
                                     std::function<void(const boost::json::object& event)> on_event);

 private:
  struct Impl;
  ClusterConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wsteer::k8s
