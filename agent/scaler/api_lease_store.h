// The election's LeaseStore on the Kubernetes API: GET, POST and PUT of one
// coordination.k8s.io/v1 Lease. A 404 is "absent", a 409 (a concurrent write, or a create that
// lost to another candidate) is a conflict; every other failure throws k8s::ApiError.
#pragma once

#include "k8s/api_client.h"
#include "scaler/lease_election.h"

#include <chrono>
#include <memory>
#include <string>

namespace wsteer::scaler {

class ApiLeaseStore : public LeaseStore {
 public:
  ApiLeaseStore(std::shared_ptr<k8s::ApiClient> client, std::string ns, std::string name,
                std::chrono::milliseconds timeout);

  boost::asio::awaitable<std::optional<StoredLease>> get() override;
  boost::asio::awaitable<WriteOutcome> create(boost::json::object lease) override;
  boost::asio::awaitable<WriteOutcome> update(boost::json::object lease, std::string resource_version) override;

 private:
  std::shared_ptr<k8s::ApiClient> client_;
  std::string ns_, name_;
  std::chrono::milliseconds timeout_;
};

}  // namespace wsteer::scaler
