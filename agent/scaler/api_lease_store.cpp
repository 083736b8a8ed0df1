#include "scaler/api_lease_store.h"

#include <boost/json/value.hpp>

namespace wsteer::scaler {
namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;

ApiLeaseStore::ApiLeaseStore(std::shared_ptr<k8s::ApiClient> client, std::string ns, std::string name,
                             std::chrono::milliseconds timeout)
    : client_(std::move(client)), ns_(std::move(ns)), name_(std::move(name)), timeout_(timeout) {}

asio::awaitable<std::optional<StoredLease>> ApiLeaseStore::get() {
  json::object lease;
  try {
    lease = co_await client_->get(lease_path(ns_, name_), timeout_);
  } catch (const k8s::ApiError& e) {
    if (e.reason() != k8s::ApiErrorReason::not_found) throw;
    co_return std::nullopt;
  }
  StoredLease stored;
  if (const auto* meta = lease.if_contains("metadata"); meta && meta->is_object())
    if (const auto* rv = meta->get_object().if_contains("resourceVersion"); rv && rv->is_string())
      stored.resource_version = rv->get_string();
  stored.object = std::move(lease);
  co_return stored;
}

asio::awaitable<WriteOutcome> ApiLeaseStore::create(json::object lease) {
  try {
    co_await client_->send(verb::post, leases_path(ns_), std::move(lease), "application/json", timeout_);
  } catch (const k8s::ApiError& e) {
    if (e.reason() != k8s::ApiErrorReason::conflict) throw;
    co_return WriteOutcome::conflict;  // another candidate created it first
  }
  co_return WriteOutcome::ok;
}

asio::awaitable<WriteOutcome> ApiLeaseStore::update(json::object lease, std::string resource_version) {
  // The resourceVersion read makes the PUT conditional: of two writers only one succeeds.
  lease["metadata"].as_object()["resourceVersion"] = resource_version;
  try {
    co_await client_->send(verb::put, lease_path(ns_, name_), std::move(lease), "application/json", timeout_);
  } catch (const k8s::ApiError& e) {
    if (e.reason() != k8s::ApiErrorReason::conflict) throw;
    co_return WriteOutcome::conflict;
  }
  co_return WriteOutcome::ok;
}

}  // namespace wsteer::scaler
